"""raw_spec: the time-averaged log-mel of each clip, scored by a back end, nothing trained."""

from __future__ import annotations

import numpy as np
import pytest

from asdlab.artifacts.embeddings import load_embeddings
from asdlab.data import read_audio
from asdlab.features import LogMelParams, log_mel
from asdlab.methods import get_method
from asdlab.methods.raw_spec import time_average
from asdlab.runs import load_run, run_method


def test_time_average_is_the_mean_over_frames():
    mel = np.array([[1.0, 2.0, 6.0], [0.0, -3.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(time_average(mel), [3.0, 0.0])
    assert time_average(mel).dtype == np.float64
    np.testing.assert_array_equal(time_average(np.array([[4.0], [5.0]])), [4.0, 5.0])


def test_a_run_on_real_layout_embeds_each_clip_by_its_mean_log_mel(tmp_path, make_dcase_tree):
    data = make_dcase_tree(tmp_path / "data", seconds=0.5, n_train=4)
    out = run_method("raw_spec", data, tmp_path / "run", preset="smoke", cache_dir=tmp_path / "cache", progress=False)
    emb = load_embeddings(out)
    row = emb["meta"].iloc[0]
    wav = next((data / "dev_data" / "raw" / row["machine"]).rglob(row["file"]))
    expected = log_mel(read_audio(wav), LogMelParams(n_fft=1024, hop=512, n_mels=128)).numpy().mean(axis=1)
    np.testing.assert_allclose(emb["embeddings"][0], expected, rtol=1e-5, atol=1e-4)
    assert emb["embeddings"].shape == (len(emb["meta"]), 128) and emb["centers"] is None
    run = load_run(out)
    assert run["config"]["params"]["backend"] == "kmeans"
    assert get_method("raw_spec").default_backend(run["config"]["params"], 0) == ("kmeans", {"seed": 0})


def test_the_back_end_is_a_parameter_checked_before_any_work(tmp_path, make_dcase_tree):
    from asdlab.core.errors import ConfigError

    data = make_dcase_tree(tmp_path / "data", seconds=0.2)
    with pytest.raises(ConfigError, match="parameter backend='class_posterior': expected one of 'kmeans'"):
        run_method("raw_spec", data, tmp_path / "run", preset="smoke", overrides={"backend": "class_posterior"})
    assert not (tmp_path / "run.partial").exists()
