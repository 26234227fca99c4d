"""The factory calibration benchmark's arithmetic: the 2020 official score, the table over seeds,
the checks (a)-(d) in both directions, the per-kind AUCs, and the markdown writer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from asdlab.analysis import calibration as cal
from asdlab.core.errors import AsdlabError
from asdlab.core.markdown import markdown_table


def _run(folder, rows, official=None):
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    if official is not None:
        (folder / "summary.json").write_text(json.dumps({"official_score": official}))
    return folder


def test_official_2020_is_the_mean_over_types_of_each_types_mean_auc_and_pauc():
    """ASDKit's ``official20``: each type's mean over its IDs first, so a type with fewer IDs
    (real ToyConveyor: 3, the others 4) weighs as much as the others."""
    m = pd.DataFrame({"machine": ["fan", "fan", "pump"], "section": ["00", "02", "00"],
                      "auc": [0.9, 0.7, 0.6], "pauc": [0.8, 0.6, 0.5]})
    assert cal.official_2020(m) == pytest.approx(((0.9 + 0.7 + 0.8 + 0.6) / 4 + (0.6 + 0.5) / 2) / 2)
    equal_ids = pd.concat([m, m.iloc[[2]].assign(section="02")])   # then it is the flat mean
    assert cal.official_2020(equal_ids) == pytest.approx((0.9 + 0.7 + 0.6 + 0.6 + 0.8 + 0.6 + 0.5 + 0.5) / 8)
    with pytest.raises(AsdlabError, match="no AUC or pAUC"):
        cal.official_2020(m.assign(auc=np.nan, pauc=np.nan))


def test_table_and_solved_types(tmp_path):
    ok = {"machine": "fan", "section": "00", "auc": 0.99, "pauc": 0.995}
    weak = {"machine": "valve", "section": "00", "auc": 0.6, "pauc": 0.55}
    runs = {"dcase2020": {s: {"ae_mse": _run(tmp_path / f"s{s}", [ok, weak | {"auc": 0.6 + 0.1 * s}])}
                          for s in (0, 1)}}
    t = cal.calibration_table(runs)
    row = t.iloc[0]
    a0, a1 = (0.99 + 0.6 + 0.995 + 0.55) / 4, (0.99 + 0.7 + 0.995 + 0.55) / 4
    assert row["mean"] == pytest.approx(100 * (a0 + a1) / 2)
    assert row["sd"] == pytest.approx(100 * np.std([a0, a1], ddof=1))
    assert row["solved"] == "fan" and row["seeds"] == 2
    with pytest.raises(AsdlabError, match="no metrics table"):
        cal.run_score(tmp_path / "missing", "dcase2020")


def _table(style, scores, solved=None):
    return pd.DataFrame([{"style": style, "method": m, "seeds": 3, "mean": v, "sd": 1.0, "official %": "",
                          "solved": (solved or {}).get(m, "")} for m, v in scores.items()])


def test_checks_pass_on_the_real_data_pattern_and_fail_otherwise():
    good = pd.concat([_table("dcase2024", {"ae_mse": 58.0, "raw_spec": 56.0, "sc_adacos": 64.0}),
                      _table("dcase2020", {"ae_mse": 66.0, "raw_spec": 65.0, "sc_adacos": 85.0})])
    c = cal.calibration_checks(good)
    assert c["passed"].all() and list(c["check"]) == ["a", "b", "c", "d", "a", "b", "d"]
    assert c.iloc[1]["measured"] == "sc_adacos - ae_mse = +6.0"
    bad = pd.concat([_table("dcase2024", {"ae_mse": 68.0, "raw_spec": 60.0, "sc_adacos": 70.0},
                            solved={"raw_spec": "fan"}),
                     _table("dcase2020", {"ae_mse": 66.0, "raw_spec": 65.0, "sc_adacos": 80.0})])
    c = cal.calibration_checks(bad).set_index(["style", "check"])["passed"]
    assert not c[("dcase2024", "a")] and not c[("dcase2024", "b")] and not c[("dcase2024", "c")]
    assert not c[("dcase2024", "d")] and not c[("dcase2020", "b")] and c[("dcase2020", "a")]
    missing = cal.calibration_checks(_table("dcase2020", {"ae_mse": 66.0}))
    assert not missing["passed"].iloc[:2].any() and missing["measured"].iloc[1] == "not measured"


def test_asdkit_rows_put_the_real_figures_next_to_the_factory():
    t = _table("dcase2020", {"ae_mse": 66.0, "raw_spec": 65.0, "sc_adacos": 80.0, "sc_noisy_arcmix": 82.0})
    t["official %"] = ["a", "b", "c", "d"]
    rows = cal.asdkit_rows(t)
    assert list(rows["method"]) == ["ae_mse", "raw_spec", "sc_noisy_arcmix"]
    assert list(rows["factory %"]) == ["a", "b", "d"]
    assert list(rows["real %"]) == [65.3, 64.8, 90.6] and set(rows["real set"]) == {"dcase2020 dev"}


def test_kind_table_averages_seeds(tmp_path):
    data = tmp_path / "data"
    (data / "ground_truth" / "clips").mkdir(parents=True)
    pd.DataFrame({"file_name": ["n1", "n2", "a1", "a2"], "anomaly": ["", "", "rub", "clog"],
                  "severity": [0, 0, 0.5, 0.9], "attributes": ""}).to_csv(data / "ground_truth" / "clips" / "fan.csv",
                                                                         index=False)
    def scores(folder, s):
        folder.mkdir(parents=True)
        pd.DataFrame({"file": ["n1", "n2", "a1", "a2"], "machine": "fan", "section": "00", "domain": "source",
                      "label": ["normal", "normal", "anomaly", "anomaly"], "score": s}).to_csv(folder / "scores.csv")
        return folder
    by_seed = {0: {"ae_mse": scores(tmp_path / "r0", [0.0, 1.0, 2.0, 0.5])},
               1: {"ae_mse": scores(tmp_path / "r1", [0.0, 1.0, 2.0, 2.0])}}
    t = cal.kind_table(by_seed, data)
    assert t.loc[("fan", "rub"), "ae_mse"] == 100.0
    assert t.loc[("fan", "clog"), "ae_mse"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    with pytest.raises(AsdlabError, match="no factory ground truth"):
        cal.kind_table(by_seed, tmp_path)


def test_markdown_table():
    df = pd.DataFrame({"a": [1, np.nan], "b|c": ["x|y", "line\nbreak"]})
    assert markdown_table(df) == "| a | b\\|c |\n|---|---|\n| 1.0 | x\\|y |\n|  | line break |"
    assert markdown_table(df.set_index("a"), index=True).splitlines()[0] == "| a | b\\|c |"
