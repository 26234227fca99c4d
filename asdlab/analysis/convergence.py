"""Learning curves of a run and whether its training reached a plateau.

A run's ``history.csv`` comes in several shapes (one model; one model per ``machine``; ensemble
``member``s; contrastive ``group`` x ``member`` with a ``total`` loss; guided clustering's
``stage``s). :func:`learning_curves` turns any of them into one long table, :func:`plateau`
states the verdict on one loss sequence, :func:`convergence_summary` and
:func:`convergence_table` give one verdict per curve.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.core.errors import AsdlabError, ConfigError

CURVE_KEYS = ("stage", "group", "member", "machine")
"""History columns that split a run's history into curves, outermost first. A ``stage`` value
names its curve on its own ("pretrain", "finetune"); the others read "<column> <value>"."""

CURVE_COLUMNS = ["curve", "epoch", "train_loss", "val_loss", "monitored", "monitor"]
SUMMARY_COLUMNS = ["curve", "epochs", "monitored", "first", "best", "final", "improvement_pct", "verdict"]
VERDICTS = ("converged", "still improving", "too short")
MIN_EPOCHS = 4


def _curve_name(keys: list[str], values) -> str:
    values = values if isinstance(values, tuple) else (values,)
    parts = []
    for key, value in zip(keys, values):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(str(value) if key == "stage" else f"{key} {value}")
    return ", ".join(parts) or "model"


def learning_curves(history: pd.DataFrame) -> pd.DataFrame:
    """One row per (curve, epoch) of a run's ``history.csv``, in the order the run wrote them.

    Curves are the groups of the columns in :data:`CURVE_KEYS` that ``history`` has (e.g.
    "model", "machine fan", "member two_k2", "group all, member 0", "finetune"). The training
    loss is ``train_loss``, else ``total`` (contrastive AE-CNN). Columns: curve, epoch,
    train_loss, val_loss (NaN without validation), monitored (the loss :func:`plateau` reads:
    ``val_loss`` where the curve has a finite one on every epoch, else the training loss) and
    monitor (that loss's column name). Rows that carry a DeepCluster ``round`` (guided
    clustering's pretraining) are numbered 0, 1, ... across rounds, in the run's order (one
    new head and new pseudo labels per round, so the loss is against moving targets).
    """
    train_col = "train_loss" if "train_loss" in history.columns else "total"
    missing = [c for c in ("epoch",) if c not in history.columns]
    if train_col not in history.columns:
        missing.append("train_loss (or total)")
    if missing:
        raise AsdlabError(f"history lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, history.columns))}")
    keys = [k for k in CURVE_KEYS if k in history.columns]
    groups = history.groupby(keys, sort=False, dropna=False) if keys else [((), history)]
    parts = []
    for values, g in groups:
        epoch = pd.to_numeric(g["epoch"], errors="coerce").to_numpy(dtype=float)
        if "round" in g.columns and g["round"].notna().any():
            epoch = np.arange(len(g), dtype=float)
        order = np.argsort(epoch, kind="stable")
        train = pd.to_numeric(g[train_col], errors="coerce").to_numpy(dtype=float)[order]
        val = (pd.to_numeric(g["val_loss"], errors="coerce").to_numpy(dtype=float)[order]
               if "val_loss" in g.columns else np.full(len(g), np.nan))
        use_val = len(val) > 0 and bool(np.isfinite(val).all())
        parts.append(pd.DataFrame({"curve": _curve_name(keys, values), "epoch": epoch[order].astype(int),
                                   "train_loss": train, "val_loss": val,
                                   "monitored": val if use_val else train,
                                   "monitor": "val_loss" if use_val else train_col}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c not in ("curve", "monitor") else object)
                             for c in CURVE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[CURVE_COLUMNS]


def plateau(losses, tail: float = 0.25, tol: float = 0.02) -> dict:
    """Whether a loss sequence has stopped improving.

    Non-finite values (epochs without a recorded loss) are dropped first; ``n`` is the number
    left and ``q = min(ceil(n * tail), n - 1)`` the tail's length. ``best_before`` is the min
    of the first ``n - q`` values, ``best_tail`` the min of the last ``q``, and
    ``improvement = (best_before - best_tail) / |best_before|`` (a fraction; 0 / 0 counts as
    0 and x / 0 as +-inf, so negative losses work too). Verdict: "too short" when n < 4, else
    "converged" when ``improvement <= tol`` (the tail beat the earlier best by at most ``tol``,
    or not at all), else "still improving". Defaults: the last quarter, 2 %.

    Returns ``{"n", "q", "best_before", "best_tail", "improvement", "verdict"}``; the numbers
    are NaN where the sequence is too short to have both parts (n < 2).
    """
    if not 0.0 < tail < 1.0:
        raise ConfigError(f"plateau: tail={tail!r} must be a fraction of the epochs in (0, 1)")
    if not tol >= 0.0:
        raise ConfigError(f"plateau: tol={tol!r} must be >= 0")
    x = np.asarray(losses, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    q = min(math.ceil(n * tail), n - 1) if n else 0
    out = {"n": n, "q": q, "best_before": np.nan, "best_tail": np.nan, "improvement": np.nan}
    if q >= 1:
        before, after = float(x[: n - q].min()), float(x[n - q:].min())
        diff, scale = before - after, abs(before)
        improvement = diff / scale if scale > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        out.update(best_before=before, best_tail=after, improvement=improvement)
    if n < MIN_EPOCHS:
        out["verdict"] = "too short"
    else:
        out["verdict"] = "converged" if out["improvement"] <= tol else "still improving"
    return out


def convergence_summary(curves: pd.DataFrame, tail: float = 0.25, tol: float = 0.02) -> pd.DataFrame:
    """One row per curve of :func:`learning_curves` output: curve, epochs, monitored (the loss's
    column name), first, best, final (of the monitored loss), improvement_pct (100 x
    :func:`plateau`'s improvement: how far the last ``tail`` of epochs beat the best before
    them, in %) and verdict."""
    rows = []
    for name, g in curves.groupby("curve", sort=False):
        y = g["monitored"].to_numpy(dtype=float)
        finite = y[np.isfinite(y)]
        p = plateau(y, tail, tol)
        rows.append({"curve": name, "epochs": len(g), "monitored": g["monitor"].iloc[0],
                     "first": finite[0] if len(finite) else np.nan,
                     "best": finite.min() if len(finite) else np.nan,
                     "final": finite[-1] if len(finite) else np.nan,
                     "improvement_pct": 100.0 * p["improvement"], "verdict": p["verdict"]})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def convergence_table(run_dir: str | os.PathLike, tail: float = 0.25, tol: float = 0.02) -> pd.DataFrame | None:
    """:func:`convergence_summary` of a run folder's ``history.csv``; None when the run kept no
    history (a method that does not train, such as ``raw_spec``) or an empty one."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    if history.empty:
        return None
    try:
        curves = learning_curves(history)
    except AsdlabError as err:
        raise AsdlabError(f"{path}: {err}") from None
    return convergence_summary(curves, tail, tol)
