"""The plateau rule: whether a loss or an accuracy sequence has stopped improving.

One rule serves two places: :func:`asdlab.train.fit`'s ``"plateau"`` schedule ends its
constant-learning-rate phase when the rule says "converged", and the report's learning curves
(:mod:`asdlab.analysis.convergence`) state the same verdict.
"""

from __future__ import annotations

import math

import numpy as np

from asdlab.core.errors import ConfigError

VERDICTS = ("converged", "still improving", "too short")
MIN_EPOCHS = 4
ACC_COLUMNS = ("val_acc", "train_acc")
"""Accuracy columns of a training history (:func:`asdlab.train.fit` with an ``accuracy_fn``):
``val_acc`` on the validation items, ``train_acc`` on a fixed sample of training items where there
is no validation split; fractions in [0, 1], preferred in this order."""
LOSS_TOL, ACC_TOL = 0.02, 0.02
"""Default tolerances: a loss may fall by 2 % of its earlier best in the tail, an accuracy may rise
by 2 points (0.02)."""


def plateau(values, tail: float = 0.25, tol: float | None = None, kind: str = "loss") -> dict:
    """Whether a loss (``kind="loss"``, lower is better) or an accuracy (``kind="accuracy"``, a
    fraction, higher is better) has stopped improving.

    Non-finite values (epochs without a record) are dropped first; ``n`` is the number left and
    ``q = min(ceil(n * tail), n - 1)`` the tail's length. ``best_before`` is the best of the first
    ``n - q`` values, ``best_tail`` the best of the last ``q``. A loss's ``improvement`` is
    relative, ``(best_before - best_tail) / |best_before|`` (0 / 0 counts as 0 and x / 0 as
    +-inf, so negative losses work too); an accuracy's is absolute, ``best_tail - best_before``
    (0.02 = 2 points). Verdict: "too short" when n < 4, else "converged" when ``improvement <=
    tol`` (the tail beat the earlier best by at most ``tol``, or not at all), else "still
    improving". Defaults: the last quarter; ``tol`` :data:`LOSS_TOL` (2 %) or :data:`ACC_TOL`
    (2 points).

    Returns ``{"n", "q", "best_before", "best_tail", "improvement", "verdict"}``; the numbers
    are NaN where the sequence is too short to have both parts (n < 2).
    """
    if kind not in ("loss", "accuracy"):
        raise ConfigError(f"plateau: kind={kind!r} must be 'loss' or 'accuracy'")
    tol = (LOSS_TOL if kind == "loss" else ACC_TOL) if tol is None else tol
    if not 0.0 < tail < 1.0:
        raise ConfigError(f"plateau: tail={tail!r} must be a fraction of the epochs in (0, 1)")
    if not tol >= 0.0:
        raise ConfigError(f"plateau: tol={tol!r} must be >= 0")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    q = min(math.ceil(n * tail), n - 1) if n else 0
    out = {"n": n, "q": q, "best_before": np.nan, "best_tail": np.nan, "improvement": np.nan}
    if q >= 1:
        if kind == "accuracy":
            before, after = float(x[: n - q].max()), float(x[n - q:].max())
            improvement = after - before
        else:
            before, after = float(x[: n - q].min()), float(x[n - q:].min())
            diff, scale = before - after, abs(before)
            improvement = diff / scale if scale > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        out.update(best_before=before, best_tail=after, improvement=improvement)
    if n < MIN_EPOCHS:
        out["verdict"] = "too short"
    else:
        out["verdict"] = "converged" if out["improvement"] <= tol else "still improving"
    return out


def monitor_kind(monitor: str) -> str:
    """``"accuracy"`` for an accuracy column (:data:`ACC_COLUMNS`), else ``"loss"``."""
    return "accuracy" if monitor in ACC_COLUMNS else "loss"
