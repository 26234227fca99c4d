import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from asdlab.analysis import angle_summary, angle_table, angles_deg
from asdlab.artifacts.embeddings import load_embeddings, save_embeddings
from asdlab.core.errors import AsdlabError


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
    from asdlab.data.synth import generate_dataset

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


# ---------------------------------------------------------------------------------- UMAP

def _blobs(n_per=12, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.05, (n_per, dim)) + np.eye(dim)[0]
    b = rng.normal(0, 0.05, (n_per, dim)) + np.eye(dim)[1]
    return np.concatenate([a, b]).astype(np.float32)


def test_umap_coords_is_seeded_keeps_clusters_apart_and_handles_small_sets():
    from asdlab.analysis import umap_coords

    x = _blobs()
    xy = umap_coords(x, seed=0)
    assert xy.shape == (24, 2) and xy.dtype == np.float32
    np.testing.assert_array_equal(xy, umap_coords(x, seed=0))
    # two orthogonal blobs: every point is closer to its own blob's centroid than to the other's
    ca, cb = xy[:12].mean(0), xy[12:].mean(0)
    da, db = np.linalg.norm(xy - ca, axis=1), np.linalg.norm(xy - cb, axis=1)
    assert (da[:12] < db[:12]).all() and (db[12:] < da[12:]).all()
    # n_neighbors=15 > N-1 is clipped instead of failing
    assert umap_coords(x[:5], n_neighbors=15).shape == (5, 2)


def test_umap_coords_hands_umap_the_neighbour_graph_it_would_build_itself():
    """Below EXACT_KNN_ROWS umap_coords passes numpy's pairwise distances as a precomputed
    metric: the fuzzy neighbour graph is umap-learn's own (same edges, weights within 1e-3),
    for cosine and euclidean; pairwise matches a hand computation, zero rows as umap's cosine."""
    import umap

    from asdlab.analysis.embedding_maps import pairwise

    x = np.array([[3.0, 4.0], [0.0, 0.0], [-4.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(pairwise(x, "cosine"), [[0, 1, 1, 1], [1, 0, 1, 0], [1, 1, 0, 1], [1, 0, 1, 0]],
                               atol=1e-7)
    np.testing.assert_allclose(pairwise(x, "euclidean")[0], [0, 5, np.sqrt(50), 5], atol=1e-6)
    assert pairwise(x, "manhattan") is None
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(160, 12)) + 3 * np.repeat(np.eye(12)[:4], 40, axis=0)).astype(np.float32)
    for metric in ("cosine", "euclidean"):
        own = umap.UMAP(n_neighbors=15, metric=metric, random_state=0, n_epochs=1).fit(x).graph_
        ours = umap.UMAP(n_neighbors=15, metric="precomputed", random_state=0, n_epochs=1).fit(
            pairwise(x, metric)).graph_
        assert (own != 0).nnz == (ours != 0).nnz and abs(own - ours).max() < 1e-3, metric
        assert ((own != 0) != (ours != 0)).nnz == 0, metric


UMAP_IN_A_NEW_PROCESS = """
import json, sys
import numpy as np
import umap.umap_
from asdlab.analysis import umap_coords
x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
xy = umap_coords(x, seed=0)
stats = umap.umap_.smooth_knn_dist.stats
print(json.dumps({"xy": xy.tolist(), "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def test_umap_compilations_are_cached_on_disk_and_reused_by_the_next_process():
    """A notebook kernel is a new process: once one process has compiled umap-learn's functions,
    the next loads them from numba's cache (here the environment's own, as in use) instead of
    compiling them again, and maps to the same coordinates."""
    import json
    import subprocess
    import sys

    def run():
        out = subprocess.run([sys.executable, "-c", UMAP_IN_A_NEW_PROCESS], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    first = run()  # compiles and writes the cache, or loads what an earlier process wrote
    second = run()
    assert second["hits"] >= 1 and second["misses"] == 0, second  # loaded, not compiled
    assert second["xy"] == first["xy"]


def test_umap_coords_errors():
    from asdlab.analysis import umap_coords

    with pytest.raises(AsdlabError, match="at least 4 embeddings, got 3"):
        umap_coords(np.ones((3, 4)))
    with pytest.raises(AsdlabError, match=r"2-D array \(N, D\)"):
        umap_coords(np.ones(10))
    bad = np.ones((6, 3))
    bad[2, 1] = np.nan
    with pytest.raises(AsdlabError, match="1 embedding"):
        umap_coords(bad)


def test_run_umap_caches_in_the_run_folder_and_joins_ground_truth(tmp_path, monkeypatch):
    import asdlab.analysis.embedding_maps as an

    meta = _meta()
    save_embeddings(tmp_path, meta, _blobs(4, 3)[:8], centers=np.ones((1, 3)), classes=["fan_00"])
    calls = []

    def fake(emb, seed, n_neighbors, min_dist, metric):
        calls.append((seed, n_neighbors, min_dist, metric))
        return np.stack([np.arange(len(emb)), -np.arange(len(emb))], 1).astype(np.float32) + seed

    monkeypatch.setattr(an, "umap_coords", fake)
    gt = pd.DataFrame({"file": ["t4.wav"], "machine": ["fan"], "true_attributes": ["spd_10"]})
    pts = an.run_umap(tmp_path, ground_truth=gt)
    assert calls == [(0, 15, 0.1, "cosine")]  # a run with centers is mapped by angle
    assert list(pts.columns[:9]) == list(meta.columns) and list(pts["x"]) == list(range(8))
    assert pts.loc[pts["file"] == "t4.wav", "true_attributes"].item() == "spd_10"
    assert pts["true_attributes"].isna().sum() == 7
    cached = list(tmp_path.glob("umap-*.npz"))
    assert len(cached) == 1
    again = an.run_umap(tmp_path)  # same parameters: read from the cache, no UMAP
    assert len(calls) == 1 and np.array_equal(again[["x", "y"]], pts[["x", "y"]])
    an.run_umap(tmp_path, seed=3)  # other parameters: another cache file
    assert len(calls) == 2 and len(list(tmp_path.glob("umap-*.npz"))) == 2
    # new embeddings in the folder invalidate the cache
    for name in ("centers.npy", "classes.csv", "embeddings.npy"):
        (tmp_path / name).unlink()
    save_embeddings(tmp_path, meta, _blobs(4, 3, seed=1)[:8])
    an.run_umap(tmp_path)
    assert calls[-1] == (0, 15, 0.1, "euclidean")  # no centers any more: Euclidean
    assert len(calls) == 3


def test_embedding_status_explains_what_is_missing(tmp_path):
    from asdlab.analysis import embedding_status

    (tmp_path / "config.json").write_text('{"method": "ae_mse"}')
    s = embedding_status(tmp_path)
    assert not s["embeddings"] and not s["centers"] and "ae_mse saves none" in s["note"]
    save_embeddings(tmp_path, _meta(), np.ones((8, 2)))
    s = embedding_status(tmp_path)
    assert s["embeddings"] and not s["centers"] and "no class head" in s["note"]
    save_embeddings(tmp_path, _meta(), np.ones((8, 2)), centers=np.ones((1, 2)), classes=["fan_00"])
    assert embedding_status(tmp_path) == {"embeddings": True, "centers": True, "note": ""}


# ------------------------------------------------------------------- detection by kind / severity

def _scored():
    """fan: 3 source + 2 target normals, anomalies of kinds a (source) and b (target)."""
    rows = [("n1", "source", "normal", 0.1), ("n2", "source", "normal", 0.2), ("n3", "source", "normal", 0.3),
            ("n4", "target", "normal", 0.4), ("n5", "target", "normal", 0.5),
            ("a1", "source", "anomaly", 0.35), ("a2", "source", "anomaly", 0.05),
            ("b1", "target", "anomaly", 0.6), ("b2", "source", "anomaly", 0.25)]
    scores = pd.DataFrame(rows, columns=["file", "domain", "label", "score"]).assign(machine="fan", section="00")
    gt = pd.DataFrame({"file": scores["file"], "machine": "fan",
                       "anomaly_kind": ["", "", "", "", "", "a", "a", "b", "b"],
                       "severity": [0, 0, 0, 0, 0, 0.25, 0.9, 0.1, 0.6]})
    return scores, gt


def test_detection_by_kind_against_hand_computed_aucs():
    from asdlab.analysis import detection_by_kind

    scores, gt = _scored()
    t = detection_by_kind(scores, gt).set_index(["domain", "kind"])
    assert list(t.index.get_level_values("kind")[:3]) == ["a", "b", "all kinds"]
    # kind a (0.35, 0.05) vs all 5 normals: 0.35 beats 3 of them, 0.05 none -> 3/10
    assert t.loc[("all", "a"), "auc"] == pytest.approx(0.3)
    assert t.loc[("all", "a"), ["n_anomaly", "n_normal"]].tolist() == [2, 5]
    # kind b (0.6, 0.25) vs all normals: 5 + 2 of 10
    assert t.loc[("all", "b"), "auc"] == pytest.approx(0.7)
    # source domain: a vs the 3 source normals: (3 + 0) / 6; b only has b2 there: 2/3
    assert t.loc[("source", "a"), "auc"] == pytest.approx(0.5)
    assert t.loc[("source", "b"), "auc"] == pytest.approx(2 / 3)
    # target: only b1, above both target normals; kind a has no target anomaly, so no row
    assert t.loc[("target", "b"), "auc"] == 1.0 and ("target", "a") not in t.index
    y = (scores["label"] == "anomaly").to_numpy()
    assert t.loc[("all", "all kinds"), "auc"] == pytest.approx(roc_auc_score(y, scores["score"]))
    assert t.loc[("all", "all kinds"), "n_anomaly"] == 4


def test_detection_by_severity_bins_and_errors():
    from asdlab.analysis import detection_by_kind, detection_by_severity

    scores, gt = _scored()
    t = detection_by_severity(scores, gt).query("domain == 'all'").set_index("severity")
    # 0.25 and 0.1 fall in the first (closed) bin, 0.6 in (0.5, 0.75], 0.9 in (0.75, 1]
    assert list(t.index) == ["0-0.25", "0.5-0.75", "0.75-1", "all"]
    assert t["n_anomaly"].tolist() == [2, 1, 1, 4]
    # first bin: a1 (0.35) beats 3 of the 5 normals, b1 (0.6) all 5 -> 8/10
    assert t.loc["0-0.25", "auc"] == pytest.approx(0.8)
    assert t.loc["0.75-1", "auc"] == 0.0  # a2 (0.05) is below every normal
    coarse = detection_by_severity(scores, gt, bins=(0.5, 1.0)).query("domain == 'all'")
    assert coarse["severity"].tolist() == ["0.5-1", "all"] and coarse["n_anomaly"].tolist() == [2, 2]
    with pytest.raises(AsdlabError, match="increasing edges"):
        detection_by_severity(scores, gt, bins=(0.5, 0.2))
    empty = detection_by_kind(scores, None)
    assert empty.empty and list(empty.columns) == ["machine", "domain", "kind", "auc", "n_anomaly", "n_normal"]
    assert detection_by_severity(scores, None).empty
    with pytest.raises(AsdlabError, match="1 anomalous clip.* not in the ground truth, first fan/b2"):
        detection_by_kind(scores, gt[gt["file"] != "b2"])


def test_styled_metrics_shows_percent_bold_summary_and_official_score():
    from asdlab.analysis import styled_metrics
    from asdlab.metrics import metrics_table

    sections = pd.DataFrame({"machine": ["fan", "valve"], "section": ["00", "00"],
                             "auc_source": [0.8, 0.6], "auc_target": [0.7, np.nan], "pauc": [0.6, 0.55],
                             "auc": [0.75, 0.6]})
    table = metrics_table(sections)
    html = styled_metrics(table, caption="ae_mse").to_html()
    assert "80.00 %" in html and "70.00 %" in html and ">-<" in html.replace(" ", "")
    assert f"ae_mse | Official score (hmean of every AUC and pAUC): {100 * table.attrs['official_score']:.2f} %" in html
    assert html.count("font-weight: bold") == 1  # one CSS rule for the All (hmean) cells
