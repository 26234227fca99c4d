"""Decision thresholds: the official gamma fit, percentiles, decisions, bad input."""

import numpy as np
import pytest
import scipy.stats

from asdlab.core.errors import MetricsError
from asdlab.backends.thresholds import decide, gamma_threshold, percentile_threshold


def test_gamma_threshold_is_scipys_fit_and_ppf():
    scores = np.random.default_rng(0).gamma(shape=3.0, scale=2.0, size=500) + 1.0
    shape, loc, scale = scipy.stats.gamma.fit(scores)
    assert gamma_threshold(scores) == pytest.approx(scipy.stats.gamma.ppf(0.9, shape, loc, scale))
    assert gamma_threshold(list(scores), q=0.5) == pytest.approx(
        scipy.stats.gamma.ppf(0.5, shape, loc, scale))
    # a good fit lands near the empirical 90th percentile
    assert gamma_threshold(scores) == pytest.approx(np.percentile(scores, 90), rel=0.05)


def test_percentile_threshold_matches_numpy():
    scores = np.arange(1.0, 11.0)
    assert percentile_threshold(scores) == pytest.approx(9.1)
    assert percentile_threshold(scores, q=50) == pytest.approx(5.5)


def test_decide_is_strictly_above_the_threshold():
    assert decide([0.1, 0.5, 0.9], 0.5).tolist() == [0, 0, 1]
    assert decide(np.array([[1.0, 2.0]]), 1.5).tolist() == [[0, 1]]
    assert decide([0.1], 0.5).dtype.kind == "i"


@pytest.mark.parametrize("fit", [gamma_threshold, percentile_threshold])
@pytest.mark.parametrize("scores, message", [
    ([], "at least"),
    ([1.0, np.nan, 2.0], "1 of 3 training scores are not finite"),
    ([1.0, np.inf], "not finite"),
    ([[1.0, 2.0], [3.0, 4.0]], "1-D"),
])
def test_bad_training_scores_are_errors(fit, scores, message):
    with pytest.raises(MetricsError, match=message):
        fit(scores)


def test_gamma_needs_spread_and_a_valid_quantile():
    with pytest.raises(MetricsError, match="all 4 training scores equal"):
        gamma_threshold([2.0] * 4)
    with pytest.raises(MetricsError, match="at least 2"):
        gamma_threshold([2.0])
    with pytest.raises(MetricsError, match=r"\(0, 1\)"):
        gamma_threshold([1.0, 2.0, 3.0], q=90)
    with pytest.raises(MetricsError, match=r"\[0, 100\]"):
        percentile_threshold([1.0, 2.0], q=101)


def test_decide_rejects_non_finite_input():
    with pytest.raises(MetricsError, match="threshold"):
        decide([1.0], np.nan)
    with pytest.raises(MetricsError, match="1 of 2 scores"):
        decide([1.0, np.nan], 0.5)


def test_add_decisions_uses_the_gamma_threshold_of_each_section():
    import pandas as pd

    from asdlab.backends.thresholds import add_decisions

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"machine": ["fan"] * 50 + ["valve"] * 50, "section": "00",
                          "score": np.r_[rng.gamma(2.0, 1.0, 50), rng.gamma(2.0, 10.0, 50)]})
    test = pd.DataFrame({"machine": ["fan", "fan", "valve"], "section": "00", "score": [1.0, 30.0, 30.0]})
    add_decisions(train, test)
    thr = {m: scipy.stats.gamma.ppf(0.9, *scipy.stats.gamma.fit(g["score"])) for m, g in train.groupby("machine")}
    assert thr["valve"] > 30.0 > thr["fan"] > 1.0
    assert test["decision"].tolist() == [0, 1, 0]  # the same score is decided per section
    assert train["decision"].mean() == pytest.approx(0.1, abs=0.06)


def test_add_decisions_on_equal_training_scores_uses_that_score():
    """k-means with K >= a section's training clips keeps every clip as a centroid: all its
    training scores are 0, no gamma can be fitted, and the threshold is 0."""
    import pandas as pd

    from asdlab.backends.thresholds import add_decisions

    train = pd.DataFrame({"machine": "fan", "section": "00", "score": [0.0] * 8})
    test = pd.DataFrame({"machine": "fan", "section": "00", "score": [0.0, 0.2]})
    add_decisions(train, test)
    assert test["decision"].tolist() == [0, 1] and train["decision"].sum() == 0
    with pytest.raises(MetricsError, match="all 8 training scores equal"):
        gamma_threshold(train["score"])
