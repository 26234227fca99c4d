"""Caches and run folders that check themselves (issue 16): a damaged feature-cache entry is
recomputed with a warning naming the clip; a finished run folder carries a manifest of its files
(size, sha256) that every reader verifies; the AE model cache is keyed on the torch thread count."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import shutil
import struct
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_dcase_tree

from asdlab.cli import main
from asdlab.core.errors import AsdlabError, DataError
from asdlab.features import log_mel
from asdlab.features.cache import FeatureCache, load_matrix
from asdlab.runs import load_run, rescore, run_method


# ---------------------------------------------------------------------------------------------
# feature cache

def _wav(path, seed):
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(8000), 16000, subtype="PCM_16")
    return path


def _read(paths):
    return [sf.read(p, dtype="float32")[0] for p in paths], []


@pytest.fixture
def cached(tmp_path):
    """Two clips whose features are in a fresh cache: ``(cache, clips, features, entry of clip 0)``."""
    clips = [_wav(tmp_path / f"clip{i}.wav", i) for i in range(2)]
    cache = FeatureCache(tmp_path / "cache")
    feats, _ = cache.get_many(clips, _read)
    (entry,) = [f for f in (tmp_path / "cache").rglob("*.f32") if np.array_equal(load_matrix(f), feats[0])]
    return tmp_path / "cache", clips, feats, entry


def _cut(entry, size):
    data = entry.read_bytes()
    entry.write_bytes(data[:size])


def _alter(entry):  # same size, other values: the last float becomes 1.0
    data = bytearray(entry.read_bytes())
    data[-4:] = struct.pack("<f", 1.0)
    entry.write_bytes(bytes(data))


def _nan(entry):
    data = bytearray(entry.read_bytes())
    data[-4:] = struct.pack("<f", float("nan"))
    entry.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,why", [(lambda e: _cut(e, 0), "shorter than the"),
                                        (lambda e: _cut(e, e.stat().st_size // 2), "payload bytes"),
                                        (_alter, "checksum mismatch"),
                                        (_nan, "checksum mismatch")])
def test_a_damaged_entry_is_recomputed_with_a_warning_naming_the_clip(cached, damage, why):
    root, clips, feats, entry = cached
    damage(entry)
    again = FeatureCache(root)
    with pytest.warns(UserWarning) as caught:
        out, _ = again.get_many(clips, _read)
    (w,) = [str(w.message) for w in caught]
    assert w.startswith(f"{clips[0]}: damaged feature-cache entry, recomputing it") and why in w
    assert again.hits == 1 and again.misses == 1
    for a, b in zip(out, feats):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(load_matrix(entry), feats[0])  # rewritten whole
    assert not list(root.rglob("*.tmp"))


def test_a_nan_entry_with_a_valid_checksum_is_refused_too(cached):
    """Finiteness is checked apart from the digest (an entry written by a buggy writer)."""
    root, clips, feats, entry = cached
    bad = feats[0].copy()
    bad[0, 0] = np.nan
    from asdlab.features.cache import save_matrix

    save_matrix(entry, bad)
    with pytest.warns(UserWarning, match="holds NaN or infinite values"):
        out, _ = FeatureCache(root).get_many(clips, _read)
    assert np.isfinite(out[0]).all()


def test_an_entry_of_the_old_format_without_checksum_is_recomputed_silently(cached):
    root, clips, feats, entry = cached
    rows, cols = feats[0].shape
    entry.write_bytes(struct.pack("<4sII", b"AF32", rows, cols) + np.zeros((rows, cols), np.float32).tobytes())
    cache = FeatureCache(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = cache.get_many(clips, _read)
    assert cache.misses == 1
    np.testing.assert_array_equal(out[0], feats[0])
    assert entry.read_bytes()[:4] == b"AFC1"


def test_the_entry_format_is_header_digest_payload(cached):
    _, _, feats, entry = cached
    data = entry.read_bytes()
    magic, rows, cols, digest = struct.unpack("<4sII16s", data[:28])
    assert (magic, rows, cols) == (b"AFC1", *feats[0].shape)
    assert digest == hashlib.blake2b(data[28:], digest_size=16).digest()
    assert data[28:] == feats[0].astype("<f4").tobytes()


def test_a_freshly_computed_non_finite_feature_is_one_line_naming_the_clip(tmp_path, monkeypatch):
    clips = [_wav(tmp_path / f"clip{i}.wav", i) for i in range(2)]

    def log_mel_many(waves, params, device="cpu"):
        out = [log_mel(w).numpy() for w in waves]
        out[1][3, 3] = np.inf
        return out

    monkeypatch.setattr("asdlab.features.cache.log_mel_many", log_mel_many)
    with pytest.raises(DataError) as err:
        FeatureCache(tmp_path / "cache").get_many(clips, _read)
    assert str(err.value).startswith(f"{clips[1]}: its log-mel features hold NaN or infinite values")
    assert "\n" not in str(err.value)
    assert len(list((tmp_path / "cache").rglob("*.f32"))) == 1  # the good clip only


# ---------------------------------------------------------------------------------------------
# run folders

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished ``ae_mse`` smoke run on a tiny tree: ``(data, run folder, cache)``."""
    root = tmp_path_factory.mktemp("integrity")
    data = make_dcase_tree(root / "data", machines={"fan": ""}, seconds=1.0, n_train=3, n_test=1)
    out = run_method("ae_mse", data, root / "run", preset="smoke", cache_dir=root / "cache",
                     progress=False, device="cpu")
    return data, out, root / "cache"


@pytest.fixture
def run_copy(finished, tmp_path):
    data, out, cache = finished
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    return data, copy, cache, out


def _run(data, out, cache, **kw):
    return run_method("ae_mse", data, out, preset="smoke", cache_dir=cache, progress=False, device="cpu", **kw)


def test_a_finished_run_has_a_manifest_of_every_file(finished):
    _, out, _ = finished
    manifest = json.loads((out / "manifest.json").read_text())
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(manifest["files"]) == files
    assert {"config.json", "scores.csv", "submission/anomaly_score_fan_section_00_test.csv"} <= set(files)
    scores = (out / "scores.csv").read_bytes()
    assert manifest["files"]["scores.csv"] == {"size": len(scores), "sha256": hashlib.sha256(scores).hexdigest()}


@pytest.mark.parametrize("content", [b"", b"garbage,\x00\x01\n"])
def test_load_run_of_a_damaged_run_is_one_line_naming_the_file(run_copy, content):
    _, copy, _, out = run_copy
    (copy / "scores.csv").write_bytes(content)
    with pytest.raises(AsdlabError) as err:
        load_run(copy)
    msg = str(err.value)
    assert msg.startswith(f"{copy / 'scores.csv'}: ") and "manifest.json" in msg and "\n" not in msg


def test_a_same_size_change_is_caught(run_copy):
    _, copy, _, _ = run_copy
    text = (copy / "summary.json").read_text()
    (copy / "summary.json").write_text(text.replace('"n_skipped": 0', '"n_skipped": 7'))
    with pytest.raises(AsdlabError, match=r"summary.json: content changed \(sha256 differs, same size"):
        load_run(copy)


def test_a_run_verified_once_is_not_hashed_again_until_a_file_changes(run_copy, monkeypatch):
    import asdlab.core.manifest as manifest

    _, copy, _, _ = run_copy
    hashed = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    for f in copy.rglob("*"):  # a run finished a while ago (a file written within 0.1 s of a check is re-hashed)
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns - 10**10))
    load_run(copy)
    n_files = len(json.loads((copy / "manifest.json").read_text())["files"])
    assert len(hashed) == n_files
    load_run(copy)
    load_run(copy)
    assert len(hashed) == n_files  # the second and third load trust the unchanged stat signature
    text = (copy / "summary.json").read_text()  # a same-size change after the first check
    (copy / "summary.json").write_text(text.replace('"n_skipped": 0', '"n_skipped": 7'))
    with pytest.raises(AsdlabError, match=r"summary.json: content changed"):
        load_run(copy)


def test_run_method_retrains_a_damaged_run_into_a_fresh_partial(run_copy):
    data, copy, cache, out = run_copy
    (copy / "scores.csv").write_bytes(b"")
    (copy.with_name("run.partial")).mkdir()
    (copy.with_name("run.partial") / "stray.txt").write_text("left by an earlier crash")
    with pytest.warns(UserWarning, match=r"scores.csv: 0 bytes, the manifest says \d+.*retraining it"):
        _run(data, copy, cache)
    for f in ("scores.csv", "metrics.csv", "submission/anomaly_score_fan_section_00_test.csv"):
        assert (copy / f).read_bytes() == (out / f).read_bytes(), f
    assert not (copy / "stray.txt").exists() and not copy.with_name("run.partial").exists()
    assert load_run(copy)["summary"] == load_run(out)["summary"]


def test_a_damaged_config_is_one_line_and_nothing_is_replaced(run_copy):
    data, copy, cache, _ = run_copy
    (copy / "config.json").write_text("{not json")
    with pytest.raises(AsdlabError, match=r"config.json: not valid JSON"):
        _run(data, copy, cache)
    assert (copy / "config.json").read_text() == "{not json"


def test_a_run_made_before_manifests_is_reused_as_today(run_copy):
    data, copy, cache, _ = run_copy
    (copy / "manifest.json").unlink()
    before = (copy / "scores.csv").stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(data, copy, cache)
        load_run(copy)
    assert (copy / "scores.csv").stat().st_mtime_ns == before and not (copy / "manifest.json").exists()
    (copy / "scores.csv").write_bytes(b"")  # unreadable: still one line, naming the file
    with pytest.raises(AsdlabError, match=r"scores.csv: cannot be read as a CSV table"):
        load_run(copy)


def test_recomputed_metrics_of_another_protocol_keep_the_manifest_valid(run_copy):
    data, copy, cache, _ = run_copy
    _run(data, copy, cache, protocol="dcase2020")
    assert load_run(copy)["summary"]["protocol"] == "dcase2020"


def test_rescore_and_evaluate_refuse_a_damaged_run(run_copy, tmp_path, capsys):
    data, copy, _, _ = run_copy
    (copy / "residuals.npz").write_bytes(b"x")
    with pytest.raises(AsdlabError, match=r"residuals.npz: 1 bytes, the manifest says"):
        rescore(copy, "mse", tmp_path / "again")
    assert not (tmp_path / "again").exists()
    sub = copy / "submission" / "anomaly_score_fan_section_00_test.csv"
    sub.write_text(sub.read_text().replace("1", "2", 1))
    assert main(["evaluate", str(copy / "submission"), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{sub}: content changed" in err[0]


def test_a_damaged_rescored_run_is_made_again_and_a_sound_one_reused(run_copy, tmp_path):
    _, copy, _, _ = run_copy
    out = rescore(copy, "mse", tmp_path / "again")
    assert (out / "manifest.json").is_file()
    good = (out / "scores.csv").read_bytes()
    before = (out / "manifest.json").stat().st_mtime_ns
    rescore(copy, "mse", out)                                   # sound: reused as it is
    assert (out / "manifest.json").stat().st_mtime_ns == before
    (out / "scores.csv").write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match=r"scores.csv: \d+ bytes, the manifest says \d+.*; re-scoring it"):
        rescore(copy, "mse", out)
    assert (out / "scores.csv").read_bytes() == good


# ---------------------------------------------------------------------------------------------
# AE model cache key

def test_the_ae_model_cache_is_keyed_on_the_torch_thread_count(finished, tmp_path):
    data, out, _ = finished
    cache = tmp_path / "cache"
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        _run(data, tmp_path / "one", cache)
        _run(data, tmp_path / "one-again", cache)
        assert len(list((cache / "models" / "ae").glob("*.pt"))) == 1   # same threads: reused
        torch.set_num_threads(2)
        _run(data, tmp_path / "two", cache)
    finally:
        torch.set_num_threads(n)
    assert len(list((cache / "models" / "ae").glob("*.pt"))) == 2       # other threads: own model
