"""The jackknife 95 % interval of the official score (DCASE 2024 evaluator's procedure): leave-one-out
AUC / pAUC against a hand computation and scikit-learn, the two variance formulas, the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from sklearn.metrics import roc_auc_score

from asdlab.core.errors import MetricsError
from asdlab.metrics import official_score, section_metrics
from asdlab.metrics.jackknife import jackknife_ci95, leave_one_out, official_jackknife

# four clips: normals 0.1 and 0.4, anomalies 0.35 and 0.8
Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])


def test_leave_one_out_auc_and_pauc_by_hand():
    # AUC: 0.8 beats both normals, 0.35 only 0.1 -> 3/4. Without 0.1: 1/2; without 0.4: 1;
    # without 0.35: 1; without 0.8: 1/2.
    theta, loo = leave_one_out(Y, S)
    assert theta == pytest.approx(0.75)
    assert loo == pytest.approx([0.5, 1.0, 1.0, 0.5])
    # pAUC (max FPR 0.1), McClish: 0.5 * (1 + (A - 0.005) / 0.095). All clips: TPR 1/2 up to
    # FPR 0.1, A = 0.05 -> 14/19; without 0.1 the same; without 0.4 or 0.35 perfect -> 1;
    # without 0.8 the first clip is a normal, A = 0 -> 9/19.
    theta, loo = leave_one_out(Y, S, max_fpr=0.1)
    assert theta == pytest.approx(14 / 19)
    assert loo == pytest.approx([14 / 19, 1.0, 1.0, 9 / 19])


def test_half_widths_jackknife_and_evaluator_by_hand():
    thetas = np.array([0.5, 1.0, 1.0, 0.5])          # sum of squares about the mean 0.75: 0.25
    t975 = 3.182446305284263                          # t(0.975, 3)
    assert student_t.ppf(0.975, 3) == pytest.approx(t975)
    assert jackknife_ci95(thetas) == pytest.approx(t975 * np.sqrt(3 / 4 * 0.25))            # 1.3780
    assert jackknife_ci95(thetas, evaluator=True) == pytest.approx(t975 * np.sqrt(0.25 / 12))  # 0.4593
    assert jackknife_ci95(thetas) == pytest.approx(3 * jackknife_ci95(thetas, evaluator=True))  # N - 1


@pytest.mark.parametrize("decimals", [0, 1, 3])
def test_leave_one_out_matches_scikit_learn_with_ties(decimals):
    rng = np.random.default_rng(decimals)
    y = np.r_[0, 0, 1, 1, rng.integers(0, 2, 36)]
    s = np.round(rng.normal(size=len(y)) + 0.8 * y, decimals)
    for max_fpr in (None, 0.1):
        theta, loo = leave_one_out(y, s, max_fpr)
        assert theta == pytest.approx(roc_auc_score(y, s, max_fpr=max_fpr))
        expected = [roc_auc_score(np.delete(y, i), np.delete(s, i), max_fpr=max_fpr) for i in range(len(y))]
        assert loo == pytest.approx(expected)


def _scores(y, s, machines):
    return pd.DataFrame({"file": [f"c{i}.wav" for i in range(len(y))], "machine": machines, "section": "00",
                         "domain": None, "label": np.where(y == 1, "anomaly", "normal"), "score": s})


def test_official_interval_pools_every_machine_like_the_evaluator():
    rng = np.random.default_rng(7)
    y = np.tile([0, 0, 0, 1, 1], 8)
    s = rng.normal(size=len(y)) + y
    machines = np.repeat(["fan", "valve"], len(y) // 2)
    scores = _scores(y, s, machines)
    out = official_jackknife(scores)
    # the evaluator: mean of the pooled AUC's and pooled pAUC's half-widths
    halves = [jackknife_ci95(leave_one_out(y, s, f)[1]) for f in (None, 0.1)]
    assert out["official_ci95"] == pytest.approx(np.mean(halves))
    assert out["official_ci95_evaluator"] == pytest.approx(out["official_ci95"] / (len(y) - 1))
    official = official_score(section_metrics(scores))
    assert out["official_interval"] == pytest.approx([official - out["official_ci95"], official + out["official_ci95"]])
    assert official_jackknife(scores, official=0.5)["official_interval"][0] == pytest.approx(0.5 - out["official_ci95"])


def test_too_few_clips_of_a_label_is_a_clear_error():
    with pytest.raises(MetricsError, match="at least 2 normal and 2 anomalous clips, got 2 normal and 1 anomalous"):
        leave_one_out([0, 0, 1], [0.1, 0.2, 0.3])
    scores = _scores(np.array([0, 0, 1]), np.array([0.1, 0.2, np.nan]), "fan")
    with pytest.raises(MetricsError, match="non-finite or non-numeric score for 1 clip"):
        official_jackknife(scores)
