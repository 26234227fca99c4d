"""Seed statistics: the run layout of several training seeds, training the missing ones, mean ± sd
tables with a best marked only beyond the spread, and notebook 03 with ``seeds=[0, 1]``."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import papermill as pm
import pytest
from scipy.stats import hmean

import asdlab.runs.folder as folder_module
from asdlab.analysis.compare import (OFFICIAL_ROW, beyond_spread, mean_sd_text, missing_runs, seed_best_mask,
                                     seed_compare_table, seed_leaderboard, seed_overview, seed_scores_figure,
                                     style_seeds)
from asdlab.core.errors import ConfigError
from asdlab.methods import SCORE_COLUMNS
from asdlab.metrics import ALL_ROW
from asdlab.runs.seeds import check_seeds, seed_run_folders, seed_runs

ROOT = Path(__file__).resolve().parents[1]
COLS = ["AUC source", "AUC target", "pAUC"]


def make_run(folder: Path, rows: dict[str, tuple], score: float, seed: int) -> Path:
    """A hand-made run folder with Table 1 ``rows`` (machine -> AUC source, AUC target, pAUC)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"method": folder.name, "preset": "smoke", "seed": seed,
                                                    "data": "/d"}))
    for name in ("scores.csv", "train_scores.csv"):
        (folder / name).write_text(",".join(SCORE_COLUMNS) + "\n")
    table = pd.DataFrame.from_dict(rows, orient="index", columns=COLS).rename_axis("machine")
    table.loc[ALL_ROW] = 0.0  # recomputed on reading
    table.to_csv(folder / "table.csv")
    (folder / "metrics.csv").write_text("machine,section\nfan,00\n")
    (folder / "summary.json").write_text(json.dumps({"official_score": score, "official_ci95": 0.01 * (seed + 1)}))
    return folder


# a: three seeds; b: seeds 0 and 1 (its seed 2 never trained). pAUC values are binary fractions so
# that the valve pAUC margin equals the spread exactly.
A = {0: ({"fan": (0.80, 0.60, 0.50), "valve": (0.70, 0.60, 0.5)}, 0.60),
     1: ({"fan": (0.82, 0.62, 0.52), "valve": (0.70, 0.62, 0.5625)}, 0.62),
     2: ({"fan": (0.84, 0.64, 0.54), "valve": (0.70, 0.64, 0.625)}, 0.64)}
B = {0: ({"fan": (0.70, 0.63, 0.50), "valve": (0.60, 0.50, 0.5)}, 0.55),
     1: ({"fan": (0.75, 0.61, 0.51), "valve": (0.62, 0.50, 0.5)}, 0.56)}


@pytest.fixture(name="runs")
def _runs(tmp_path):
    folders = seed_run_folders(["a", "b"], tmp_path, [0, 1, 2])
    for method, made in (("a", A), ("b", B)):
        for seed, (rows, score) in made.items():
            make_run(folders[method][seed], rows, score, seed)
    return folders


def test_layout_first_seed_in_place_further_seeds_in_their_folders(tmp_path):
    folders = seed_run_folders(["ae_mse"], tmp_path, [3, 0])
    assert folders == {"ae_mse": {3: tmp_path / "ae_mse", 0: tmp_path / "seed0" / "ae_mse"}}
    assert check_seeds((0, 1, 2)) == [0, 1, 2]
    for bad, message in [([], r"seeds=\[\]: give at least one seed"), ("012", "must be a list"),
                         ([0, -1], "-1 is not a non-negative integer"), ([0, True], "True is not"),
                         ([1, 2, 1], "seed 1 is given more than once")]:
        with pytest.raises(ConfigError, match=message):
            check_seeds(bad)


def test_seed_runs_trains_the_missing_further_seeds(tmp_path, monkeypatch):
    calls = []

    def fake_run(method, data, out, preset, seed, **kw):
        calls.append((method, seed, Path(out)))
        if method == "ae_mahala":
            raise RuntimeError("boom")
        return out

    monkeypatch.setattr(folder_module, "run_method", fake_run)
    lines = []
    got = seed_runs(["ae_mse"], tmp_path / "data", tmp_path / "runs", "smoke", [0, 2], train_first=False,
                    log=lines.append)
    assert got == {"ae_mse": {0: tmp_path / "runs" / "ae_mse", 2: tmp_path / "runs" / "seed2" / "ae_mse"}}
    assert calls == [("ae_mse", 2, tmp_path / "runs" / "seed2" / "ae_mse")]
    assert lines == [f"training ae_mse, seed 2 -> {tmp_path / 'runs' / 'seed2' / 'ae_mse'}"]
    calls.clear()
    seed_runs(["ae_mse"], tmp_path / "data", tmp_path / "runs", "smoke", [0, 2])
    assert [c[1] for c in calls] == [0, 2]
    with pytest.raises(RuntimeError, match="boom"):
        seed_runs(["ae_mahala"], tmp_path / "data", tmp_path / "runs", "smoke", [0, 1])
    with pytest.warns(UserWarning, match=r"ae_mahala seed 1 .*RuntimeError: boom"):
        seed_runs(["ae_mahala"], tmp_path / "data", tmp_path / "runs", "smoke", [0, 1], keep_going=True,
                  train_first=False)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        seed_runs(["nope"], tmp_path / "data", tmp_path / "runs", "smoke", [0, 1])


def test_mean_sd_and_n_of_every_cell(runs):
    with pytest.warns(UserWarning, match=r"b, seed 2 \(.*missing\)"):
        stats = seed_compare_table(runs)
    assert list(stats.index) == ["fan", "valve", ALL_ROW, OFFICIAL_ROW]
    assert stats.columns.names == ["method", "metric", "stat"]
    assert stats.attrs["seeds"] == [0, 1, 2] and list(stats.attrs["missing"]) == ["b, seed 2"]
    assert stats.attrs["official_score"] == {"a": {0: 0.60, 1: 0.62, 2: 0.64}, "b": {0: 0.55, 1: 0.56}}
    cell = stats.loc["fan", ("a", "AUC source")]
    assert cell["mean"] == pytest.approx(0.82) and cell["sd"] == pytest.approx(0.02) and cell["n"] == 3
    cell = stats.loc["fan", ("b", "AUC source")]
    assert cell["mean"] == pytest.approx(0.725) and cell["sd"] == pytest.approx(np.std([0.70, 0.75], ddof=1))
    assert cell["n"] == 2
    # All (hmean): the mean of each seed's own harmonic mean over machines
    expected = np.mean([hmean([0.80, 0.70]), hmean([0.82, 0.70]), hmean([0.84, 0.70])])
    assert stats.loc[ALL_ROW, ("a", "AUC source", "mean")] == pytest.approx(expected)
    assert stats.loc[OFFICIAL_ROW, ("a", "AUC source", "mean")] == pytest.approx(0.62)
    assert stats.loc[OFFICIAL_ROW, ("a", "AUC target", "n")] == 0
    assert list(missing_runs(stats).index) == ["b, seed 2"]

    board = seed_leaderboard(stats)
    assert list(board.index) == ["a", "b"]
    assert board.loc["b", (OFFICIAL_ROW, "mean")] == pytest.approx(0.555)
    assert board.loc["b", (OFFICIAL_ROW, "n")] == 2


def test_best_is_marked_only_beyond_the_spread(runs):
    stats = seed_compare_table(runs, warn=False)
    mask = seed_best_mask(stats)
    marked = {(row, col) for row in mask.index for col in mask.columns if mask.loc[row, col]}
    assert {(r, c) for r, c in marked if r in ("fan", "valve", OFFICIAL_ROW)} == {
        ("fan", ("a", "AUC source")),     # 0.82 vs 0.725: 0.095 > max(0.020, 0.035)
        ("valve", ("a", "AUC source")),   # 0.70 (sd 0) vs 0.61 (sd 0.014)
        ("valve", ("a", "AUC target")),   # 0.62 vs 0.50 (sd 0): 0.12 > 0.02
        (OFFICIAL_ROW, ("a", "AUC source")),
    }   # not: fan AUC target (equal means), fan pAUC (0.015 < 0.02), valve pAUC (0.0625 = 0.0625)

    board = seed_best_mask(seed_leaderboard(stats))
    assert board.loc["a", OFFICIAL_ROW] and not board.loc["b"].any()

    text = mean_sd_text(stats)
    assert text.loc["fan", ("a", "AUC source")] == "82.00 ± 2.00"
    assert text.loc["fan", ("b", "AUC source")] == "72.50 ± 3.54 (n=2)"
    assert text.loc[OFFICIAL_ROW, ("a", "AUC target")] == "-"
    html = style_seeds(stats).set_uuid("s").to_html()
    style = html.split("</style>")[0]
    bold = {(int(r), int(c)) for block in re.findall(r"([^{}]*)\{\s*font-weight: bold;", style)
            for r, c in re.findall(r"#T_s_row(\d+)_col(\d+)", block)}
    columns = list(text.columns)
    assert bold == {(list(text.index).index(r), columns.index(c)) for r, c in marked}
    assert "Mean ± sample sd over 3 seeds (0, 1, 2)" in html and "larger of the two sample sds" in html
    assert ">82.00 ± 2.00<" in html

    fig = seed_scores_figure(stats)
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == pytest.approx([62.0, 55.5])
    assert fig.data[0].marker.color[0] != fig.data[0].marker.color[1]       # a beyond the spread
    assert list(fig.data[1].y) == pytest.approx([60, 62, 64, 55, 56])      # every seed a dot


def test_beyond_spread_rule():
    def mark(means, sds, ns):
        idx = [f"m{i}" for i in range(len(means))]
        s = lambda v: pd.Series(v, index=idx, dtype=float)  # noqa: E731
        return [k for k, v in beyond_spread(s(means), s(sds), s(ns)).items() if v]

    assert mark([0.70, 0.65], [0.01, 0.02], [3, 3]) == ["m0"]
    assert mark([0.70, 0.65], [0.01, 0.05], [3, 3]) == []           # within the larger sd
    # beats the next best clearly, but not a noisy third method
    assert mark([0.70, 0.65, 0.60], [0.01, 0.01, 0.20], [3, 3, 3]) == []
    assert mark([0.70, 0.50], [np.nan, 0.01], [1, 3]) == []          # one seed: no sd, no mark
    assert mark([0.70, np.nan], [0.01, np.nan], [3, 0]) == []        # nothing to compare with
    assert mark([0.70, 0.70], [0.0, 0.0], [2, 2]) == []              # a tie


def test_overview_of_every_method_and_seed(runs, tmp_path):
    ov = seed_overview(runs, preset="smoke")
    assert list(ov.index) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert ov.index.names == ["method", "seed"]
    assert ov.loc[("b", 2), "status"] == "missing" and ov.loc[("a", 1), "official_score"] == 0.62
    assert ov.loc[("a", 2), "official_ci95"] == pytest.approx(0.03)
    wrong = {"a": {5: runs["a"][1]}}
    assert seed_overview(wrong).loc[("a", 5), "note"] == "seed 1, not 5"


def _outputs(nb: dict, needle: str) -> str:
    """Text and HTML outputs of the code cells whose source mentions ``needle``."""
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and needle in "".join(cell["source"]):
            for o in cell.get("outputs", []):
                data = o.get("data", {})
                out.append("".join(data.get("text/plain", "")) + "".join(data.get("text/html", ""))
                           + "".join(data.get("text/markdown", "")) + "".join(o.get("text", "")))
    return "\n".join(out)


@pytest.mark.parametrize("dataset", ["factory", "dcase"])
def test_compare_notebook_with_two_seeds(tmp_path, dataset, make_dcase_tree):
    if dataset == "factory":
        from asdlab.data.synth import generate_dataset

        data = generate_dataset(tmp_path / "data", "smoke", machines=["fan"], progress=False)
    else:
        data = make_dcase_tree(tmp_path / "data", machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                               seconds=1.0, n_train=5, n_test=3)
    runs = tmp_path / "runs"
    methods = ["ae_mse", "raw_spec"]
    for m in methods:  # the first seed's runs, as notebook 01 makes them
        folder_module.run_method(m, data, runs / m, preset="smoke", seed=0, progress=False)
    nb = jupytext.read(ROOT / "notebooks" / "03_compare_methods.py")
    out = tmp_path / "out.ipynb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False,
                            parameters={"preset": "smoke", "data_dir": str(data), "runs_dir": str(runs),
                                        "methods": methods, "seeds": [0, 1], "interactive": False})
    executed = json.loads(out.read_text())
    for m in methods:
        summary = json.loads((runs / "seed1" / m / "summary.json").read_text())
        assert json.loads((runs / "seed1" / m / "config.json").read_text())["seed"] == 1
        low, high = summary["official_interval"]
        assert low < summary["official_score"] < high and summary["official_ci95"] > 0
    overview = _outputs(executed, "seed_overview")
    assert "official_ci95" in overview and "seed1" in overview
    seeds_section = _outputs(executed, "seed_leaderboard")
    assert "Mean ± sample sd over 2 seeds (0, 1)" in seeds_section and " ± " in seeds_section
    assert "ae_mse" in seeds_section and "raw_spec" in seeds_section
    assert "Mean ± sample sd over 2 seeds" in _outputs(executed, "style_seeds(stats) if several")
