"""Jackknife 95 % interval of the official score, following the DCASE 2024 Task 2 evaluator.

The evaluator (``jackknife_estimate`` in nttcslab/dcase2024_task2_evaluator, after Mesaros et al.,
"Sound event detection in the DCASE 2017 challenge", TASLP 2019, sec. IV) pools the test clips of
every machine and section (labels and raw scores; domains ignored) and, for the pooled AUC and the
pooled pAUC (max FPR 0.1) in turn, leaves each clip out once: ``theta_i`` (i = 1..N). Its
``official score ci95`` is the mean of the two half-widths ``t(0.975, N-1) * sigma``.

The evaluator computes ``sigma = sqrt(sum_i (theta_i - mean theta)^2 / (N (N-1)))`` on the
leave-one-out values themselves, where Mesaros et al. put the pseudo-values
``N theta - (N-1) theta_i``; its half-width is therefore N-1 times narrower than the jackknife's
(about 2e-5 for 1400 clips: no information). :func:`official_jackknife` returns both; asdlab's
tables show the jackknife one (``official_ci95``), the evaluator's number is kept as
``official_ci95_evaluator`` for comparison with its output.

Protocols: the 2022, 2023, 2024 and 2025 evaluators all report this ``official score ci95`` (same
code in the first three; the 2025 README shows the line). The 2020 and 2021 evaluators report no
interval. Because the interval pools every clip and ignores domains, sections and IDs, the same
computation applies unchanged to 2020 and 2021 data; for those protocols it is asdlab's
approximation, not an official figure, and ``official_ci95_method`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from asdlab.core.errors import MetricsError
from asdlab.metrics.official import MAX_FPR, REQUIRED_COLUMNS, _labels, _scores, official_score, section_metrics
from asdlab.metrics.protocols import DEFAULT_PROTOCOL, protocol_rule, resolve_protocol

CONFIDENCE = 0.95


def _curve_areas(tps: np.ndarray, fps: np.ndarray, max_fpr: float | None) -> float:
    """ROC AUC (``max_fpr=None``) or McClish-standardised pAUC from cumulative true / false
    positive counts at each distinct threshold (descending), as scikit-learn's
    ``roc_auc_score`` computes them."""
    tpr = np.concatenate(([0.0], tps / tps[-1]))
    fpr = np.concatenate(([0.0], fps / fps[-1]))
    if max_fpr is None:
        return float(np.trapezoid(tpr, fpr))
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    cut = np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])
    area = float(np.trapezoid(np.append(tpr[:stop], cut), np.append(fpr[:stop], max_fpr)))
    min_area, max_area = 0.5 * max_fpr ** 2, max_fpr
    return 0.5 * (1 + (area - min_area) / (max_area - min_area))


def leave_one_out(y, s, max_fpr: float | None = None) -> tuple[float, np.ndarray]:
    """``(theta, theta_i)``: the AUC (``max_fpr=None``) or pAUC of labels ``y`` (0/1, shape
    ``(N,)``) and scores ``s`` (higher = more anomalous), and the same metric with clip ``i``
    left out, shape ``(N,)``. Needs at least 2 clips of each label."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    n_pos = int(y.sum())
    if n_pos < 2 or len(y) - n_pos < 2:
        raise MetricsError(f"jackknife needs at least 2 normal and 2 anomalous clips, got "
                           f"{len(y) - n_pos} normal and {n_pos} anomalous")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    ends = np.flatnonzero(np.r_[np.diff(s) != 0, True])   # last clip of each tie group
    group = np.searchsorted(ends, np.arange(len(s)))      # tie group of each clip
    tps, fps = np.cumsum(y)[ends], np.cumsum(1 - y)[ends]
    theta = _curve_areas(tps, fps, max_fpr)
    # leaving out a clip lowers the counts at its group's threshold and every lower one;
    # clips of the same group and label give the same value
    values = {}
    for g, label in set(zip(group.tolist(), y.tolist())):
        later = np.arange(len(ends)) >= g
        values[g, label] = _curve_areas(tps - label * later, fps - (1 - label) * later, max_fpr)
    out = np.array([values[g, label] for g, label in zip(group.tolist(), y.tolist())])
    result = np.empty_like(out)
    result[order] = out
    return theta, result


def jackknife_ci95(thetas: np.ndarray, evaluator: bool = False) -> float:
    """Half-width of the 95 % interval from leave-one-out values ``thetas`` (shape ``(N,)``):
    ``t(0.975, N-1) * sigma`` with the jackknife ``sigma = sqrt((N-1)/N * sum_i (theta_i -
    mean)^2)``, or with ``evaluator=True`` the DCASE evaluator's ``sqrt(sum_i (theta_i -
    mean)^2 / (N (N-1)))`` (N-1 times smaller)."""
    thetas = np.asarray(thetas, dtype=float)
    n = len(thetas)
    squares = float(np.sum((thetas - thetas.mean()) ** 2))
    sigma = np.sqrt(squares / (n * (n - 1))) if evaluator else np.sqrt((n - 1) / n * squares)
    return float(abs(student_t.ppf((1 - CONFIDENCE) / 2, n - 1)) * sigma)


def official_jackknife(scores: pd.DataFrame, official: float | None = None,
                       protocol: str | None = None) -> dict:
    """The 95 % interval of a run's official score, for ``summary.json``.

    ``scores``: one row per test clip with ``label`` ("normal"/"anomaly") and ``score`` (higher
    = more anomalous); every machine and section pooled, as the evaluator does. ``official``:
    the official score (computed from ``scores`` under ``protocol`` when None). ``protocol``:
    None (:data:`~asdlab.metrics.protocols.DEFAULT_PROTOCOL`), ``"auto"`` or a protocol name.
    Returns ``official_ci95`` (mean of the jackknife half-widths of the pooled AUC and pAUC),
    ``official_ci95_evaluator`` (the same with the evaluator's sigma), ``official_interval``
    (``[official - ci95, official + ci95]``), fractions, and ``official_ci95_method`` (one line:
    the evaluator's rule, or for 2020/2021 that it is asdlab's approximation).
    :class:`MetricsError` with fewer than 2 clips of a label.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise MetricsError(f"scores table lacks column(s) {', '.join(missing)}")
    name = DEFAULT_PROTOCOL if protocol is None else resolve_protocol(protocol, scores)
    y = _labels(scores, "jackknife over all test clips")
    s = _scores(scores, "jackknife over all test clips")
    if official is None:
        official = official_score(section_metrics(scores, name), name)
    halves = {False: [], True: []}
    for max_fpr in (None, MAX_FPR):
        _, thetas = leave_one_out(y, s, max_fpr)
        for evaluator in halves:
            halves[evaluator].append(jackknife_ci95(thetas, evaluator=evaluator))
    ci95 = float(np.mean(halves[False]))
    if protocol_rule(name) == "2022":
        method = (f"{name}: the evaluator's jackknife over the {len(y)} pooled test clips (AUC and pAUC), "
                  "with the jackknife sigma")
    else:
        method = (f"{name}: the {name} evaluator reports no interval; this is the 2022-2025 evaluators' "
                  f"jackknife over the {len(y)} pooled test clips, an approximation")
    return {"official_ci95": ci95, "official_ci95_evaluator": float(np.mean(halves[True])),
            "official_interval": [float(official) - ci95, float(official) + ci95],
            "official_ci95_method": method}
