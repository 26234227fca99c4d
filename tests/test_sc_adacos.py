"""The sc_adacos recipe: thresholds, scoring rules, head choice, and a smoke run with its artefacts."""

import numpy as np
import pandas as pd
import pytest

import asdlab.methods.sc_adacos as sc
from asdlab.backends.thresholds import add_section_domain_decisions
from asdlab.analysis import angle_table
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import ConfigError
from asdlab.features.frames import fix_frames, standardize
from asdlab.methods import REGISTRY
from asdlab.runs import load_run, run_method


def test_thresholds_are_the_90th_percentile_per_section_and_domain():
    train = pd.DataFrame({"machine": ["fan"] * 13 + ["valve"] * 4, "section": "00",
                          "domain": ["source"] * 10 + ["target"] * 3 + ["source"] * 3 + ["target"],
                          "decision_score": [*range(1, 11), 100, 200, 300, 5, 6, 7, 50]})
    test = pd.DataFrame({"machine": ["fan"] * 5 + ["valve"] * 3, "section": "00",
                         "domain": ["source", "source", "target", "target", None, "source", "source", "target"],
                         "decision_score": [9.0, 9.2, 279, 281, 9.2, 6.7, 6.9, 51]})
    add_section_domain_decisions(train, test, q=90, column="decision_score")
    # fan source: 90th percentile of 1..10 = 9.1; fan target: of 100, 200, 300 = 280;
    # valve source: of 5, 6, 7 = 6.8; valve target (one clip): 50; unknown domain -> source threshold
    assert test["decision"].tolist() == [0, 1, 0, 1, 1, 0, 1, 1]
    assert train["decision"].tolist() == [0] * 9 + [1] + [0, 0, 1] + [0, 0, 1] + [0]


def test_gmm_decisions_use_the_section_term_for_target_clips():
    terms = {"section": np.array([1.0, 2.0, 3.0]), "attribute": np.array([10.0, 20.0, 30.0]),
             "target": np.array([100.0, 200.0, 300.0])}
    domain = ["source", "target", None]
    score, decision = sc.member_scores(terms, domain, "gmm", tmax=np.array([0.5, 0.5, 0.5]))
    assert score.tolist() == [11.5, 202.0, 33.5]
    assert decision.tolist() == [11.5, 2.0, 33.5]
    score, decision = sc.member_scores(terms, domain, "gmm", tmax=np.array([0.5, 0.5, 0.5]), rule="min")
    assert score.tolist() == [11.5, 22.5, 33.5]            # min(attribute + tmax, target): the attribute term
    terms["target"] = np.array([5.0, 6.0, np.nan])         # no target GMM: the source branch
    assert sc.member_scores(terms, domain, "gmm", rule="min")[0].tolist() == [6.0, 8.0, 33.0]
    score, decision = sc.member_scores(terms, domain, "cosine")
    assert score.tolist() == decision.tolist() == [11.0, 22.0, 33.0]


def test_head_choice_paper_dict_and_oracle():
    assert sc.choose_heads("paper", ["fan", "ToyCar", "bearing", "valve"]) == \
        {"ToyCar": "two", "bearing": "two", "fan": "one", "valve": "one"}
    assert sc.choose_heads({"bearing": "one"}, ["bearing", "fan"]) == {"bearing": "one", "fan": "two"}
    rows = pd.DataFrame({"file": [f"f{i}" for i in range(8)], "machine": ["fan"] * 4 + ["gear"] * 4,
                         "section": "00", "domain": ["source", "target"] * 4,
                         "label": ["normal", "normal", "anomaly", "anomaly"] * 2})
    good, bad = np.array([0, 0, 1, 1] * 2, float), np.array([1, 1, 0, 0] * 2, float)
    scores = {"two": np.r_[good[:4], bad[4:]], "one": np.r_[bad[:4], good[4:]]}
    assert sc.choose_heads("oracle", rows["machine"], rows, scores) == {"fan": "two", "gear": "one"}
    with pytest.raises(ConfigError, match="needs test labels"):
        sc.choose_heads("oracle", ["fan"], rows.assign(label=None), scores)


def test_snapshots_frames_and_standardisation():
    assert sc.snapshot_epochs(400, 100) == [100, 200, 300, 400]
    assert sc.snapshot_epochs(12, 5) == [5, 10, 12] and sc.snapshot_epochs(3, 0) == [3]
    mel = np.arange(6.0).reshape(2, 3)
    assert fix_frames(mel, 2).tolist() == [[0, 1], [3, 4]]
    assert fix_frames(mel, 7).tolist() == [[0, 1, 2, 0, 1, 2, 0], [3, 4, 5, 3, 4, 5, 3]]
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, (4, 2, 50)).astype(np.float32)
    mean, _, z, other = standardize(train, train[:1])
    np.testing.assert_allclose(mean, train.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2)), 1, rtol=1e-4)
    np.testing.assert_allclose(other, z[:1], rtol=1e-6)


def test_presets_and_parameter_normalisation():
    m = REGISTRY["sc_adacos"]
    p = m.params("paper")
    assert (p["batch_size"], p["epochs"], p["snapshot_every"], p["ks"], p["heads"], p["backend"],
            p["reg_covar"], p["threshold_q"], p["tmax_machines"]) == (64, 400, 100, [1, 2, 4, 8, 16], "both",
                                                                      "kmeans", 1e-3, 90.0, [])
    p = m.params("smoke", {"tmax_machines": "valve,fan", "ks": 4})  # bad values: tests/test_schema.py
    assert (p["tmax_machines"], p["ks"]) == (["fan", "valve"], [4])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path_factory.mktemp("data"), machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=6, n_test=2)
    tmp = tmp_path_factory.mktemp("runs")
    out = run_method("sc_adacos", data, tmp / "run", preset="smoke", overrides={"backend": "gmm"},
                     cache_dir=tmp / "cache", progress=False)
    return data, out


def test_smoke_run_writes_scores_embeddings_centers_and_metrics(smoke_run):
    _, out = smoke_run
    run = load_run(out)
    scores, train = run["scores"], run["train_scores"]
    assert len(scores) == 16 and len(train) == 14 and np.isfinite(scores["score"]).all()
    assert set(scores["decision"]) <= {0, 1} and list(run["table"].index) == ["ToyCar", "fan", "All (hmean)"]
    assert 0 <= run["summary"]["official_score"] <= 1
    emb = load_embeddings(out)
    assert emb["embeddings"].shape == (30, 128)
    assert emb["classes"] == ["ToyCar/00/car_A1_spd_7", "fan/00"]   # the attribute head's classes
    assert emb["centers"].shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(emb["centers"], axis=1), 1, rtol=1e-5)
    sub = np.load(out / "subcluster_centers.npy")
    assert sub.shape == (2, 2, 128)                                  # smoke: K = 2
    assert len(angle_table(out)) == 16
    ens = pd.read_csv(out / "ensemble.csv")
    assert ens[["heads", "k", "epochs"]].values.tolist() == [["two", 2, 1], ["two", 2, 2]]
    assert ens["primary"].tolist() == [False, True]
    terms = pd.read_csv(out / "score_terms.csv")
    assert len(terms) == 30 and terms["target_term"].notna().all()
    # the score sums eq. 2 (source) or eq. 3 (target) over the 2 snapshots
    t = scores.merge(terms[terms["split"] == "test"], on=["file", "machine"], suffixes=("", "_t"))
    expected = t["section_term"] + np.where(t["domain"] == "target", t["target_term"], t["attribute_term"])
    np.testing.assert_allclose(t["score"], expected, rtol=1e-9)
    assert (out / "checkpoints" / "two_k2.pt").exists() and (out / "checkpoints" / "normalization.npz").exists()
    assert not (out / "snapshots").exists() and not (out / "train").exists()


def test_an_interrupted_run_resumes_from_its_snapshot_and_matches(smoke_run, tmp_path, monkeypatch):
    data, out = smoke_run
    calls = []
    real = sc.gmm_terms

    def interrupt_second_snapshot(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sc, "gmm_terms", interrupt_second_snapshot)
    kw = dict(preset="smoke", overrides={"backend": "gmm"}, cache_dir=tmp_path / "c", progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_method("sc_adacos", data, tmp_path / "r", **kw)
    partial = tmp_path / "r.partial"
    assert [f.name for f in (partial / "snapshots").iterdir()] == ["two_k2_e00001.npz"]
    assert (partial / "train" / "two_k2.ckpt").exists()
    monkeypatch.setattr(sc, "gmm_terms", real)
    resumed = run_method("sc_adacos", data, tmp_path / "r", **kw)
    np.testing.assert_array_equal(load_run(out)["scores"]["score"], load_run(resumed)["scores"]["score"])
    assert len(pd.read_csv(resumed / "history.csv")) == 2


def test_a_member_in_the_model_cache_is_not_trained_again(smoke_run, tmp_path, monkeypatch):
    """The fixture's run left its members in the model cache: a run on the same training data
    with the same training parameters loads them (same scores, history and weights), also with
    another back end; a training parameter that differs trains."""
    data, out = smoke_run
    cache = out.parent / "cache"
    assert len(list((cache / "models" / "sc_adacos").glob("*/history.json"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the member is in the model cache")

    monkeypatch.setattr(sc, "fit", no_training)
    again = run_method("sc_adacos", data, tmp_path / "again", preset="smoke", overrides={"backend": "gmm"},
                       cache_dir=cache, progress=False)
    np.testing.assert_array_equal(load_run(out)["scores"]["score"], load_run(again)["scores"]["score"])
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv"), pd.read_csv(again / "history.csv"))
    assert (out / "checkpoints" / "two_k2.pt").read_bytes() == (again / "checkpoints" / "two_k2.pt").read_bytes()
    cosine = run_method("sc_adacos", data, tmp_path / "cosine", preset="smoke", overrides={"backend": "cosine"},
                        cache_dir=cache, progress=False)
    assert load_run(cosine)["summary"]["official_score"] >= 0
    with pytest.raises(AssertionError, match="trained although"):
        run_method("sc_adacos", data, tmp_path / "lr", preset="smoke", overrides={"lr": 2e-3},
                   cache_dir=cache, progress=False)


def test_the_member_cache_key_holds_the_labels_of_the_members_heads(tmp_path):
    """Guided clustering's pseudo-labelled table (other attribute labels) must not reuse the
    machine-only members; a one-head member ignores the attribute labels."""
    from types import SimpleNamespace

    files = []
    for i in range(3):
        f = tmp_path / f"{i}.wav"
        f.write_bytes(b"x")
        files.append(str(f))
    ctx = SimpleNamespace(params=REGISTRY["sc_adacos"].params("smoke"), seed=0, channel=0, device="cpu",
                          cache_dir=tmp_path / "c")

    def data(attributes):
        return SimpleNamespace(n_train=3, train_rows=pd.DataFrame({"path": files}),
                               section=np.array(["fan/00", "fan/00", "pump/00", "x"], object),
                               attribute=np.array(attributes + ["y"], object))

    plain, pseudo = data(["fan/00", "fan/00", "pump/00"]), data(["fan/00/pseudo_0", "fan/00/pseudo_1", "pump/00"])
    assert sc.member_cache(ctx, plain, 2, 2) != sc.member_cache(ctx, pseudo, 2, 2)
    assert sc.member_cache(ctx, plain, 1, 2) == sc.member_cache(ctx, pseudo, 1, 2)
    assert sc.member_cache(ctx, plain, 2, 2) != sc.member_cache(ctx, plain, 2, 4)
    assert sc.member_cache(ctx, plain, 2, 2).parent == tmp_path / "c" / "models" / "sc_adacos"


def test_one_section_in_total_is_a_clear_error(tmp_path):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=0.5)
    with pytest.raises(ConfigError, match="at least 2 of them in training, found only 'fan/00'"):
        run_method("sc_adacos", data, tmp_path / "r", preset="smoke", cache_dir=tmp_path / "c", progress=False)


def test_the_default_kmeans_backend_never_reads_the_test_domain(smoke_run, tmp_path):
    """``backend="kmeans"`` (default): each member's section term is the k-means back end's score
    (:func:`asdlab.backends.kmeans.score_sections`), the same whatever domain a test row claims."""
    from types import SimpleNamespace

    from asdlab.backends.kmeans import score_sections

    assert REGISTRY["sc_adacos"].params("course")["backend"] == "kmeans"
    rng = np.random.default_rng(0)

    def rows(domains):
        return pd.DataFrame({"machine": "fan", "section": "00", "domain": domains})

    train = rows(["source"] * 4 + ["target"] * 2)
    test = rows(["source", "target", "source", "target"])
    emb = rng.standard_normal((10, 8))
    terms = sc.kmeans_terms(SimpleNamespace(n_train=6, train_rows=train, test_rows=test), emb, 2, 0)
    want = score_sections(emb[:6], train, emb[6:], test, 2, 0)
    np.testing.assert_array_equal(terms["section"], np.concatenate([want["train"], want["test"]]))
    flipped = rows(["target", "source", "target", "source"])
    np.testing.assert_array_equal(
        sc.kmeans_terms(SimpleNamespace(n_train=6, train_rows=train, test_rows=flipped), emb, 2, 0)["section"],
        terms["section"])
    score, decision = sc.member_scores(terms, np.array(["source"] * 6 + ["target"] * 4, object), "kmeans")
    np.testing.assert_array_equal(score, terms["section"])
    np.testing.assert_array_equal(decision, score)
    data_dir, _ = smoke_run
    run = run_method("sc_adacos", data_dir, tmp_path / "km", preset="smoke", cache_dir=tmp_path / "c",
                     progress=False)
    terms_csv = pd.read_csv(run / "score_terms.csv")
    assert terms_csv["target_term"].isna().all() and (terms_csv["attribute_term"] == 0).all()
    assert np.isfinite(load_run(run)["scores"]["score"]).all()
