import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from asdlab.analysis import angle_summary, angle_table, angles_deg
from asdlab.embeddings import load_embeddings, save_embeddings
from asdlab.errors import AsdlabError


def test_angles_against_known_geometry():
    centers = np.array([[1.0, 0.0], [0.0, 2.0]])
    emb = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, -5.0], [1.0, 0.0]])
    np.testing.assert_allclose(angles_deg(emb, centers, np.array([0, 0, 1, 1])), [0.0, 45.0, 180.0, 90.0],
                               atol=1e-6)


def _meta(n_test=6):
    labels = ["normal"] * 3 + ["anomaly"] * 3
    rows = [dict(file=f"t{i}.wav", machine="fan", section="00", domain="source", label=labels[i],
                 split="test", attributes="noAttribute", **{"class": "fan_00"}, class_index=0)
            for i in range(n_test)]
    rows.append(dict(file="x.wav", machine="fan", section="00", domain=None, label=None, split="test",
                     attributes="", **{"class": ""}, class_index=-1))
    rows.append(dict(file="tr.wav", machine="fan", section="00", domain="target", label="normal",
                     split="train", attributes="noAttribute", **{"class": "fan_00"}, class_index=0))
    return pd.DataFrame(rows)


def test_round_trip_and_angle_table(tmp_path):
    meta = _meta()
    deg = np.array([5, 10, 15, 20, 40, 60, 0, 0], dtype=float)
    emb = np.stack([np.cos(np.radians(deg)), np.sin(np.radians(deg))], axis=1)
    save_embeddings(tmp_path, meta, emb, centers=np.array([[2.0, 0.0]]), classes=["fan_00"])
    loaded = load_embeddings(tmp_path)
    np.testing.assert_allclose(loaded["embeddings"], emb.astype(np.float32))
    assert loaded["classes"] == ["fan_00"] and loaded["meta"]["section"].iloc[0] == "00"
    assert pd.isna(loaded["meta"]["label"].iloc[6])

    kinds = pd.DataFrame({"file": ["t3.wav"], "machine": ["fan"], "anomaly_kind": ["rub"]})
    t = angle_table(tmp_path, ground_truth=kinds)
    assert list(t["file"]) == [f"t{i}.wav" for i in range(6)]  # unknown class and train left out
    np.testing.assert_allclose(t["angle"], deg[:6], atol=1e-3)
    assert t.loc[t["file"] == "t3.wav", "anomaly_kind"].item() == "rub"


def test_summary_medians_and_auc():
    t = pd.DataFrame({"label": ["normal", "normal", "anomaly", "anomaly", "normal"],
                      "angle": [5.0, 20.0, 10.0, 30.0, 7.0]})
    s = angle_summary({"arcface": t})
    assert s.loc["arcface", "median_normal_angle"] == 7.0
    assert s.loc["arcface", "median_anomaly_angle"] == 20.0
    assert s.loc["arcface", "angle_auc"] == pytest.approx(roc_auc_score([0, 0, 1, 1, 0], t["angle"]))


def test_errors(tmp_path):
    with pytest.raises(AsdlabError, match="no embeddings.npy"):
        load_embeddings(tmp_path)
    save_embeddings(tmp_path, _meta(), np.ones((8, 2)))
    with pytest.raises(AsdlabError, match="no class centers"):
        angle_table(tmp_path)
    with pytest.raises(ValueError, match="metadata rows"):
        save_embeddings(tmp_path, _meta(), np.ones((3, 2)))


def test_factory_ground_truth_knows_hidden_attributes_and_anomaly_kinds(tmp_path):
    from asdlab.analysis import factory_ground_truth
    from asdlab.data import build_clip_table
    from asdlab.synth import generate_dataset

    assert factory_ground_truth(tmp_path) is None
    root = generate_dataset(tmp_path / "f", preset="smoke", machines=["gearbox", "fan"], progress=False)
    gt = factory_ground_truth(root)
    table = build_clip_table(root)
    merged = table.merge(gt, on=["file", "machine"], how="left", validate="one_to_one")
    assert merged["anomaly_kind"].notna().all()
    anomalies = merged[merged["label"] == "anomaly"]
    assert (anomalies["anomaly_kind"] != "").all() and anomalies["severity"].between(0.1, 1.0).all()
    assert (merged.loc[merged["label"] == "normal", "severity"] == 0).all()
    gearbox = merged[merged["machine"] == "gearbox"]
    assert (gearbox["attributes"] == "noAttribute").all()
    assert (gearbox["true_attributes"] != "noAttribute").all() and gearbox["true_attributes"].str.len().min() > 0
