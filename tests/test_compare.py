"""Methods side by side: the comparison table, best-value marking, missing runs, the bar figure."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hmean

from asdlab.analysis.compare import (OFFICIAL_ROW, best_mask, compare_html, compare_table, leaderboard, method_runs,
                            missing_runs, official_scores_figure, percent_style, run_overview,
                            style_best)
from asdlab.core.errors import ConfigError
from asdlab.methods import SCORE_COLUMNS, list_methods
from asdlab.metrics import ALL_ROW

COLS = ["AUC source", "AUC target", "pAUC"]


def make_run(folder: Path, rows: dict[str, tuple] | None, score: float = 0.5, preset: str = "smoke") -> Path:
    """A hand-made run folder; ``rows``: machine -> (AUC source, AUC target, pAUC), or None
    for a run without metrics (unknown test labels)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"method": folder.name, "preset": preset, "seed": 0, "data": "/d"}))
    for name in ("scores.csv", "train_scores.csv"):
        (folder / name).write_text(",".join(SCORE_COLUMNS) + "\n")
    if rows is not None:
        table = pd.DataFrame.from_dict(rows, orient="index", columns=COLS).rename_axis("machine")
        table.loc[ALL_ROW] = 0.0  # recomputed on reading
        table.to_csv(folder / "table.csv")
        (folder / "metrics.csv").write_text("machine,section\nfan,00\n")
        (folder / "summary.json").write_text(json.dumps({"official_score": score}))
    return folder


@pytest.fixture(name="runs")
def _runs(tmp_path):
    return {
        "a": make_run(tmp_path / "a", {"fan": (0.80, 0.60, 0.55), "valve": (0.70, 0.65, 0.50)}, score=0.62),
        "b": make_run(tmp_path / "b", {"fan": (0.90, 0.60, 0.52), "valve": (0.60, 0.75, 0.58)}, score=0.66),
        "gone": tmp_path / "gone",
        "eval": make_run(tmp_path / "eval", None),
    }


def test_table_puts_every_method_side_by_side_and_names_missing_runs(runs):
    with pytest.warns(UserWarning, match=r"gone .*missing.*eval .*no metrics"):
        df = compare_table(runs)
    assert list(df.index) == ["fan", "valve", ALL_ROW, OFFICIAL_ROW]
    assert list(df.columns) == [(m, c) for m in ("a", "b", "gone", "eval") for c in COLS]
    assert df.columns.names == ["method", "metric"]
    assert df.loc["valve", ("b", "AUC target")] == 0.75
    assert df.loc[ALL_ROW, ("a", "AUC source")] == pytest.approx(hmean([0.80, 0.70]))
    assert df.loc[OFFICIAL_ROW, ("b", "AUC source")] == 0.66
    assert df.loc[OFFICIAL_ROW, [("b", "AUC target"), ("b", "pAUC")]].isna().all()
    assert df[["gone", "eval"]].isna().all().all()          # kept, empty
    assert set(df.attrs["missing"]) == {"gone", "eval"} and "missing" in df.attrs["missing"]["gone"]
    assert df.attrs["official_score"] == {"a": 0.62, "b": 0.66}

    board = leaderboard(df)
    assert list(board.index) == ["b", "a", "gone", "eval"]
    assert list(board.columns) == [*COLS, OFFICIAL_ROW]
    assert board.loc["a", "AUC source"] == pytest.approx(hmean([0.80, 0.70])) and board.loc["b", OFFICIAL_ROW] == 0.66
    assert board.loc[["gone", "eval"]].isna().all().all()
    gone = missing_runs(df)
    assert list(gone.index) == ["gone", "eval"] and gone.loc["eval", "why"].endswith("no metrics (test labels unknown)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compare_table(runs, warn=False).attrs["missing"] == df.attrs["missing"]
    assert missing_runs(compare_table({"a": runs["a"]})).empty


def test_machines_of_all_runs_are_rows(tmp_path):
    runs = {"a": make_run(tmp_path / "a", {"fan": (0.8, 0.6, 0.5)}),
            "c": make_run(tmp_path / "c", {"slider": (0.7, 0.7, 0.7), "fan": (0.9, 0.9, 0.9)})}
    df = compare_table(runs)
    assert list(df.index) == ["fan", "slider", ALL_ROW, OFFICIAL_ROW]
    assert np.isnan(df.loc["slider", ("a", "pAUC")]) and df.loc["slider", ("c", "pAUC")] == 0.7


def test_best_value_per_row_and_metric_is_marked(runs):
    with pytest.warns(UserWarning):
        df = compare_table(runs)
    mask = best_mask(df)
    best = {(row, col) for row in mask.index for col in mask.columns if mask.loc[row, col]}
    assert best == {("fan", ("b", "AUC source")), ("fan", ("a", "pAUC")),
                    ("fan", ("a", "AUC target")), ("fan", ("b", "AUC target")),   # a tie: both
                    ("valve", ("a", "AUC source")), ("valve", ("b", "AUC target")), ("valve", ("b", "pAUC")),
                    (ALL_ROW, ("a", "AUC source")), (ALL_ROW, ("b", "AUC target")), (ALL_ROW, ("b", "pAUC")),
                    (OFFICIAL_ROW, ("b", "AUC source"))}
    # one method alone: nothing to compare, nothing marked
    assert not best_mask(df[["a"]]).to_numpy().any()

    page = compare_html(df)
    metrics = list(df.columns.get_level_values("metric").unique())
    rows = [r for r in df.index if r != OFFICIAL_ROW]
    for k, metric in enumerate(metrics):  # one machine x method table per metric
        start = page.index(f'<style type="text/css">', page.index(f"<summary>{metric}</summary>"))
        style = page[start:page.index("</style>", start)]
        bold = {(int(r), int(c)) for block in re.findall(r"([^{}]*)\{\s*font-weight: bold;", style)
                for r, c in re.findall(rf"#T_compare{k}_row(\d+)_col(\d+)", block)}
        methods = list(df.columns.get_level_values("method").unique())
        expected = {(rows.index(r), methods.index(c[0])) for r, c in best if c[1] == metric and r in rows}
        assert bold == expected, metric
    assert page.count("<details") == len(metrics) and page.count("<details open>") == 1
    assert ">90.00%<" in page and ">66.00%<" in page
    # the leaderboard first: b (66 %) above a (62 %), its best official score bold
    lead = page[:page.index('id="T_compare0"')]
    assert lead.index(">b<") < lead.index(">a<")
    assert re.search(r"#T_leaderboard_row0_col3[^{]*\{\s*font-weight: bold", lead)
    assert not re.search(r"#T_leaderboard_row1_col3[^{]*\{\s*font-weight: bold", lead)
    assert "Runs left out" in page and "<b>gone</b>" in page and "<b>eval</b>" in page
    assert style_best(df).data is df
    with pytest.warns(UserWarning):
        empty = compare_table({"gone": runs["gone"]})
    assert list(empty.index) == [ALL_ROW, OFFICIAL_ROW]
    assert "No run folder with metrics" in compare_html(empty) and "<b>gone</b>" in compare_html(empty)


def test_official_scores_figure_highlights_the_best_and_names_the_missing(runs):
    with pytest.warns(UserWarning):
        df = compare_table(runs)
    fig = official_scores_figure(df)
    bar = fig.data[0]
    assert list(bar.x) == ["a", "b"] and list(bar.y) == pytest.approx([62.0, 66.0])
    assert bar.marker.color[1] != bar.marker.color[0]
    assert "no score: gone, eval" in fig.layout.title.text
    df.attrs = {}   # a table without attrs: read from the official-score row
    assert list(official_scores_figure(df).data[0].y) == pytest.approx([62.0, 66.0])


def test_overview_and_run_folders(runs, tmp_path):
    ov = run_overview(runs)
    assert list(ov["status"]) == ["ok", "ok", "missing", "no metrics (test labels unknown)"]
    assert ov.loc["b", "official_score"] == 0.66 and np.isnan(ov.loc["eval", "official_score"])
    assert ov.loc["a", "preset"] == "smoke" and ov.loc["a", "note"] == ""
    assert np.isnan(ov.loc["a", "official_ci95"])        # no test clips in this hand-made run
    # a run made before summary.json held the interval: computed from its scores
    scores = pd.DataFrame({"file": [f"c{i}.wav" for i in range(6)], "machine": "fan", "section": "00",
                           "domain": None, "label": ["normal"] * 3 + ["anomaly"] * 3,
                           "score": [0.1, 0.5, 0.2, 0.4, 0.9, 0.8], "decision": 0})
    scores.to_csv(runs["a"] / "scores.csv", index=False)
    from asdlab.metrics.jackknife import official_jackknife
    assert run_overview(runs).loc["a", "official_ci95"] == pytest.approx(
        official_jackknife(scores, 0.62)["official_ci95"])
    assert run_overview(runs, seed=1).loc["a", "note"] == "seed 0, not 1"
    shown = percent_style(ov, ["official_score"]).to_html()
    assert ">66.00%<" in shown and ">0.66<" not in shown
    flagged = run_overview(runs, preset="course", data=tmp_path)
    assert flagged.loc["a", "note"] == "preset 'smoke', not 'course'; made on /d"
    assert flagged.loc["gone", "note"] == ""
    assert list(method_runs(tmp_path)) == [m.name for m in list_methods()]
    assert method_runs(tmp_path, ["ae_mse"]) == {"ae_mse": tmp_path / "ae_mse"}
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        method_runs(tmp_path, ["nope"])


def test_tables_of_the_2020_protocol_compare_under_their_own_summary_row():
    """Runs scored under the 2020 protocol end in ``All (mean)``: it is the summary row of the
    comparison (not a machine row) and the leaderboard reads it."""
    from asdlab.analysis.compare import side_by_side
    from asdlab.metrics import metrics_table, section_metrics

    rng = np.random.default_rng(0)
    rows = [{"machine": m, "section": s, "label": lab, "score": float(rng.normal(lab == "anomaly"))}
            for m in ("fan", "pump") for s in ("00", "02") for lab in ("normal", "anomaly") for _ in range(5)]
    scores = pd.DataFrame(rows).assign(domain=None)
    tables = {name: metrics_table(section_metrics(scores.assign(score=scores["score"] * k), "dcase2020"), "dcase2020")
              for name, k in (("a", 1.0), ("b", -1.0))}
    df = side_by_side(tables, {"a": 0.7, "b": 0.3})
    assert list(df.index) == ["fan (00)", "fan (02)", "pump (00)", "pump (02)", "All (mean)", OFFICIAL_ROW]
    board = leaderboard(df)
    assert list(board.index) == ["a", "b"]
    assert board.loc["a", "pAUC"] == pytest.approx(tables["a"].loc["All (mean)", "pAUC"])
