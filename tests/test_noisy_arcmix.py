"""The Noisy-ArcMix family recipe: classes, scoring rules, and a smoke run with its artefacts."""

import numpy as np
import pandas as pd
import pytest
import torch

from asdlab.analysis import angle_table
from asdlab.data.classes import class_names, encode_classes
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.methods import get_method
from asdlab.methods.gram_mfn import build_model, class_scores
from asdlab.nn.margins import neg_log_softmax_score
from asdlab.runs import load_run, run_method

NAMES = ["stgram_arcface", "tastgram_ce", "tastgram_arcface", "tastgram_arcmix", "tastgram_noisy_arcmix"]


def test_classes_use_attributes_only_where_they_are_known():
    t = pd.DataFrame({"machine": ["fan", "fan", "gearbox", "valve"], "section": "00",
                      "attributes": ["m-n_W", "m-n_X", "noAttribute", None]})
    assert class_names(t).tolist() == ["fan/00/m-n_W", "fan/00/m-n_X", "gearbox/00", "valve/00"]
    test = pd.DataFrame({"machine": ["fan", "fan"], "section": "00", "attributes": ["m-n_Z", ""]})
    names, tr, te = encode_classes(t, test)
    assert names == sorted(names) and tr.tolist() == [0, 1, 2, 3]
    assert te.tolist() == [-1, -1]  # an unseen attribute value; "fan/00" is no training class


def test_every_method_is_registered_with_the_reference_paper_preset():
    for name in NAMES:
        p = get_method(name).params("paper")
        assert (p["lr"], p["epochs"], p["batch_size"], p["s"], p["m"], p["alpha"]) == (1e-4, 300, 64, 30.0, 0.7, 0.5)
        assert p["n_fft"] == (1024 if name.startswith("stgram") else 2048)
    assert get_method("tastgram_arcmix").params("smoke")["loss"] == "arcmix"


def test_unknown_class_clips_take_the_best_class_of_their_section():
    torch.manual_seed(0)
    p = {**get_method("tastgram_arcface").params("smoke"), "backend": "logsoftmax"}
    model = build_model(p, n_classes=3)
    emb = torch.randn(4, p["embedding_dim"]).numpy()
    idx = np.array([0, 1, -1, -1])
    cand = [np.array([], np.int64)] * 2 + [np.array([0, 1]), np.array([2])]
    s = class_scores(model, emb, idx, p, cand)
    full = [neg_log_softmax_score(model.head, torch.from_numpy(emb), torch.full((4,), k), p["s"], p["m"]).detach().numpy()
            for k in range(3)]
    np.testing.assert_allclose(s, [full[0][0], full[1][1], min(full[0][2], full[1][2]), full[2][3]], rtol=1e-6)


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    from conftest import make_dcase_tree

    root = tmp_path_factory.mktemp("data")
    data = make_dcase_tree(root, machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=6, n_test=2)
    tmp = tmp_path_factory.mktemp("runs")
    out = run_method("tastgram_noisy_arcmix", data, tmp / "run", preset="smoke",
                     overrides={"epochs": 1}, cache_dir=tmp / "cache", progress=False)
    return data, out


def test_smoke_run_saves_embeddings_centers_and_angles(noisy_run):
    data, out = noisy_run
    emb = load_embeddings(out)
    meta = emb["meta"]
    assert emb["embeddings"].shape == (len(meta), 128)
    assert (meta["split"] == "train").sum() == 2 * 7 and (meta["split"] == "test").sum() == 2 * 8
    assert emb["classes"] == ["ToyCar/00/car_A1_spd_7", "fan/00"]
    assert emb["centers"].shape == (2, 128)
    angles = angle_table(out)
    assert len(angles) == 16 and angles["angle"].between(0, 180).all()
    scores = load_run(out)["scores"]
    assert len(scores) == 16 and np.isfinite(scores["score"]).all()
    assert (out / "checkpoints" / "model.pt").exists() and not (out / "train.ckpt").exists()
