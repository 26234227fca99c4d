"""Learning curves of a run and whether its training reached a plateau.

A run's ``history.csv`` comes in several shapes (one model; one model per ``machine``; ensemble
``member``s; contrastive ``group`` x ``member`` with a ``total`` loss; guided clustering's
``stage``s). :func:`learning_curves` turns any of them into one long table, :func:`plateau`
states the verdict on one loss or accuracy sequence, :func:`convergence_summary` and
:func:`convergence_table` give one verdict per curve.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.core.errors import AsdlabError
from asdlab.train.plateau import ACC_COLUMNS, ACC_TOL, LOSS_TOL, MIN_EPOCHS, VERDICTS, monitor_kind, plateau  # noqa: F401

NOT_JUDGED = "not judged (new targets each round)"
"""The verdict of a curve of DeepCluster rounds (guided clustering's pretraining)."""

CURVE_KEYS = ("stage", "group", "member", "machine")
"""History columns that split a run's history into curves, outermost first. A ``stage`` value
names its curve on its own ("pretrain", "finetune"); the others read "<column> <value>"."""

CURVE_COLUMNS = ["curve", "epoch", "train_loss", "val_loss", "accuracy", "monitored", "monitor", "phase"]
SUMMARY_COLUMNS = ["curve", "epochs", "monitored", "first", "best", "final", "improvement_pct", "verdict"]


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
    train_loss, val_loss (NaN without validation), accuracy (the classifier's accuracy on clean
    clips, ``val_acc`` or else ``train_acc``, a fraction; NaN where the method records none),
    monitored (what :func:`plateau` reads: the accuracy where the curve has a finite one on every
    epoch, else ``val_loss`` where finite on every epoch, else the training loss), monitor
    (that column's name) and phase ("train" or "anneal" for a run of the ``"plateau"`` schedule,
    :func:`asdlab.train.fit`; "train" otherwise). Rows that carry a DeepCluster ``round`` (guided
    clustering's pretraining) are numbered 0, 1, ... across rounds, in the run's order (one
    new head and new pseudo labels per round, so the loss is against moving targets); their
    phase is "rounds" and :func:`convergence_summary` does not judge them.
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
        acc, acc_col = np.full(len(g), np.nan), None
        for col in ACC_COLUMNS:
            if col in g.columns and pd.to_numeric(g[col], errors="coerce").notna().any():
                acc, acc_col = pd.to_numeric(g[col], errors="coerce").to_numpy(dtype=float)[order], col
                break
        use_val = len(val) > 0 and bool(np.isfinite(val).all())
        use_acc = acc_col is not None and bool(np.isfinite(acc).all())
        monitored, monitor = ((acc, acc_col) if use_acc else (val, "val_loss") if use_val else (train, train_col))
        phase = (g["phase"].fillna("train").astype(str).to_numpy()[order] if "phase" in g.columns
                 else np.full(len(g), "train", dtype=object))
        if "round" in g.columns and g["round"].notna().any():
            phase = np.full(len(g), "rounds", dtype=object)
        parts.append(pd.DataFrame({"curve": _curve_name(keys, values), "epoch": epoch[order].astype(int),
                                   "train_loss": train, "val_loss": val, "accuracy": acc,
                                   "monitored": monitored, "monitor": monitor, "phase": phase}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c not in ("curve", "monitor") else object)
                             for c in CURVE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[CURVE_COLUMNS]


def convergence_summary(curves: pd.DataFrame, tail: float = 0.25, tol: float | None = None,
                        acc_tol: float | None = None) -> pd.DataFrame:
    """One row per curve of :func:`learning_curves` output: curve, epochs, monitored (the
    column the verdict reads), first, best, final (of that column), improvement_pct (100 x
    :func:`plateau`'s improvement: how far the last ``tail`` of epochs beat the best before
    them, in % of a loss or in points of an accuracy) and verdict (:data:`NOT_JUDGED` for a curve of
    DeepCluster rounds). ``tol`` is the tolerance of a
    loss (default :data:`LOSS_TOL`), ``acc_tol`` of an accuracy (default :data:`ACC_TOL`)."""
    rows = []
    for name, g in curves.groupby("curve", sort=False):
        y = g["monitored"].to_numpy(dtype=float)
        finite = y[np.isfinite(y)]
        kind = monitor_kind(g["monitor"].iloc[0])
        p = plateau(judged(g), tail, tol if kind == "loss" else acc_tol, kind)
        if (g["phase"] == "rounds").all():  # a new target per round: no plateau to judge
            p = {**p, "verdict": NOT_JUDGED}
        best = (finite.max() if kind == "accuracy" else finite.min()) if len(finite) else np.nan
        rows.append({"curve": name, "epochs": len(g), "monitored": g["monitor"].iloc[0],
                     "first": finite[0] if len(finite) else np.nan, "best": best,
                     "final": finite[-1] if len(finite) else np.nan,
                     "improvement_pct": 100.0 * p["improvement"], "verdict": p["verdict"]})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def judged(curve: pd.DataFrame) -> np.ndarray:
    """The monitored values the verdict reads: every epoch's, except a ``"plateau"`` schedule's
    annealing epochs (the verdict is on the constant-rate phase that ended at the plateau)."""
    keep = curve["phase"].to_numpy() != "anneal" if "phase" in curve.columns else np.ones(len(curve), bool)
    return curve["monitored"].to_numpy(dtype=float)[keep]


def convergence_table(run_dir: str | os.PathLike, tail: float = 0.25, tol: float | None = None,
                      acc_tol: float | None = None) -> pd.DataFrame | None:
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
    return convergence_summary(curves, tail, tol, acc_tol)
