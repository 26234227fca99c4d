"""The guided_clustering recipe: parameters, the pseudo-label table, and smoke runs with their artefacts."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import asdlab.methods.guided_clustering as gc
from asdlab.analysis import pseudo_labels as pl
from asdlab.analysis import factory_ground_truth
from asdlab.data.classes import class_names
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.methods import REGISTRY
from asdlab.metrics import official_score
from asdlab.runs import load_run, run_method

HIDDEN = ["ToyTrain", "gearbox", "slider"]
MACHINES = ["fan", *HIDDEN]  # one machine with attributes for the guided fine-tuning


def test_presets_and_scorer_parameters():
    m = REGISTRY["guided_clustering"]
    assert m.params("paper")["scorer_preset"] == "paper" and m.params("course")["scorer_preset"] == "course"
    assert m.params("smoke")["baseline"] is True
    for preset in ("smoke", "course", "paper"):             # bad values: tests/test_schema.py
        assert gc._scorer_params(m.params(preset))["epochs"] >= 1
    assert gc._scorer_params(m.params("smoke", {"scorer_overrides": {"ks": 4}}))["ks"] == [4]


def test_pseudo_table_replaces_only_the_listed_training_clips():
    table = pd.DataFrame({"file": ["a", "b", "c", "d"], "machine": ["gear", "gear", "gear", "fan"],
                          "section": "00", "split": ["train", "train", "test", "train"],
                          "attributes": ["noAttribute", "noAttribute", "noAttribute", "m_1"]})
    pseudo = pd.DataFrame({"file": ["b", "a"], "machine": ["gear", "gear"], "pseudo_label": [1, 0]})
    out = gc.pseudo_table(table, pseudo)
    assert out["attributes"].tolist() == ["pseudo0", "pseudo1", "noAttribute", "m_1"]
    assert class_names(out).tolist() == ["gear/00/pseudo0", "gear/00/pseudo1", "gear/00", "fan/00/m_1"]
    assert table["attributes"].iloc[0] == "noAttribute"   # a copy


def test_clusters_are_numbered_by_size():
    rng = np.random.default_rng(0)
    emb = np.r_[rng.normal(0, 0.01, (3, 4)), rng.normal(5, 0.01, (7, 4))]
    p = REGISTRY["guided_clustering"].params("smoke", {"n_pseudo": 2})
    train, test, k, _ = gc.cluster_machine(p, emb, emb[[0, 9]], seed=0)
    assert k == 2 and train.tolist() == [1] * 3 + [0] * 7 and test.tolist() == [1, 0]


@pytest.fixture(scope="module")
def factory_smoke(tmp_path_factory):
    from asdlab.data.synth import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("factory") / "smoke", "smoke", machines=MACHINES,
                            progress=False)


@pytest.fixture(scope="module")
def factory_run(tmp_path_factory, factory_smoke):
    tmp = tmp_path_factory.mktemp("gc")
    out = run_method("guided_clustering", factory_smoke, tmp / "run", preset="smoke", cache_dir=tmp / "cache",
                     progress=False)
    return out


def test_factory_smoke_run_writes_pseudo_labels_quality_and_gain(factory_run, factory_smoke):
    out = factory_run
    run = load_run(out)
    table = pd.read_csv(Path(factory_smoke) / "ground_truth" / "clips" / "gearbox.csv")
    n_train = int((table["split"] == "train").sum())
    pseudo = pl.load_pseudo_labels(out)
    assert pseudo.columns.tolist() == ["file", "machine", "section", "domain", "pseudo_label"]
    assert len(pseudo) == 3 * n_train and sorted(pseudo["machine"].unique()) == HIDDEN
    assert pseudo["file"].str.endswith("noAttribute.wav").all() and set(pseudo["pseudo_label"]) == {0, 1}

    # cluster quality: the same numbers sklearn gives on the pseudo labels vs the factory's truth
    quality = pl.cluster_quality(out)
    assert {"machine", "n_clusters", "n_true", "ari", "nmi", "purity", "ari_pretrained", "ari_features"} <= set(quality)
    truth = factory_ground_truth(factory_smoke)
    joined = pseudo.merge(truth, on=["file", "machine"])
    for row in quality.itertuples():
        g = joined[joined["machine"] == row.machine]
        assert row.ari == pytest.approx(adjusted_rand_score(g["true_attributes"], g["pseudo_label"]))
        assert row.nmi == pytest.approx(normalized_mutual_info_score(g["true_attributes"], g["pseudo_label"]))
        assert row.n_clusters == 2
        assert pl.contingency(out, row.machine).to_numpy().sum() == n_train

    # the gain: pseudo-labelled scorer = the run's own score, machine-only = its metrics file
    gain = pl.gain_table(out)
    assert gain["machine"].tolist() == sorted(run["metrics"]["machine"].unique()) + ["All (official)"]
    assert gain.set_index("machine").loc[HIDDEN, "hidden"].all()
    total = gain.set_index("machine").loc["All (official)"]
    assert total["hmean_pseudo"] == pytest.approx(run["summary"]["official_score"])
    base = pd.read_csv(out / "metrics_machine_only.csv", dtype={"section": str})
    assert total["hmean_machine_only"] == pytest.approx(official_score(base))
    assert total["gain"] == pytest.approx(total["hmean_pseudo"] - total["hmean_machine_only"])
    assert pl.gain_summary(out)["official_score"]["machine_only"] == pytest.approx(official_score(base))
    assert (out / "table_machine_only.csv").exists() and (out / "machine_only" / "scores.csv").exists()

    # embeddings of every clip from the guided network, with the pseudo label of each hidden clip
    emb = load_embeddings(out)
    meta = emb["meta"]
    assert emb["embeddings"].shape == (len(MACHINES) * 35, 32) and len(meta) == len(MACHINES) * 35
    hidden = meta["machine"].isin(HIDDEN)
    assert (meta.loc[~hidden, "pseudo_label"] == -1).all() and (meta.loc[hidden, "pseudo_label"] >= 0).all()
    merged = pseudo.merge(meta[meta["split"] == "train"], on=["file", "machine"], suffixes=("", "_e"))
    assert len(merged) == len(pseudo) and (merged["pseudo_label"] == merged["pseudo_label_e"]).all()
    assert "gearbox/00/pseudo0" in emb["classes"] and emb["centers"].shape == (len(emb["classes"]), 32)

    # the scorer trained on true + pseudo classes; the machine-only one on machine/section for hidden ones
    scorer_classes = load_embeddings(out / "scorer")["classes"]
    assert {"gearbox/00/pseudo0", "gearbox/00/pseudo1"} <= set(scorer_classes) and "gearbox/00" not in scorer_classes
    assert "gearbox/00" in load_embeddings(out / "machine_only")["classes"]

    history = pd.read_csv(out / "history.csv")
    pre, fine = history[history["stage"] == "pretrain"], history[history["stage"] == "finetune"]
    assert pre["round"].tolist() == [0, 1] and np.isnan(pre["nmi_prev"].iloc[0]) and 0 <= pre["nmi_prev"].iloc[1] <= 1
    assert len(fine) == 2 and fine[["ce_loss", "pair_loss"]].notna().all().all()
    info = json.loads((out / "guided_clustering.json").read_text())
    assert info["hidden_machines"] == HIDDEN and info["n_pseudo"] == {m: 2 for m in HIDDEN}


def test_both_encoders_embed_log_mels():
    import torch

    for encoder in gc.ENCODERS:
        torch.manual_seed(0)
        net = gc.GuidedNet(encoder, n_mels=32, embedding_dim=8, width=0.125)
        net.new_head(3)
        emb = net.eval()(torch.randn(2, 32, 40))
        assert emb.shape == (2, 8) and net.head(emb).shape == (2, 3)


def test_resumed_run_matches_and_machine_only_baseline_is_plain_sc_adacos(tmp_path, monkeypatch):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path / "d", machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=1.0, n_train=6, n_test=2)
    kw = dict(preset="smoke", cache_dir=tmp_path / "c", progress=False)
    real = gc._score

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gc, "_score", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_method("guided_clustering", data, tmp_path / "a", **kw)
    assert (tmp_path / "a.partial" / "checkpoints" / "guided_net.pt").exists()
    monkeypatch.setattr(gc, "_score", real)
    first = run_method("guided_clustering", data, tmp_path / "a", **kw)    # resumes after step 2
    again = run_method("guided_clustering", data, tmp_path / "b", **kw)    # from scratch
    pd.testing.assert_frame_equal(pd.read_csv(first / "history.csv"), pd.read_csv(again / "history.csv"))
    np.testing.assert_array_equal(load_run(first)["scores"]["score"], load_run(again)["scores"]["score"])
    pd.testing.assert_frame_equal(pl.load_pseudo_labels(first), pl.load_pseudo_labels(again))
    np.testing.assert_array_equal(np.load(first / "embeddings.npy"), np.load(again / "embeddings.npy"))
    plain = run_method("sc_adacos", data, tmp_path / "sc", **kw)
    np.testing.assert_array_equal(pd.read_csv(first / "machine_only" / "scores.csv")["score"],
                                  load_run(plain)["scores"]["score"])
    # no ground truth in a plain DCASE tree: a note, no quality files, no error
    info = json.loads((first / "guided_clustering.json").read_text())
    assert any("no ground truth" in n for n in info["notes"])
    assert not (first / pl.QUALITY_FILE).exists() and len(pl.load_pseudo_labels(first)) == 7
