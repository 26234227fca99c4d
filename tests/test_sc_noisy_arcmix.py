"""The sc_noisy_arcmix recipe: presets, a smoke run with its artefacts, pretrained-encoder
provenance and the sub-cluster sweep (reproducibility and parameter errors:
tests/test_method_contract.py, tests/test_schema.py)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import asdlab.methods.sc_noisy_arcmix as scn
import asdlab.runs.sweeps as sweeps
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.methods import get_method
from asdlab.nn.ced import CED, load_checkpoint
from asdlab.runs import load_run, run_method
from asdlab.train.embed import embed

FAST = {"epochs": 1, "n_clusters": 2}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from conftest import make_dcase_tree

    root = tmp_path_factory.mktemp("data")
    return make_dcase_tree(root, machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=6, n_test=2)


@pytest.fixture(scope="module")
def smoke_run(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    return run_method(scn.NAME, data, tmp / "run", preset="smoke", overrides=FAST,
                      cache_dir=tmp / "cache", progress=False)


def test_paper_preset_is_seed_000():
    p = get_method("sc_noisy_arcmix").params("paper")
    assert (p["size"], p["seconds"], p["epochs"], p["batch_size"]) == ("base", 10.0, 20, 64)
    assert (p["mixup_p"], p["manifold_p"], p["n_clusters"], p["loss"]) == (0.25, 0.25, 16, "asl")
    assert (p["gamma_pos"], p["gamma_neg"], p["asl_eps"], p["featex"]) == (0.0, 4.0, 0.1, True)
    assert p["checkpoint"] is None
    assert get_method("sc_noisy_arcmix").params("smoke")["size"] == "nano"


def test_smoke_run_writes_scores_embeddings_and_subcluster_centers(smoke_run):
    run = load_run(smoke_run)
    assert len(run["scores"]) == 16 and np.isfinite(run["scores"]["score"]).all()
    assert run["scores"]["score"].between(0, 2).all()
    emb = load_embeddings(smoke_run)
    assert emb["embeddings"].shape == (2 * 7 + 16, 64)
    assert emb["classes"] == ["ToyCar/00/car_A1_spd_7", "fan/00"]
    assert emb["centers"].shape == (2, 64)
    assert np.load(smoke_run / "subcluster_centers.npy").shape == (2, 4, 64)
    meta = emb["meta"]
    assert meta["subcluster"].between(0, 3).all()  # every class is known here
    assert meta["kmeans_ref"].between(0, 2).all()  # 2 centroids + 1 target clip per section
    record = json.loads((smoke_run / "encoder.json").read_text())
    assert record["pretrained"] is False and record["checkpoint"] is None and record["size"] == "nano"
    assert run["config"]["encoder"] == record
    load_checkpoint(CED("nano"), smoke_run / "checkpoints" / "encoder.pt")  # loadable as a CED checkpoint
    assert not (smoke_run / "train.ckpt").exists()


def test_target_training_clips_are_scored_leave_one_out(smoke_run):
    train = load_run(smoke_run)["train_scores"]
    assert (train.loc[train["domain"] == "target", "score"] > 1e-6).all()


def test_a_checkpoint_starts_the_encoder_and_is_recorded(data, smoke_run, tmp_path):
    ckpt = smoke_run / "checkpoints" / "encoder.pt"
    out = run_method(scn.NAME, data, tmp_path / "pre", preset="smoke",
                     overrides={**FAST, "checkpoint": str(ckpt), "loss": "ce", "featex": False,
                                "manifold_p": 0.0, "margin": "soft"},
                     cache_dir=tmp_path / "c", progress=False)
    record = load_run(out)["config"]["encoder"]
    assert record["pretrained"] is True and record["checkpoint"] == str(ckpt.resolve())
    assert record["loaded_tensors"] == len(torch.load(ckpt))
    assert torch.load(out / "checkpoints" / "heads.pt")["head_featex"] is None


def test_sweep_writes_one_run_per_cell_and_returns_the_grid(data, tmp_path):
    grid = ((1, 1), (1, 2), (2, 1))
    table = sweeps.sweep_subclusters(data, tmp_path / "sweep", preset="smoke", grid=grid,
                                  overrides=FAST, cache_dir=tmp_path / "c", progress=False)
    assert table.index.name == "SC" and table.columns.name == "SC(FeatEx)"
    assert table.shape == (2, 2) and np.isnan(table.loc[2, 2])
    for sc, fx in grid:
        folder = tmp_path / "sweep" / f"sc{sc}_fx{fx}"
        cfg = load_run(folder)["config"]["params"]
        assert (cfg["n_sub"], cfg["n_sub_featex"], cfg["featex"]) == (sc, fx, True)
        assert table.loc[sc, fx] == pytest.approx(sweeps.mean_auc(load_run(folder)["metrics"]))
    assert table.attrs["runs"][(1, 2)] == str(tmp_path / "sweep" / "sc1_fx2")


@pytest.mark.parametrize("preset, cells", [("paper", 16), ("course", 4), ("smoke", 4)])
def test_sweep_without_a_grid_trains_the_default_cells(preset, cells, tmp_path, monkeypatch):
    """paper: the 4 x 4 of Table 2; otherwise {1, 16} x {1, 16} (at course too: the notebook's own
    default there trains none, but a direct call asks for a grid)."""
    asked = []
    monkeypatch.setattr(sweeps, "run_method", lambda name, data, folder, **kw: asked.append(
        (kw["overrides"]["n_sub"], kw["overrides"]["n_sub_featex"])) or folder)
    monkeypatch.setattr(sweeps, "grid_table", lambda runs, metric: pd.DataFrame())
    sweeps.sweep_subclusters(tmp_path / "data", tmp_path / "sweep", preset=preset)
    assert len(asked) == cells == len(set(asked))
    assert set(asked) == (set(sweeps.default_grid("paper")) if preset == "paper" else set(scn.COURSE_GRID))
    assert set(scn.COURSE_GRID) == {(1, 1), (1, 16), (16, 1), (16, 16)}


def test_sweep_reads_the_cell_of_the_plain_run_from_that_run(data, smoke_run, tmp_path):
    p = get_method(scn.NAME).params("smoke", FAST)
    plain_cell = (p["n_sub"], p["n_sub_featex"])
    grid = (plain_cell, (1, 1))
    before = (smoke_run / "scores.csv").stat().st_mtime_ns
    table = sweeps.sweep_subclusters(data, tmp_path / "sweep", preset="smoke", grid=grid, overrides=FAST,
                                  default_run=smoke_run, cache_dir=tmp_path / "c", progress=False)
    assert table.attrs["runs"][plain_cell] == str(smoke_run)
    assert (smoke_run / "scores.csv").stat().st_mtime_ns == before       # reused, not retrained
    assert not (tmp_path / "sweep" / f"sc{plain_cell[0]}_fx{plain_cell[1]}").exists()
    assert (tmp_path / "sweep" / "sc1_fx1" / "summary.json").exists()


def test_ced_embeds_whole_clips_of_different_lengths_and_first_crops():
    torch.manual_seed(0)
    encoder = CED("nano").eval()
    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (16000, 24000, 16000)]
    got = embed(encoder, waves, None, "whole", batch_size=32)  # eval_seconds=None
    with torch.no_grad():
        alone = np.stack([encoder(torch.from_numpy(w)[None])[0].numpy() for w in waves])
    np.testing.assert_allclose(got, alone, atol=1e-5)
    assert get_method("sc_noisy_arcmix").params("course")["crop"] == "all"
    fixed = embed(encoder, waves, 16000, "first", batch_size=32)  # the first second of each clip
    with torch.no_grad():
        first = encoder(torch.from_numpy(waves[1][:16000])[None])[0].numpy()
    assert fixed.shape == (3, 64)
    np.testing.assert_allclose(fixed[[0, 2]], alone[[0, 2]], atol=1e-5)
    np.testing.assert_allclose(fixed[1], first, atol=1e-5)
