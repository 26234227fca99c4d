import os

import numpy as np
import soundfile as sf

from asdlab.features.cache import FeatureCache
from asdlab.features import LogMelParams, log_mel


def _wav(path, seed):
    x = 0.1 * np.random.default_rng(seed).standard_normal(8000)
    sf.write(path, x, 16000, subtype="PCM_16")
    return path


def _reader(calls):
    def read(paths):
        calls.extend(paths)
        return [sf.read(p, dtype="float32")[0] for p in paths], []
    return read


def test_second_pass_extracts_nothing(tmp_path):
    paths = [_wav(tmp_path / f"{i}.wav", i) for i in range(3)]
    calls = []
    cache = FeatureCache(tmp_path / "cache")
    first, _ = cache.get_many(paths, _reader(calls))
    assert len(calls) == 3 and cache.misses == 3
    again = FeatureCache(tmp_path / "cache")
    second, _ = again.get_many(paths, _reader(calls))
    assert len(calls) == 3 and again.hits == 3 and again.misses == 0
    for a, b, p in zip(first, second, paths):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, log_mel(sf.read(p, dtype="float32")[0]).numpy(), atol=1e-5)
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_changed_file_or_params_miss(tmp_path):
    p = _wav(tmp_path / "a.wav", 0)
    calls = []
    FeatureCache(tmp_path / "c").get_many([p], _reader(calls))
    _wav(p, 1)
    os.utime(p, ns=(1, 1))  # a different mtime, whatever the clock resolution
    FeatureCache(tmp_path / "c").get_many([p], _reader(calls))
    FeatureCache(tmp_path / "c", LogMelParams(n_mels=64)).get_many([p], _reader(calls))
    assert len(calls) == 3


def test_skipped_files_get_none_and_are_reported(tmp_path):
    good, bad = _wav(tmp_path / "g.wav", 0), tmp_path / "bad.wav"
    bad.write_text("not audio")

    def read(paths):
        ok = [p for p in paths if p != bad]
        return [sf.read(p, dtype="float32")[0] for p in ok], [(bad, "not audio")]

    feats, skipped = FeatureCache(tmp_path / "c").get_many([bad, good], read)
    assert feats[0] is None and feats[1].shape == (128, 16)
    assert skipped == [(bad, "not audio")]
