"""The contrastive_ae_cnn recipe: eq. 3 scores and ensembles by hand, the network, parameters,
and smoke runs with their artefacts and determinism (its feature transforms: test_feature_transforms)."""

import numpy as np
import pandas as pd
import pytest
import torch

import asdlab.methods.contrastive_ae_cnn as cac
from asdlab.data import build_clip_table
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import ConfigError
from asdlab.methods import REGISTRY, RunContext
from asdlab.runs import load_run, run_method


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    return np.log(softmax(z))


# ----------------------------------------------------------------------------------------------
# eq. 3 and the ensembles


def test_log_odds_is_log_of_one_minus_p_over_p():
    z = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]])
    own = np.array([True, False, False])
    p = softmax(z)[:, 0]
    np.testing.assert_allclose(cac.log_odds(log_softmax(z), own), np.log((1 - p) / p), rtol=1e-12)
    assert cac.log_odds(log_softmax(z[1]), own) == pytest.approx(np.log(2.0))     # p = 1/3
    # confident and right: p rounds to 1 in float64, the log-space formula stays finite
    confident = np.array([60.0, 0.0, 0.0])
    assert cac.log_odds(log_softmax(confident), own) == pytest.approx(np.log(2) - 60, rel=1e-12)
    # unknown class: p = summed probability of the clip's section's classes
    both = np.array([True, True, False])
    q = softmax(z)[:, :2].sum(axis=1)
    np.testing.assert_allclose(cac.log_odds(log_softmax(z), both), np.log((1 - q) / q), rtol=1e-12)


@pytest.fixture
def two_models():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, size=(2, 3, 4))      # 2 models x 3 segments x 4 classes
    return z, np.array([False, True, False, False])


def test_clip_score_mean_max_and_softmax_by_hand(two_models):
    z, own = two_models
    lp = log_softmax(z)
    p = softmax(z)[:, :, 1]                   # (models, segments) probability of class 1
    a = np.log((1 - p) / p)                   # eq. 3 per model and segment
    per_model = a.mean(axis=1)                # averaged over segments
    assert cac.clip_score(lp, own, "mean") == pytest.approx(per_model.mean(), rel=1e-12)
    assert cac.clip_score(lp, own, "max") == pytest.approx(per_model.max(), rel=1e-12)
    p_mean = softmax(z).mean(axis=0)[:, 1]    # mean softmax per segment
    assert cac.clip_score(lp, own, "softmax") == pytest.approx(np.log((1 - p_mean) / p_mean).mean(), rel=1e-12)
    # one model: all three modes agree
    one = lp[:1]
    vals = [cac.clip_score(one, own, e) for e in cac.ENSEMBLES]
    assert vals == pytest.approx([a[0].mean()] * 3, rel=1e-12)
    with pytest.raises(ConfigError, match="unknown ensemble 'median'"):
        cac.clip_score(lp, own, "median")
    with pytest.raises(ValueError, match="n_models, n_segments, C"):
        cac.clip_score(lp[0], own)


# ----------------------------------------------------------------------------------------------
# network


def test_network_losses_and_shapes():
    torch.manual_seed(0)
    model = cac.build_model({**cac.PRESETS["smoke"], "n_mels": 16}, n_classes=3)
    x = torch.randn(4, 16, 32)
    assert model(x).shape == (4, 3) and model.features(x).shape == (4, model.cnn.out_dim)
    targets = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    terms = model.losses(x, x, targets, 0.07, False, False)
    assert set(terms) == {"mse", "ce", "contrastive"} and all(t.dim() == 0 for t in terms.values())
    assert model.ae.encoder[-1][0].out_features == 32 and model.ae.encoder[0][0].in_features == 5 * 16


# ----------------------------------------------------------------------------------------------
# parameters


def test_presets():
    m = REGISTRY["contrastive_ae_cnn"]
    p = m.params("paper")
    assert (p["epochs"], p["lr_step"], p["lr_gamma"], p["batch_size"], p["temperature"], p["width"], p["depth"],
            p["ae_bottleneck"], p["ae_frames"], p["proj_dim"], p["median_window"], p["target_fraction"],
            p["n_fft"], p["hop"], p["n_mels"], p["classes"]) == \
        (300, 30, 0.5, 32, 0.07, 1.0, 1.0, 32, 5, 256, 30, 0.2, 1024, 512, 128, "section")
    # bad values: tests/test_schema.py


# ----------------------------------------------------------------------------------------------
# end to end


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path_factory.mktemp("data"), machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=6, n_test=2)
    tmp = tmp_path_factory.mktemp("runs")
    out = run_method("contrastive_ae_cnn", data, tmp / "run", preset="smoke", cache_dir=tmp / "cache", progress=False)
    return data, out, tmp / "cache"


def test_smoke_run_artefacts(smoke_run):
    _, out, _ = smoke_run
    run = load_run(out)
    scores, train = run["scores"], run["train_scores"]
    assert len(scores) == 16 and len(train) == 14 and np.isfinite(scores["score"]).all()
    assert set(scores["decision"]) <= {0, 1} and 0 <= run["summary"]["official_score"] <= 1
    emb = load_embeddings(out)
    assert emb["embeddings"].shape == (30, 320)                        # width 0.25: 320 pooled features
    assert emb["classes"] == ["ToyCar/00/car_A1_spd_7", "fan/00"] and emb["centers"].shape == (2, 320)
    np.testing.assert_allclose(np.linalg.norm(emb["centers"], axis=1), 1, rtol=1e-5)
    hist = pd.read_csv(out / "history.csv")
    assert list(hist.columns) == ["group", "member", "epoch", "lr", "mse", "ce", "contrastive", "total", "train_acc"]
    assert hist["epoch"].tolist() == [0, 1] and (hist[["mse", "ce", "contrastive"]] > 0).all().all()
    # the CNN branch's accuracy on the 14 training clips (fewer than 256: all of them), a multiple of 1/14
    assert ((hist["train_acc"] * 14).round(9) % 1 == 0).all() and hist["train_acc"].between(0, 1).all()
    # mixup, masking and the loss weights: total = mse + ce + 1 x contrastive, per batch and so per epoch
    np.testing.assert_allclose(hist["total"], hist["mse"] + hist["ce"] + hist["contrastive"], rtol=1e-5)
    assert (out / "checkpoints" / "all_m0.pt").exists() and (out / "checkpoints" / "normalization.npz").exists()
    assert not (out / "train").exists()


def test_saved_scores_are_eq3_of_the_saved_network(smoke_run, tmp_path):
    data, out, cache = smoke_run
    run = load_run(out)
    p = run["config"]["params"]
    ctx = RunContext(table=build_clip_table(data), params=p, seed=0, workdir=tmp_path, cache_dir=cache, device="cpu")
    (group,), _ = cac._groups(ctx)
    model = cac.build_model(p, len(group.classes))
    model.load_state_dict(torch.load(out / "checkpoints" / "all_m0.pt"))
    lp, emb = cac.clip_outputs(model, group.train + group.test, group.frames, group.hop)
    assert lp[0].shape == (1, 2)                                       # 32 frames = one smoke segment
    expected = [cac.clip_score(lp[i][None], group.own[i]) for i in range(len(lp))]
    got = pd.concat([run["train_scores"], run["scores"]]).set_index("file")["score"]
    files = pd.concat([group.train_rows, group.test_rows])["file"]
    np.testing.assert_allclose(got.loc[files].to_numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(load_embeddings(out)["embeddings"], emb, rtol=1e-5, atol=1e-6)


def test_max_ensemble_dominates_the_single_model(smoke_run, tmp_path):
    data, out, cache = smoke_run
    single = load_run(out)["scores"]["score"].to_numpy()
    # member 0 of an ensemble is the single model (seed + 0): the max over members is never lower
    ens = run_method("contrastive_ae_cnn", data, tmp_path / "ens", preset="smoke", cache_dir=cache, progress=False,
                     overrides={"n_models": 2, "ensemble": "max"})
    both = load_run(ens)["scores"]["score"].to_numpy()
    assert np.all(both >= single - 1e-9) and np.any(both > single + 1e-6)
    assert pd.read_csv(ens / "history.csv")["member"].tolist() == [0, 0, 1, 1]
    assert (ens / "checkpoints" / "all_m1.pt").exists()


def test_per_machine_scope_needs_two_classes_per_machine(tmp_path):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute", "valve": "noAttribute"}, seconds=0.5)
    with pytest.raises(ConfigError, match="needs at least 2 classes per network; fan has only 'fan/00'"):
        run_method("contrastive_ae_cnn", data, tmp_path / "r", preset="smoke", overrides={"scope": "machine"},
                   cache_dir=tmp_path / "c", progress=False)


def test_per_machine_scope_trains_one_network_per_machine_type(tmp_path):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute", "valve": "noAttribute"}, seconds=0.5,
                           n_train=4, n_test=1, sections=("00", "01"))
    out = run_method("contrastive_ae_cnn", data, tmp_path / "r", preset="smoke", cache_dir=tmp_path / "c",
                     progress=False, overrides={"scope": "machine", "classes": "section"})
    assert sorted(p.name for p in (out / "checkpoints").glob("*_m0.pt")) == ["fan_m0.pt", "valve_m0.pt"]
    emb = load_embeddings(out)
    assert emb["classes"] == ["fan/00", "fan/01", "valve/00", "valve/01"]
    meta = emb["meta"]
    # class indices point into the concatenated class list, per machine type's own network
    assert (meta["class"] == [emb["classes"][i] for i in meta["class_index"]]).all()
    assert set(pd.read_csv(out / "history.csv")["group"]) == {"fan", "valve"}
    assert np.isfinite(load_run(out)["scores"]["score"]).all()
