"""What notebook 05 shows of a guided-clustering run: the loaders, tables and figures."""

import json

import numpy as np
import pandas as pd
import pytest

from asdlab.analysis import pseudo_labels as pl
from asdlab.analysis.compare import style_best
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.viz import pseudo_label_maps, silhouette_figure

TABLE = "machine,AUC source,AUC target,pAUC\nfan,0.8,0.6,0.55\ngearbox,0.9,0.5,0.6\nAll (hmean),{a},{b},{c}\n"


def _run(folder):
    (folder / "table.csv").write_text(TABLE.format(a=0.85, b=0.55, c=0.57))
    (folder / pl.TABLE_MACHINE_ONLY).write_text(TABLE.replace("0.9,0.5", "0.7,0.4").format(a=0.75, b=0.48, c=0.57))
    (folder / pl.GAIN_JSON).write_text(json.dumps({"official_score": {"pseudo": 0.62, "machine_only": 0.58,
                                                                      "gain": 0.04}}))
    (folder / "history.csv").write_text(
        "stage,round,nmi_prev,nmi_machine,n_nonempty,largest_cluster,epoch,train_loss,ce_loss,pair_loss\n"
        "pretrain,0.0,,0.5,4.0,10.0,0,2.0,2.0,\npretrain,1.0,0.7,0.6,4.0,9.0,0,1.5,1.5,\n"
        "finetune,,,,,,0,1.0,0.8,0.2\n")
    (folder / pl.PSEUDO_K_FILE).write_text("machine,k,silhouette,chosen\ngearbox,2,0.5,True\ngearbox,3,0.4,False\n"
                                           "slider,2,0.2,False\nslider,3,0.3,True\n")
    return folder


def test_with_without_table_puts_both_detectors_side_by_side(tmp_path):
    t = pl.with_without_table(_run(tmp_path))
    assert list(t.columns.get_level_values("method").unique()) == ["pseudo labels", "machine-only labels"]
    assert t.loc["gearbox", ("pseudo labels", "AUC source")] == 0.9
    assert t.loc["gearbox", ("machine-only labels", "AUC target")] == 0.4
    assert t.loc["Official score", ("machine-only labels", "AUC source")] == 0.58
    html = style_best(t).to_html()
    assert "90.00%" in html and "62.00%" in html


def test_with_without_table_names_the_missing_file(tmp_path):
    _run(tmp_path)
    (tmp_path / pl.TABLE_MACHINE_ONLY).unlink()
    with pytest.raises(AsdlabError, match="table_machine_only.csv"):
        pl.with_without_table(tmp_path)


def test_pretraining_rounds_keep_the_deepcluster_rounds_only(tmp_path):
    r = pl.pretraining_rounds(_run(tmp_path))
    assert r["round"].tolist() == [0, 1]
    assert np.isnan(r.loc[0, "nmi_prev"]) and r.loc[1, "nmi_prev"] == 0.7
    assert r["train_loss"].tolist() == [2.0, 1.5]


def test_silhouette_figure_marks_the_chosen_k(tmp_path):
    fig = silhouette_figure(pl.silhouettes(_run(tmp_path)))
    chosen = {t.legendgroup: list(t.x) for t in fig.data if t.name.endswith("chosen")}
    assert chosen == {"gearbox": [2], "slider": [3]}


def test_pseudo_label_maps_color_each_panel_by_its_column_with_its_own_legend():
    pts = pd.DataFrame({"x": [0, 1, 2, 3.0], "y": [0, 1, 0, 1.0], "file": list("abcd"),
                        "pseudo_label": [0, 0, 1, 1], "true_attributes": ["v1", "v2", "v2", None]})
    fig = pseudo_label_maps(pts, "gearbox")
    left = [t for t in fig.data if t.legend in (None, "legend")]
    right = [t for t in fig.data if t.legend == "legend2"]
    assert [t.name for t in left] == ["0", "1"] and [t.name for t in right] == ["v1", "v2", "unknown"]
    assert [len(t.x) for t in right] == [1, 2, 1]
    assert fig.layout.title.text == "gearbox: pseudo labels vs true attributes"
    with pytest.raises(ValueError, match="pseudo_label"):
        pseudo_label_maps(pts.drop(columns="pseudo_label"), "gearbox")
    # real DCASE data have no ground truth: the right panel says so and holds every clip as unknown
    real = pseudo_label_maps(pts.drop(columns="true_attributes"), "gearbox")
    unknown = [t for t in real.data if t.legend == "legend2"]
    assert [t.name for t in unknown] == ["unknown"] and len(unknown[0].x) == 4
    assert "unknown for this data" in real.layout.annotations[1].text


def test_machine_points_maps_one_machines_clips(tmp_path):
    rng = np.random.default_rng(0)
    n = 24
    meta = pd.DataFrame({"file": [f"f{i}.wav" for i in range(n)], "machine": ["gearbox"] * 20 + ["fan"] * 4,
                         "section": "00", "domain": "source", "label": "normal",
                         "split": ["train"] * 16 + ["test"] * 4 + ["train"] * 4, "attributes": "noAttribute",
                         "class": "gearbox/00", "class_index": 0, "pseudo_label": [0, 1] * 8 + [-1] * 8})
    save_embeddings(tmp_path, meta, rng.normal(size=(n, 6)).astype(np.float32))
    gt = pd.DataFrame({"file": meta["file"], "machine": meta["machine"], "true_attributes": "v1"})
    p = pl.machine_points(tmp_path, "gearbox", seed=0, ground_truth=gt)
    assert len(p) == 16 and set(p["split"]) == {"train"} and {"x", "y", "true_attributes"} <= set(p.columns)
    again = pl.machine_points(tmp_path, "gearbox", seed=0)
    np.testing.assert_array_equal(p[["x", "y"]].to_numpy(), again[["x", "y"]].to_numpy())
    assert len(pl.machine_points(tmp_path, "gearbox", split=None)) == 20
    with pytest.raises(AsdlabError, match="valve"):
        pl.machine_points(tmp_path, "valve")


def test_notebook_method_parameter_is_checked():
    assert pl.check_pseudo_label_method(["guided_clustering"]) == "guided_clustering"
    for bad in ("guided_clustering", ["sc_adacos"], [], ["guided_clustering", "guided_clustering"]):
        with pytest.raises(ConfigError, match="methods="):
            pl.check_pseudo_label_method(bad)
