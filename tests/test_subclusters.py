"""Sub-cluster views of a run: nearest sub-cluster, angles, summaries and their figures."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import AsdlabError
from asdlab.analysis.subclusters import (load_subcluster_centers, nearest_subcluster, subcluster_angle_summary,
                                subcluster_table, subcluster_usage)
from asdlab.viz import embedding_map, grid_heatmaps, subcluster_angle_scatter


def _unit(deg):
    r = np.radians(deg)
    return np.array([np.cos(r), np.sin(r)])


def test_nearest_subcluster_picks_the_closest_center_of_the_clips_own_class():
    # class 0: centers at 0 and 90 deg; class 1: centers at 180 and 270 deg (scaled: norms do not matter)
    sub = np.stack([np.stack([_unit(0), 3 * _unit(90)]), np.stack([_unit(180), _unit(270)])])
    emb = np.stack([2 * _unit(80), _unit(10), _unit(80), _unit(200)])
    cls = np.array([0, 0, 1, 1])
    best, angle = nearest_subcluster(emb, sub, cls)
    assert best.tolist() == [1, 0, 0, 0]
    # the clip at 80 deg of class 1 is 100 deg from 180 and 170 deg from 270: its own class only
    np.testing.assert_allclose(angle, [10, 10, 100, 20], atol=1e-9)


def _fake_run(folder):
    """Two classes of one machine, K = 2, six clips (one of unknown class)."""
    sub = np.stack([np.stack([_unit(0), _unit(60)]), np.stack([_unit(180), _unit(240)])])
    centers = np.stack([_unit(30), _unit(210)])
    angles = [5, 50, 190, 20, 70, 90]
    meta = pd.DataFrame({"file": [f"f{i}.wav" for i in range(6)], "machine": "fan", "section": "00",
                         "domain": ["source", "source", "target", "source", "target", "source"],
                         "label": ["normal", "normal", "normal", "normal", "anomaly", "anomaly"],
                         "split": ["train", "train", "train", "test", "test", "test"],
                         "attributes": "", "class": ["a", "a", "b", "a", "a", ""],
                         "class_index": [0, 0, 1, 0, 0, -1]})
    save_embeddings(folder, meta, np.stack([_unit(a) for a in angles]), centers, ["a", "b"])
    np.save(folder / "subcluster_centers.npy", sub.astype(np.float32))
    return folder


def test_subcluster_table_gives_both_angles_and_drops_unknown_classes(tmp_path):
    run = _fake_run(tmp_path)
    t = subcluster_table(run)
    assert len(t) == 5 and "f5.wav" not in set(t["file"])
    np.testing.assert_allclose(t["angle_class"], [25, 20, 20, 10, 40], atol=1e-4)
    np.testing.assert_allclose(t["angle_subcluster"], [5, 10, 10, 20, 10], atol=1e-4)
    assert t["subcluster"].tolist() == [0, 1, 0, 0, 1]
    test = subcluster_table(run, split="test")
    assert test["file"].tolist() == ["f3.wav", "f4.wav"]
    gt = pd.DataFrame({"file": ["f3.wav"], "machine": ["fan"], "anomaly_kind": [""]})
    assert "anomaly_kind" in subcluster_table(run, "test", ground_truth=gt).columns


def test_runs_without_subcluster_centers_are_refused_by_name(tmp_path):
    run = _fake_run(tmp_path)
    (run / "subcluster_centers.npy").unlink()
    with pytest.raises(AsdlabError, match="subcluster_centers.npy"):
        subcluster_table(run)
    with pytest.raises(AsdlabError, match="not a sub-cluster method"):
        load_subcluster_centers(run)


def _table(rng, n=40):
    return pd.DataFrame({"machine": rng.choice(["fan", "valve"], n), "split": "test",
                         "label": np.where(np.arange(n) % 3 == 0, "anomaly", "normal"),
                         "angle_class": rng.uniform(0, 90, n), "angle_subcluster": rng.uniform(0, 90, n)})


def test_angle_summary_aucs_match_scikit_learn():
    t = _table(np.random.default_rng(0))
    s = subcluster_angle_summary(t)
    assert s.index.tolist() == ["fan", "valve", "All"]
    y = t["label"] == "anomaly"
    assert s.loc["All", "auc_subcluster"] == pytest.approx(roc_auc_score(y, t["angle_subcluster"]))
    fan = t[t["machine"] == "fan"]
    assert s.loc["fan", "auc_class"] == pytest.approx(roc_auc_score(fan["label"] == "anomaly", fan["angle_class"]))
    assert s.loc["All", "median_normal_class"] == pytest.approx(np.median(t.loc[~y, "angle_class"]))


def test_usage_counts_occupied_subclusters_per_class():
    t = pd.DataFrame({"machine": ["fan"] * 6 + ["valve"] * 2, "split": "train",
                      "class": ["a", "a", "a", "a", "b", "b", "c", "c"],
                      "subcluster": [0, 0, 0, 3, 1, 1, 2, 2]})
    u = subcluster_usage(t, k=4)
    assert u.loc["fan", "classes"] == 2 and u.loc["fan", "subclusters_per_class"] == 4
    assert u.loc["fan", "used_subclusters"] == pytest.approx(1.5)        # class a uses 2, b uses 1
    assert u.loc["fan", "largest_share"] == pytest.approx((0.75 + 1.0) / 2)
    assert u.loc["valve", "used_subclusters"] == 1


def test_grid_heatmaps_show_percent_cells_and_leave_missing_ones_blank():
    g = pd.DataFrame([[0.61, 0.62], [0.635, np.nan]], index=pd.Index([1, 16], name="SC"),
                     columns=pd.Index([1, 16], name="SC(FeatEx)"))
    fig = grid_heatmaps({"mean AUC": g, "official score": g - 0.01})
    assert len(fig.data) == 2
    assert [list(r) for r in fig.data[0].text] == [["61.0", "62.0"], ["63.5", ""]]
    assert list(fig.data[0].x) == ["1", "16"] and list(fig.data[0].y) == ["1", "16"]


def test_angle_scatter_has_one_pair_of_traces_per_machine_choice_and_a_diagonal():
    t = _table(np.random.default_rng(1))
    fig = subcluster_angle_scatter(t)
    assert len(fig.data) == 2 * 3 + 1                      # all, fan, valve x normal/anomaly, diagonal
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["all machines", "fan", "valve"]
    assert buttons[2].args[0]["visible"] == [False] * 4 + [True, True, True]
    normal_all = fig.data[0]
    assert len(normal_all.x) == (t["label"] == "normal").sum()


def test_embedding_map_colors_by_subcluster():
    pts = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.5], "file": ["a", "b", "c"],
                        "machine": "fan", "split": ["train", "train", "test"], "domain": "source",
                        "label": "normal", "subcluster": ["fan/00 #0", "fan/00 #1", "fan/00 #0"]})
    fig = embedding_map(pts, color_by=("subcluster", "domain"))
    assert fig.layout.updatemenus[0].buttons[0].label == "sub-cluster (class #index)"
    train = fig.data[0]
    assert train.marker.color[0] != train.marker.color[1]
    assert fig.data[1].marker.color[0] == train.marker.color[0]


def test_notebook_parameters_are_checked_by_name():
    from asdlab.core.errors import ConfigError
    from asdlab.analysis.subclusters import check_subcluster_methods

    check_subcluster_methods(["sc_adacos"], [[1, 16], (16, 16)])
    with pytest.raises(ConfigError, match="methods=\\['tastgram_ce'\\]"):
        check_subcluster_methods(["tastgram_ce"])
    with pytest.raises(ConfigError, match="methods=\\[\\]"):
        check_subcluster_methods([])
    for bad in ([[1, 0]], [[1]], [16, 16], [], [[1.5, 2]]):
        with pytest.raises(ConfigError, match="grid="):
            check_subcluster_methods(["sc_noisy_arcmix"], bad)
