"""What the data support is checked before any training (issue 16, late and anonymous data
errors): per machine and section, training clips (a decision threshold needs 2), test normals
and anomalies (a metric needs both); only a machine with nothing to compute stops the run."""

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from asdlab.backends.thresholds import add_decisions
from asdlab.core.errors import DataError, MetricsError
from asdlab.data import build_clip_table
from asdlab.runs import run_method
from asdlab.runs.preflight import preflight


@pytest.fixture(name="tree_2020")
def _tree_2020(tmp_path, make_real_tree):
    """The 2020 layout with fan ID 02 cut to a single training clip (fan ID 04: test only)."""
    root = make_real_tree(tmp_path / "d", "2020", seconds=0.5, n_train=3)
    for p in sorted((root / "fan" / "train").glob("normal_id_02_*"))[1:]:
        p.unlink()
    return root


def _config(method="ae_mse"):
    return {"method": method, "protocol": "dcase2020"}


def test_preflight_says_per_section_what_will_be_computed(tree_2020):
    plan = preflight(build_clip_table(tree_2020), "ae_mse", _config())
    s = plan.sections.set_index(["machine", "section"])
    assert s.loc[("fan", "02"), "train"] == 1 and s.loc[("fan", "00"), "train"] == 3
    assert s.loc[("fan", "02"), ["scores", "threshold", "metrics"]].tolist() == [True, False, True]
    assert s.loc[("fan", "00"), ["scores", "threshold", "metrics"]].tolist() == [True, True, True]
    assert s.loc[("fan", "04"), ["scores", "threshold", "metrics"]].tolist() == [False, False, False]
    lines = plan.lines()
    assert any(line.startswith("fan/02: no decision threshold") and "1 training clip" in line for line in lines)
    assert any(line.startswith("fan/04: not scored") for line in lines)
    assert not any(line.startswith(("fan/00", "ToyCar")) for line in lines)


def test_a_section_without_anomalies_gets_no_metric_and_says_why(tree_2020):
    for p in (tree_2020 / "ToyCar" / "test").glob("anomaly_id_03_*"):
        p.unlink()
    plan = preflight(build_clip_table(tree_2020), "ae_mse", _config())
    s = plan.sections.set_index(["machine", "section"])
    assert not s.loc[("ToyCar", "03"), "metrics"] and s.loc[("ToyCar", "03"), "scores"]
    assert any(line.startswith("ToyCar/03: no metrics") and "anomal" in line for line in plan.lines())


def test_a_machine_without_training_clips_stops_the_run_at_once_naming_it(tmp_path, make_dcase_tree):
    data = make_dcase_tree(tmp_path / "d", seconds=0.5)
    shutil.rmtree(data / "dev_data" / "raw" / "fan" / "train")
    for method in ("ae_mse", "tastgram_ce"):
        out = tmp_path / method
        with pytest.raises(DataError, match=r"machine 'fan'.*no training clips") as err:
            run_method(method, data, out, preset="smoke", progress=False, cache_dir=tmp_path / "c")
        assert "\n" not in str(err.value)
        assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_a_section_with_one_training_clip_is_scored_submitted_and_measured(tree_2020, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"fan/02: no decision threshold"):
        run_method("ae_mse", tree_2020, out, preset="smoke", overrides={"epochs": 1}, progress=False,
                   cache_dir=tmp_path / "c")
    scores = pd.read_csv(out / "scores.csv", dtype={"section": str})
    fan02 = scores[(scores["machine"] == "fan") & (scores["section"] == "02")]
    assert len(fan02) == 4 and fan02["decision"].isna().all() and np.isfinite(fan02["score"]).all()
    assert scores.loc[scores["section"] == "00", "decision"].notna().all()
    sub = out / "submission"
    assert (sub / "anomaly_score_fan_section_02_test.csv").is_file()
    assert not (sub / "decision_result_fan_section_02_test.csv").exists()
    assert (sub / "decision_result_fan_section_00_test.csv").is_file()
    metrics = pd.read_csv(out / "metrics.csv", dtype={"section": str})
    assert ("fan", "02") in set(zip(metrics["machine"], metrics["section"]))
    summary = json.loads((out / "summary.json").read_text())
    assert any(n.startswith("fan/02: no decision threshold") for n in summary["not_computed"])


def test_threshold_errors_name_machine_and_section():
    train = pd.DataFrame({"machine": ["fan"] * 3, "section": ["00"] * 3, "domain": None,
                          "score": [1.0, np.nan, 2.0]})
    test = train.iloc[:1].copy()
    with pytest.raises(MetricsError, match=r"^machine 'fan' section 00: 1 of 3 training scores"):
        add_decisions(train, test)


def test_a_section_with_one_training_score_gets_no_decisions_the_others_do():
    train = pd.DataFrame({"machine": ["fan"] * 4, "section": ["00", "00", "00", "01"], "domain": None,
                          "score": [1.0, 2.0, 1.5, 3.0]})
    test = pd.DataFrame({"machine": ["fan"] * 2, "section": ["00", "01"], "domain": None,
                         "score": [9.0, 9.0]})
    with pytest.warns(UserWarning, match=r"machine 'fan' section 01: 1 training clip"):
        add_decisions(train, test)
    assert test["decision"].tolist()[0] == 1 and pd.isna(test["decision"].tolist()[1])
    full = train.iloc[:3].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        add_decisions(full, test.iloc[:1].copy())
    assert full["decision"].dtype == np.int64  # unchanged when every section has a threshold
