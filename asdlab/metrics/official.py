"""Official DCASE Task 2 metrics, computed the way the official evaluator computes them.

Per (machine, section), from anomaly scores (higher = more anomalous) and ground truth:

- ``auc_source``: ROC AUC over the source-domain normal clips plus ALL anomalous clips of the
  section (both domains); ``auc_target`` likewise with the target-domain normals.
- ``pauc``: ``roc_auc_score(y, s, max_fpr=0.1)`` over all clips of the section, i.e. the
  McClish-standardised partial AUC (0.5 for a random scorer, 1.0 for a perfect one).
- ``auc``: ROC AUC over all clips (the evaluator's "AUC (all)"; not part of the official score
  when domains are known).
- precision / recall / F1 of the 0/1 decisions (1 = anomalous), per domain over the clips of
  that domain only (``*_source``, ``*_target``) and over the whole section (no suffix). They are
  scikit-learn's binary ``precision_recall_fscore_support`` with ``zero_division=0``: a ratio
  whose denominator is 0 is 0, which is what the evaluator's ``tp / max(tp + fp, eps)`` gives.

The official score is the harmonic mean of the list of every ``auc_source``, every ``auc_target``
and every ``pauc`` (each value floored at machine epsilon, as the evaluator does).

DCASE2020-style sections have no domains (``domain`` is ``None``): their ``auc_source`` and
``auc_target`` are NaN and the official score takes their ``auc`` and ``pauc`` instead.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from scipy.stats import hmean
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from asdlab.core.errors import MetricsError

MAX_FPR = 0.1
EPS = sys.float_info.epsilon  # the evaluator's floor before the harmonic mean
DOMAINS = ("source", "target")
LABELS = ("normal", "anomaly")
ALL_ROW = "All (hmean)"

SECTION_COLUMNS = [
    "machine", "section",
    "auc_source", "auc_target", "auc", "pauc",
    "precision_source", "precision_target", "precision",
    "recall_source", "recall_target", "recall",
    "f1_source", "f1_target", "f1",
    "n_normal_source", "n_normal_target", "n_normal", "n_anomaly",
]
REQUIRED_COLUMNS = ("machine", "section", "label", "score")


def section_metrics(scores: pd.DataFrame) -> pd.DataFrame:
    """Official metrics of every (machine, section): one row each, columns ``SECTION_COLUMNS``.

    ``scores``: one row per test clip with columns ``machine``, ``section``, ``label``
    ("normal"/"anomaly"), ``score`` (float, higher = more anomalous) and optionally ``file``
    (used in messages), ``domain`` ("source"/"target"/None) and ``decision`` (0/1). Metrics are
    fractions in [0, 1]; decision metrics are NaN without decisions. A section whose clips have
    no domain (DCASE2020) gets NaN ``auc_source``/``auc_target`` and per-domain decision
    metrics; its ``auc`` enters the official score. Rows are sorted by machine, then section. Raises :class:`MetricsError` for a section without normals or
    without anomalies, a missing label, a non-finite score or a bad decision.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise MetricsError(f"scores table lacks column(s) {', '.join(missing)}")
    if scores.empty:
        raise MetricsError("scores table is empty: no test clips to evaluate")
    groups = scores.groupby(["machine", "section"], sort=True, dropna=False)
    rows = [_section_row(machine, section, g) for (machine, section), g in groups]
    return pd.DataFrame(rows, columns=SECTION_COLUMNS)


def _section_row(machine, section, g: pd.DataFrame) -> dict:
    where = f"machine {machine!r} section {section}"
    y = _labels(g, where)
    s = _scores(g, where)
    domain = _domains(g, where)
    n_anomaly = int(y.sum())
    n_normal = len(y) - n_anomaly
    if n_anomaly == 0 or n_normal == 0:
        absent, present = ("anomalous", "normal") if n_anomaly == 0 else ("normal", "anomalous")
        raise MetricsError(f"{where}: no {absent} clips (all {len(y)} are {present}); "
                           "AUC needs both normal and anomalous clips")
    row = {"machine": machine, "section": section, "auc": roc_auc_score(y, s),
           "pauc": roc_auc_score(y, s, max_fpr=MAX_FPR),
           "n_normal": n_normal, "n_anomaly": n_anomaly}
    has_domains = domain[0] is not None
    for d in DOMAINS:
        normals = (domain == d) & (y == 0)
        row[f"n_normal_{d}"] = int(normals.sum())
        row[f"auc_{d}"] = _domain_auc(y, s, normals, where, d) if has_domains else np.nan
    row.update(_decision_metrics(g, y, domain, has_domains, where))
    return row


def _domain_auc(y: np.ndarray, s: np.ndarray, normals: np.ndarray, where: str, d: str) -> float:
    """AUC of the normals of domain ``d`` against all anomalies of the section."""
    if not normals.any():
        raise MetricsError(f"{where}: no {d}-domain normal clips, so AUC({d}) is undefined")
    keep = normals | (y == 1)
    return roc_auc_score(y[keep], s[keep])


def _labels(g: pd.DataFrame, where: str) -> np.ndarray:
    """0 (normal) / 1 (anomaly) per clip."""
    label = g["label"]
    bad = ~label.isin(LABELS)
    if bad.any():
        first = _first_file(g, bad)
        what = ("missing" if label[bad].isna().all()
                else f"not 'normal'/'anomaly' (e.g. {label[bad].iloc[0]!r})")
        raise MetricsError(f"{where}: label {what} for {int(bad.sum())} clip(s), first {first}")
    return (label == "anomaly").to_numpy(dtype=int)


def _scores(g: pd.DataFrame, where: str) -> np.ndarray:
    s = pd.to_numeric(g["score"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(s)
    if bad.any():
        raise MetricsError(f"{where}: non-finite or non-numeric score for {int(bad.sum())} "
                           f"clip(s), first {_first_file(g, bad)}")
    return s


def _domains(g: pd.DataFrame, where: str) -> np.ndarray:
    """"source"/"target" per clip, or all None (no domains); a mix is an error."""
    if "domain" not in g.columns:
        return np.full(len(g), None, dtype=object)
    d = g["domain"].astype(object).where(g["domain"].notna(), None).to_numpy()
    known = np.isin(d, DOMAINS)
    unknown = pd.notna(d) & ~known
    if unknown.any():
        raise MetricsError(f"{where}: domain must be 'source', 'target' or None, got "
                           f"{d[unknown][0]!r} for {_first_file(g, unknown)}")
    if known.any() and not known.all():
        raise MetricsError(f"{where}: {int((~known).sum())} clip(s) have no domain while the "
                           f"others do, first {_first_file(g, ~known)}")
    return d


def _decisions(g: pd.DataFrame, where: str) -> np.ndarray | None:
    """0/1 decisions per clip, or None when the section has none."""
    if "decision" not in g.columns or g["decision"].isna().all():
        return None
    dec = pd.to_numeric(g["decision"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(dec, (0.0, 1.0))
    if bad.any():
        raise MetricsError(f"{where}: decision must be 0 or 1 (missing for some clips is not "
                           f"allowed), bad for {int(bad.sum())} clip(s), "
                           f"first {_first_file(g, bad)}")
    return dec.astype(int)


def _decision_metrics(g, y, domain, has_domains: bool, where: str) -> dict:
    """precision/recall/f1 over the section and, with domains, per domain (NaN if no decisions)."""
    out = {f"{m}{sfx}": np.nan for m in ("precision", "recall", "f1")
           for sfx in ("_source", "_target", "")}
    dec = _decisions(g, where)
    if dec is None:
        return out
    masks = {"": np.ones(len(y), dtype=bool)}
    if has_domains:
        masks.update({f"_{d}": domain == d for d in DOMAINS})
    for sfx, mask in masks.items():
        p, r, f, _ = precision_recall_fscore_support(
            y[mask], dec[mask], average="binary", pos_label=1, zero_division=0)
        out.update({f"precision{sfx}": float(p), f"recall{sfx}": float(r), f"f1{sfx}": float(f)})
    return out


def _first_file(g: pd.DataFrame, mask) -> str:
    if "file" not in g.columns:
        return f"row {g.index[np.asarray(mask)][0]!r}"
    return repr(g["file"].to_numpy()[np.asarray(mask)][0])


def official_values(section_table: pd.DataFrame) -> np.ndarray:
    """The list the official score averages: AUC(source)s, AUC(target)s, pAUCs.

    Sections without domains contribute ``auc`` and ``pauc`` instead. Shape ``(n,)``.
    """
    with_domains = section_table["auc_source"].notna().to_numpy()
    parts = [section_table["auc_source"].to_numpy()[with_domains],
             section_table["auc_target"].to_numpy()[with_domains],
             section_table["auc"].to_numpy()[~with_domains],
             section_table["pauc"].to_numpy()]
    return np.concatenate(parts).astype(float)


def official_score(section_table: pd.DataFrame) -> float:
    """Official DCASE score: harmonic mean of :func:`official_values` (fraction in [0, 1])."""
    return _hmean(official_values(section_table), "the section table")


def _hmean(values, what: str) -> float:
    """Harmonic mean of the non-NaN values, each floored at ``EPS`` like the evaluator."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        raise MetricsError(f"{what} holds no metric values to average")
    return float(hmean(np.maximum(v, EPS)))


def metrics_table(section_table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of the seed papers: one row per machine, a final ``All (hmean)`` row.

    Rows are named by machine, with the section appended (``fan (00)``) when a machine has
    several sections. Columns ``AUC source``, ``AUC target`` (if any section has domains),
    ``AUC`` (only for sections without domains) and ``pAUC``; fractions in [0, 1]. The last
    row is the harmonic mean of each column. ``table.attrs["official_score"]`` holds
    :func:`official_score`, which is also the harmonic mean of all the cells above that row.
    """
    st = section_table.reset_index(drop=True)
    if st.empty:
        raise MetricsError("section table is empty: nothing to tabulate")
    many = st.groupby("machine")["section"].transform("nunique").to_numpy() > 1
    names = [f"{m} ({s})" if k else str(m) for m, s, k in zip(st["machine"], st["section"], many)]
    no_domain = st["auc_source"].isna().to_numpy()
    columns = {}
    if not no_domain.all():
        columns["AUC source"] = st["auc_source"].to_numpy(dtype=float)
        columns["AUC target"] = st["auc_target"].to_numpy(dtype=float)
    if no_domain.any():
        columns["AUC"] = np.where(no_domain, st["auc"].to_numpy(dtype=float), np.nan)
    columns["pAUC"] = st["pauc"].to_numpy(dtype=float)
    table = pd.DataFrame(columns, index=pd.Index(names, name="machine"))
    return _with_summary(table)


def _with_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Append the ``All (hmean)`` row and set ``attrs["official_score"]``."""
    table.loc[ALL_ROW] = [_hmean(table[c], f"column {c!r}") for c in table.columns]
    table.attrs["official_score"] = _hmean(table.drop(index=ALL_ROW).to_numpy().ravel(),
                                           "the metrics table")
    return table


def read_metrics_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a :func:`metrics_table` saved with ``DataFrame.to_csv``; restores the attrs."""
    table = pd.read_csv(path, index_col=0)
    if table.empty or ALL_ROW not in table.index:
        raise MetricsError(f"{path}: not a metrics table (no {ALL_ROW!r} row)")
    return _with_summary(table.drop(index=ALL_ROW))


def format_table(table: pd.DataFrame, percent: bool = True) -> str:
    """Printable :func:`metrics_table`: ``66.98%`` (or ``0.6698``) cells, ``-`` for NaN,
    followed by the official score when the table carries it."""
    def fmt(v) -> str:
        if pd.isna(v):
            return "-"
        return f"{100 * v:.2f}%" if percent else f"{v:.4f}"

    text = table.apply(lambda col: col.map(fmt)).to_string()
    score = table.attrs.get("official_score")
    if score is not None:
        text += f"\nOfficial score (hmean of every AUC and pAUC above): {fmt(score)}"
    return text
