"""What every registered method promises, on one small factory dataset: a score row with the
official columns for every test clip (and every training clip), the same scores for the same
seed, a bad parameter refused before any work, embeddings of every clip in the run folder, and
a complete re-scoring by every applicable back end.

The smoke preset with the overrides of :data:`FAST` keeps each run to about a second.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import ConfigError
from asdlab.data import build_clip_table
from asdlab.methods import SCORE_COLUMNS, get_method, list_methods
from asdlab.runs import load_run, run_method

NAMES = [m.name for m in list_methods()]
MACHINES = ["fan", "gearbox"]  # fan has attributes, gearbox hides them (guided_clustering needs both)
FAST = {
    "ae_mse": {"epochs": 1},
    "ae_mahala": {"epochs": 1},
    "sc_adacos": {"epochs": 1},
    "sc_noisy_arcmix": {"epochs": 1, "n_clusters": 2},
    "contrastive_ae_cnn": {"epochs": 1},
    "guided_clustering": {"pretrain_rounds": 1, "finetune_epochs": 1, "baseline": False,
                          "scorer_overrides": {"epochs": 1}},
    "raw_spec": {},  # nothing to train
}
"""Per-method smoke overrides that keep a run short (default: ``{"epochs": 1}``)."""


def fast(name: str) -> dict:
    return FAST.get(name, {"epochs": 1})


def _run(name, data, out, cache):
    return run_method(name, data, out, preset="smoke", seed=0, overrides=fast(name), cache_dir=cache,
                      progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from asdlab.data.synth import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("factory") / "smoke", "smoke", machines=MACHINES,
                            progress=False)


@pytest.fixture(scope="module")
def clips(data):
    return build_clip_table(data)


@pytest.fixture(scope="module", params=NAMES)
def run(request, data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    return request.param, _run(request.param, data, tmp / "run", tmp / "cache")


def _keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(frame["machine"], frame["file"]))


def test_every_fast_override_names_a_registered_method():
    assert set(FAST) <= set(NAMES)
    for name in NAMES:
        get_method(name).params("smoke", fast(name))


def test_scores_have_the_official_columns_for_every_clip(run, clips):
    name, out = run
    result = load_run(out)
    for split, frame in (("test", result["scores"]), ("train", result["train_scores"])):
        assert list(frame.columns) == SCORE_COLUMNS, f"{name} {split}"
        expected = clips[clips["split"] == split]
        assert _keys(frame) == _keys(expected), f"{name}: {split} scores are not one row per {split} clip"
        assert np.isfinite(frame["score"]).all(), f"{name}: non-finite {split} scores"
        assert set(frame["decision"]) <= {0, 1}, f"{name}: {split} decisions"
        truth = expected.set_index(["machine", "file"])[["section", "domain", "label"]]
        got = frame.set_index(["machine", "file"])[["section", "domain", "label"]].loc[truth.index]
        pd.testing.assert_frame_equal(got.astype(str), truth.astype(str), obj=f"{name} {split} metadata")
    assert 0 <= result["summary"]["official_score"] <= 1


def test_same_seed_same_scores(run, data, tmp_path):
    name, out = run
    again = _run(name, data, tmp_path / "again", tmp_path / "cache")  # own cache: nothing reused
    for file in ("scores.csv", "train_scores.csv"):
        a, b = pd.read_csv(out / file), pd.read_csv(again / file)
        np.testing.assert_array_equal(a["score"], b["score"], err_msg=f"{name} {file}")
        np.testing.assert_array_equal(a["decision"], b["decision"], err_msg=f"{name} {file}")


def test_embeddings_cover_every_train_and_test_clip(run, clips):
    name, out = run
    emb = load_embeddings(out)
    meta, vectors = emb["meta"], emb["embeddings"]
    assert vectors.ndim == 2 and len(vectors) == len(meta) == len(clips), name
    assert np.isfinite(vectors).all(), name
    assert _keys(meta) == _keys(clips), f"{name}: embeddings.csv is not one row per clip"
    truth = clips.set_index(["machine", "file"])[["split", "domain", "label"]]
    got = meta.set_index(["machine", "file"])[["split", "domain", "label"]].loc[truth.index]
    pd.testing.assert_frame_equal(got.astype(str), truth.astype(str), obj=f"{name} embeddings.csv")
    if emb["centers"] is not None:
        assert emb["centers"].shape == (len(emb["classes"]), vectors.shape[1]), name


def test_every_applicable_backend_rescores_the_run(run, tmp_path):
    from asdlab.runs.rescore import applicable_backends, default_backend, rescore

    name, out = run
    backends = list(applicable_backends(out))
    assert backends, f"{name}: no back end can re-score this run"
    run_ = load_run(out)
    original, own = run_["scores"], default_backend(run_["config"])
    for backend in backends:
        folder = rescore(out, backend, tmp_path / backend, params=own[1] if own and own[0] == backend else None)
        scores = pd.read_csv(folder / "scores.csv", dtype={"section": str})
        assert list(scores.columns) == SCORE_COLUMNS, f"{name} -> {backend}"
        assert _keys(scores) == _keys(original), f"{name} -> {backend}: not every test clip re-scored"
        assert np.isfinite(scores["score"]).all() and set(scores["decision"]) <= {0, 1}, f"{name} -> {backend}"
        if own and own[0] == backend:  # the method's own back end reproduces its scores exactly
            assert np.array_equal(scores["score"].to_numpy(), original["score"].to_numpy()), f"{name} -> {backend}"


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_parameter_fails_before_any_work(name, data, tmp_path, monkeypatch):
    method = get_method(name)

    def no_training(ctx):
        raise AssertionError(f"{name}: training started with a bad parameter")

    monkeypatch.setattr(method, "run", no_training)
    key = "batch_size" if "batch_size" in method.presets["smoke"] else "n_mels"  # an integer parameter
    with pytest.raises(ConfigError, match=rf"^method {name}: parameter {key}='abc': expected an integer"):
        run_method(name, data, tmp_path / "r", preset="smoke", overrides={key: "abc"},
                   cache_dir=tmp_path / "c", progress=False)
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()
