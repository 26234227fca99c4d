"""Hostile but realistic data (issue 16): every data problem is one line naming its clip, machine
or folder, or a warning naming it while the rest runs; short clips are tiled; unreadable test clips
under --skip-unreadable are scored as missing so the printed metrics are the evaluator's."""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from asdlab.backends.posterior import ClassPosteriorScorer
from asdlab.core.errors import AudioError, DataError
from asdlab.data import build_clip_table
from asdlab.data.audio import read_audio, read_many
from asdlab.metrics.submission import evaluate
from asdlab.methods.pipeline import RunContext, log_mels, waveforms
from asdlab.runs import load_run, run_method


def _dev(root: Path, machine: str = "fan") -> Path:
    return root / "dev_data" / "raw" / machine


def test_an_unknown_class_in_a_section_without_training_classes_names_the_clip():
    centers = np.eye(2, dtype=np.float32)
    train = pd.DataFrame({"file": ["a.wav"], "machine": "fan", "section": "00", "class_index": [0]})
    test = pd.DataFrame({"file": ["section_01_x.wav"], "machine": "fan", "section": "01", "class_index": [-1]})
    scorer = ClassPosteriorScorer(centers=centers).fit(np.ones((1, 2), np.float32), train)
    with pytest.raises(DataError, match=r"section_01_x\.wav.*machine 'fan' section 01"):
        scorer.score(np.ones((1, 2), np.float32), test)


@pytest.mark.parametrize("backend", ["kmeans", "logsoftmax"])
def test_a_class_seen_only_at_test_time_is_scored(tmp_path, make_dcase_tree, backend):
    data = make_dcase_tree(tmp_path / "d", machines={"ToyCar": "car_A1_spd_7"}, seconds=1.0, n_train=3, n_test=1)
    test = _dev(data, "ToyCar") / "test"
    one = sorted(test.glob("*anomaly*"))[0]
    one.rename(test / one.name.replace("car_A1_spd_7", "car_A2_spd_9"))  # attributes never trained on
    out = run_method("tastgram_ce", data, tmp_path / backend, preset="smoke",
                     overrides={"epochs": 1, "backend": backend, "n_clusters": 2}, progress=False,
                     cache_dir=tmp_path / "c")
    scores = load_run(out)["scores"]
    assert len(scores) == 4 and np.isfinite(scores["score"]).all()
    assert scores["file"].str.contains("car_A2_spd_9").sum() == 1


def test_a_clip_shorter_than_the_autoencoders_five_frames_is_tiled(tmp_path, make_dcase_tree, write_wav):
    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=1.0, n_train=3, n_test=1)
    short = sorted((_dev(data) / "test").glob("*anomaly*"))[0]
    write_wav(short, 4 * 512 / 16000 - 0.01)  # 4 frames at hop 512
    out = run_method("ae_mse", data, tmp_path / "r", preset="smoke", overrides={"epochs": 1},
                     progress=False, cache_dir=tmp_path / "c")
    scores = load_run(out)["scores"]
    assert np.isfinite(scores.loc[scores["file"] == short.name, "score"]).all()


def test_an_unreadable_file_is_one_line_naming_it_and_skipped_on_request(tmp_path, write_wav, monkeypatch):
    good, bad = write_wav(tmp_path / "good.wav", 0.1), write_wav(tmp_path / "bad.wav", 0.1, seed=1)
    real_open = open

    def deny(file, *args, **kwargs):  # the suite runs as root, where chmod 000 blocks nothing
        if str(file) == str(bad):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(AudioError, match=r"bad\.wav: cannot read the file \(Permission denied\)"):
        read_audio(bad)
    with pytest.warns(UserWarning, match="bad.wav"):
        waves, skipped = read_many([good, bad], skip_unreadable=True)
    assert len(waves) == 1 and [Path(p).name for p, _ in skipped] == ["bad.wav"]


def test_an_unreadable_folder_is_one_line_naming_it(tmp_path, make_dcase_tree, monkeypatch):
    data = make_dcase_tree(tmp_path / "d", seconds=0.05)
    locked = _dev(data) / "test"
    real_iterdir = Path.iterdir

    def deny(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", deny)
    with pytest.raises(DataError, match=r"fan/test: cannot list the folder \(Permission denied\)"):
        build_clip_table(data)


def test_dangling_and_looping_links_named_like_clips_are_named_and_left_out(tmp_path, make_dcase_tree):
    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=0.05)
    test = _dev(data) / "test"
    n = len(build_clip_table(data))
    os.symlink(test / "gone.wav", test / "section_00_source_test_normal_0098_noAttribute.wav")
    os.symlink(test / "section_00_source_test_normal_0099_noAttribute.wav",
               test / "section_00_source_test_normal_0099_noAttribute.wav")
    with pytest.warns(UserWarning) as record:
        table = build_clip_table(data)
    text = "\n".join(str(w.message) for w in record)
    assert "normal_0098_noAttribute.wav: broken symbolic link" in text
    assert "normal_0099_noAttribute.wav: symbolic link loop" in text
    assert len(table) == n


def test_a_silent_training_clip_is_named_in_a_warning(tmp_path, make_dcase_tree):
    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=0.2)
    silent = sorted((_dev(data) / "train").glob("*.wav"))[0]
    sf.write(silent, np.zeros(3200), 16000, subtype="PCM_16")
    table = build_clip_table(data)
    ctx = RunContext(table=table, params={"n_fft": 1024, "hop": 512, "n_mels": 32}, seed=0,
                     workdir=tmp_path / "w", cache_dir=tmp_path / "c", device="cpu")
    for load in (log_mels, waveforms):
        with pytest.warns(UserWarning, match=rf"silent \(all-zero\) training clip.*{silent.name}"):
            load(table, ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_mels(table[table["split"] == "test"], ctx)  # a silent test clip would be no news


def test_skipped_test_clips_are_scored_as_missing_and_the_evaluator_agrees(tmp_path, make_dcase_tree):
    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=0.5, n_train=3, n_test=2)
    bad = sorted((_dev(data) / "test").glob("*target_test_anomaly*"))[0]
    bad.write_bytes(b"not audio at all")
    with pytest.warns(UserWarning, match=rf"scored as missing.*{bad.name}"):
        out = run_method("raw_spec", data, tmp_path / "r", preset="smoke", progress=False,
                         skip_unreadable=True, cache_dir=tmp_path / "c")
    run = load_run(out)
    row = run["scores"][run["scores"]["file"] == bad.name]
    assert len(row) == 1 and row["score"].iloc[0] == run["scores"]["score"].min() and row["decision"].iloc[0] == 0
    assert bad.name in pd.read_csv(out / "skipped.csv")["path"].iloc[0]
    _, _, official = evaluate(out / "submission", data_root=data)
    assert official == pytest.approx(run["summary"]["official_score"], abs=1e-12)
    assert run["summary"]["n_test_clips"] == 8
