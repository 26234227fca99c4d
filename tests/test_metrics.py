"""Official DCASE metrics: hand-computed values, the evaluator's rules, errors."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hmean
from sklearn.metrics import confusion_matrix, roc_auc_score

from asdlab.core.errors import MetricsError
from asdlab.metrics import (ALL_ROW, format_table, metrics_table, official_score,
                            official_values, read_metrics_table, section_metrics)


def clips(machine="fan", section="00", **groups):
    """Scores table from ``<domain>_<label>=[scores]`` keyword groups (domain may be 'none')."""
    rows = []
    for key, scores in groups.items():
        domain, label = key.split("_")
        for i, s in enumerate(scores):
            rows.append({"file": f"section_{section}_{domain}_test_{label}_{i:04d}.wav",
                         "machine": machine, "section": section,
                         "domain": None if domain == "none" else domain,
                         "label": label, "score": float(s)})
    return pd.DataFrame(rows)


# Source normals 0.1, 0.4; target normals 0.35, 0.6; a source anomaly at 0.5, a target one at 0.3.
HAND = dict(source_normal=[0.1, 0.4], target_normal=[0.35, 0.6],
            source_anomaly=[0.5], target_anomaly=[0.3])


def test_domain_aucs_use_the_anomalies_of_both_domains():
    row = section_metrics(clips(**HAND)).iloc[0]
    # source: anomalies {0.5, 0.3} vs normals {0.1, 0.4}: 0.5>0.1, 0.5>0.4, 0.3>0.1, 0.3<0.4 -> 3/4
    assert row["auc_source"] == pytest.approx(0.75)
    # target: anomalies {0.5, 0.3} vs normals {0.35, 0.6}: only 0.5>0.35 -> 1/4
    assert row["auc_target"] == pytest.approx(0.25)
    # with same-domain anomalies only, the numbers would be 1.0 and 0.0: the rule matters
    assert roc_auc_score([0, 0, 1], [0.1, 0.4, 0.5]) == 1.0
    assert roc_auc_score([0, 0, 1], [0.35, 0.6, 0.3]) == 0.0
    # all 6 clips: 4 of 8 pairs ordered (0.5 beats 0.1, 0.4, 0.35; 0.3 beats 0.1)
    assert row["auc"] == pytest.approx(0.5)
    counts = ["n_normal_source", "n_normal_target", "n_normal", "n_anomaly"]
    assert row[counts].tolist() == [2, 2, 4, 2]


def test_pauc_hand_value_and_sklearn():
    # 10 normals at 0..9; anomalies at 9.5 (above all) and 4.5 (above 5 normals).
    # ROC up to FPR 0.1: TPR 0.5 from FPR 0 -> area 0.05;
    # McClish: 0.5 (1 + (0.05 - 0.005) / (0.1 - 0.005)) = 14/19
    normals = np.arange(10.0)
    table = clips(source_normal=normals[::2], target_normal=normals[1::2],
                  source_anomaly=[9.5], target_anomaly=[4.5])
    row = section_metrics(table).iloc[0]
    assert row["pauc"] == pytest.approx(14 / 19)
    y = (table["label"] == "anomaly").astype(int)
    assert row["pauc"] == pytest.approx(roc_auc_score(y, table["score"], max_fpr=0.1))


def test_pauc_is_half_for_a_random_scorer_and_one_for_a_perfect_one():
    constant = clips(source_normal=[1.0] * 5, target_normal=[1.0] * 5, source_anomaly=[1.0] * 3)
    assert section_metrics(constant).iloc[0]["pauc"] == pytest.approx(0.5)
    perfect = clips(source_normal=[0, 1, 2], target_normal=[3, 4], source_anomaly=[5, 6],
                    target_anomaly=[7])
    row = section_metrics(perfect).iloc[0]
    assert (row["pauc"], row["auc_source"], row["auc_target"]) == (1.0, 1.0, 1.0)


def test_pauc_of_random_scores_is_near_half():
    rng = np.random.default_rng(0)
    table = clips(source_normal=rng.normal(size=2000), target_normal=rng.normal(size=2000),
                  source_anomaly=rng.normal(size=2000), target_anomaly=rng.normal(size=2000))
    assert section_metrics(table).iloc[0]["pauc"] == pytest.approx(0.5, abs=0.02)


def test_official_score_is_the_hmean_of_every_auc_and_pauc_by_hand():
    table = pd.DataFrame({"machine": ["a", "b"], "section": ["00", "00"],
                          "auc_source": [0.5, 1.0], "auc_target": [1.0, 0.5],
                          "auc": [0.9, 0.9], "pauc": [0.75, 0.75]})
    # 6 / (1/0.5 + 1/1 + 1/1 + 1/0.5 + 1/0.75 + 1/0.75) = 6 / (26/3) = 9/13
    assert official_score(table) == pytest.approx(9 / 13)
    assert sorted(official_values(table)) == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0]


def test_official_score_counts_three_values_per_section():
    rng = np.random.default_rng(1)
    frames = [clips(machine=m, section=s, source_normal=rng.normal(size=20),
                    target_normal=rng.normal(size=20), source_anomaly=rng.normal(1, size=20),
                    target_anomaly=rng.normal(1, size=20))
              for m, s in [("ToyCar", "00"), ("fan", "00"), ("fan", "01")]]
    table = section_metrics(pd.concat(frames, ignore_index=True))
    values = np.concatenate([table["auc_source"], table["auc_target"], table["pauc"]])
    assert len(official_values(table)) == 9
    assert official_score(table) == pytest.approx(len(values) / np.sum(1 / values))


def test_official_score_floors_zero_at_epsilon_like_the_evaluator():
    table = pd.DataFrame({"machine": ["a"], "section": ["00"], "auc_source": [0.0],
                          "auc_target": [1.0], "auc": [0.5], "pauc": [1.0]})
    assert 0 < official_score(table) < 1e-15


def test_metrics_table_rows_columns_and_hmean_row():
    rng = np.random.default_rng(2)
    frames = [clips(machine=m, section=s, source_normal=rng.normal(size=30),
                    target_normal=rng.normal(size=30), source_anomaly=rng.normal(1, size=30),
                    target_anomaly=rng.normal(0.5, size=30))
              for m, s in [("ToyCar", "00"), ("fan", "00"), ("fan", "01")]]
    sections = section_metrics(pd.concat(frames, ignore_index=True))
    table = metrics_table(sections)
    assert list(table.columns) == ["AUC source", "AUC target", "pAUC"]
    assert list(table.index) == ["ToyCar", "fan (00)", "fan (01)", ALL_ROW]
    assert table.loc["fan (01)", "AUC target"] == sections.loc[2, "auc_target"]
    for col, src in [("AUC source", "auc_source"), ("AUC target", "auc_target"), ("pAUC", "pauc")]:
        assert table.loc[ALL_ROW, col] == pytest.approx(hmean(sections[src]))
    assert table.attrs["official_score"] == pytest.approx(official_score(sections))
    assert ((table.to_numpy() >= 0) & (table.to_numpy() <= 1)).all()


def test_format_table_prints_percentages_and_the_official_score(tmp_path):
    table = metrics_table(section_metrics(clips(**HAND)))
    text = format_table(table)
    assert "75.00%" in text and "25.00%" in text and "Official score" in text
    assert "0.7500" in format_table(table, percent=False)
    table.to_csv(tmp_path / "metrics.csv")
    back = read_metrics_table(tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(back, table)
    assert back.attrs["official_score"] == pytest.approx(table.attrs["official_score"])


def test_decision_metrics_per_domain_by_hand():
    table = clips(**HAND)
    # files in HAND order: source normals (2), target normals (2), source anomaly, target anomaly
    table["decision"] = [0, 1, 0, 0, 1, 0]
    row = section_metrics(table).iloc[0]
    # source: tp 1, fp 1, fn 0 -> precision 1/2, recall 1, F1 2/3
    assert (row["precision_source"], row["recall_source"]) == (0.5, 1.0)
    assert row["f1_source"] == pytest.approx(2 / 3)
    # target: no positive decision: tp 0, fp 0, fn 1 -> 0 / 0 precision counts as 0, recall 0, F1 0
    assert (row["precision_target"], row["recall_target"], row["f1_target"]) == (0.0, 0.0, 0.0)
    # whole section: tp 1, fp 1, fn 1
    assert (row["precision"], row["recall"], row["f1"]) == (0.5, 0.5, 0.5)


def test_decision_metrics_match_the_evaluators_formulas():
    rng = np.random.default_rng(3)
    table = clips(source_normal=rng.normal(size=40), target_normal=rng.normal(size=40),
                  source_anomaly=rng.normal(1, size=40), target_anomaly=rng.normal(1, size=40))
    table["decision"] = (table["score"] > 0.5).astype(int)
    row = section_metrics(table).iloc[0]
    eps = np.finfo(float).eps
    for domain in ("source", "target"):
        part = table[table["domain"] == domain]
        tn, fp, fn, tp = confusion_matrix(part["label"] == "anomaly", part["decision"]).ravel()
        prec, rec = tp / max(tp + fp, eps), tp / max(tp + fn, eps)
        assert row[f"precision_{domain}"] == pytest.approx(prec)
        assert row[f"recall_{domain}"] == pytest.approx(rec)
        assert row[f"f1_{domain}"] == pytest.approx(2 * prec * rec / max(prec + rec, eps))


def test_without_decisions_the_decision_metrics_are_nan():
    row = section_metrics(clips(**HAND)).iloc[0]
    assert all(math.isnan(row[c]) for c in ("precision_source", "recall_target", "f1"))


@pytest.mark.parametrize("groups, missing", [
    (dict(source_normal=[1, 2], target_normal=[3]), "no anomalous clips"),
    (dict(source_anomaly=[1, 2], target_anomaly=[3]), "no normal clips"),
    (dict(source_normal=[1, 2], source_anomaly=[3]), "no target-domain normal clips"),
])
def test_a_section_missing_normals_or_anomalies_is_an_error(groups, missing):
    ok = clips(machine="ToyCar", **HAND)
    bad = clips(machine="valve", section="03", **groups)
    with pytest.raises(MetricsError, match=f"'valve' section 03: {missing}"):
        section_metrics(pd.concat([ok, bad], ignore_index=True))


def test_missing_or_unknown_label_is_an_error():
    table = clips(**HAND)
    table.loc[3, "label"] = None
    with pytest.raises(MetricsError,
                       match=r"'fan' section 00: label missing .*target_test_normal_0001"):
        section_metrics(table)
    table.loc[3, "label"] = "broken"
    with pytest.raises(MetricsError, match="'broken'"):
        section_metrics(table)
    with pytest.raises(MetricsError, match="lacks column"):
        section_metrics(clips(**HAND).drop(columns="label"))


def test_non_finite_score_mixed_domains_and_bad_decisions_are_errors():
    table = clips(**HAND)
    table.loc[0, "score"] = np.nan
    with pytest.raises(MetricsError, match="non-finite"):
        section_metrics(table)
    table = clips(**HAND)
    table.loc[0, "domain"] = None
    with pytest.raises(MetricsError, match="no domain while the others do"):
        section_metrics(table)
    table = clips(**HAND)
    table["decision"] = [0, 1, 0, 0, 2, 0]
    with pytest.raises(MetricsError, match="decision must be 0 or 1"):
        section_metrics(table)
    with pytest.raises(MetricsError, match="empty"):
        section_metrics(table.iloc[:0])


def test_dcase2020_sections_without_domains_use_auc_and_pauc():
    table = clips(machine="pump", section="02", none_normal=[0.1, 0.4, 0.35, 0.6],
                  none_anomaly=[0.5, 0.3])
    row = section_metrics(table).iloc[0]
    assert math.isnan(row["auc_source"]) and math.isnan(row["auc_target"])
    assert row["auc"] == pytest.approx(0.5)
    sections = section_metrics(table)
    assert official_score(sections) == pytest.approx(hmean([row["auc"], row["pauc"]]))
    shown = metrics_table(sections)
    assert list(shown.columns) == ["AUC", "pAUC"]
    assert shown.attrs["official_score"] == pytest.approx(official_score(sections))
