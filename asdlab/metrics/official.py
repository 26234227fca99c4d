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

That is the 2022-2025 rule, the default (``protocol=None``) of every function here. Each function
also takes ``protocol`` (a name of :data:`asdlab.metrics.protocols.PROTOCOLS`, or ``"auto"`` to
detect it from the scores table): ``dcase2020`` scores each machine ID's ``auc`` and ``pauc`` and
averages arithmetically (:func:`official_2020`); ``dcase2021`` adds the per-domain columns ``s_auc``,
``t_auc``, ``s_pauc``, ``t_pauc`` (each over one domain's normals and anomalies) and takes their
harmonic mean. :func:`section_metrics` and :func:`metrics_table` record the protocol in
``attrs["protocol"]``, which the functions reading their tables use when not told otherwise.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pandas as pd
from scipy.stats import hmean
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from asdlab.core.errors import MetricsError
from asdlab.metrics.protocols import (DEFAULT_PROTOCOL, DOMAIN_COLUMNS_2021, check_protocol,
                                      describe_protocol, protocol_rule, resolve_protocol)

MAX_FPR = 0.1
EPS = sys.float_info.epsilon  # the evaluator's floor before the harmonic mean
DOMAINS = ("source", "target")
LABELS = ("normal", "anomaly")
ALL_ROW = "All (hmean)"
ALL_ROW_MEAN = "All (mean)"
"""The summary row of a ``dcase2020`` table (arithmetic means; every other protocol: ``ALL_ROW``)."""
SUMMARY_ROWS = (ALL_ROW, ALL_ROW_MEAN)

SECTION_COLUMNS = [
    "machine", "section",
    "auc_source", "auc_target", "auc", "pauc",
    "precision_source", "precision_target", "precision",
    "recall_source", "recall_target", "recall",
    "f1_source", "f1_target", "f1",
    "n_normal_source", "n_normal_target", "n_normal", "n_anomaly",
]
REQUIRED_COLUMNS = ("machine", "section", "label", "score")


def labelled_sections(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``scores`` whose (machine, section) has every test label known: what metrics
    can be computed on when development and evaluation data (anonymised, unlabelled test files)
    are scored in one run."""
    known = scores["label"].notna().groupby([scores["machine"], scores["section"]]).transform("all")
    return scores[known.to_numpy()]


def section_metrics(scores: pd.DataFrame, protocol: str | None = None) -> pd.DataFrame:
    """Official metrics of every (machine, section): one row each, columns ``SECTION_COLUMNS``.

    ``scores``: one row per test clip with columns ``machine``, ``section``, ``label``
    ("normal"/"anomaly"), ``score`` (float, higher = more anomalous) and optionally ``file``
    (used in messages), ``domain`` ("source"/"target"/None) and ``decision`` (0/1). Metrics are
    fractions in [0, 1]; decision metrics are NaN without decisions. A section whose clips have
    no domain (DCASE2020) gets NaN ``auc_source``/``auc_target`` and per-domain decision
    metrics; its ``auc`` enters the official score. Rows are sorted by machine, then section.
    ``protocol``: None (the 2022-2025 rule), ``"auto"`` or a protocol name; ``dcase2020`` leaves
    ``auc_source``/``auc_target`` NaN, ``dcase2021`` adds the columns ``s_auc``, ``t_auc``,
    ``s_pauc``, ``t_pauc``; a given protocol is kept in ``attrs["protocol"]``. Raises
    :class:`MetricsError` for a section without normals or without anomalies (under
    ``dcase2021``: per domain), a missing label, a non-finite score or a bad decision.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise MetricsError(f"scores table lacks column(s) {', '.join(missing)}")
    if scores.empty:
        raise MetricsError("scores table is empty: no test clips to evaluate")
    name = None if protocol is None else resolve_protocol(protocol, scores)
    rule = protocol_rule(name or DEFAULT_PROTOCOL)
    groups = scores.groupby(["machine", "section"], sort=True, dropna=False)
    rows = [_section_row(machine, section, g, rule) for (machine, section), g in groups]
    columns = SECTION_COLUMNS + (list(DOMAIN_COLUMNS_2021) if rule == "2021" else [])
    table = pd.DataFrame(rows, columns=columns)
    if name is not None:
        table.attrs["protocol"] = name
    return table


def _section_row(machine, section, g: pd.DataFrame, rule: str = "2022") -> dict:
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
        scored = has_domains and rule != "2020"
        row[f"auc_{d}"] = _domain_auc(y, s, normals, where, d) if scored else np.nan
    if rule == "2021":
        row.update(_within_domain_aucs(y, s, domain, has_domains, where))
    row.update(_decision_metrics(g, y, domain, has_domains, where))
    return row


def _within_domain_aucs(y: np.ndarray, s: np.ndarray, domain: np.ndarray, has_domains: bool,
                        where: str) -> dict:
    """The 2021 rule: AUC and pAUC of each domain over that domain's clips only."""
    if not has_domains:
        raise MetricsError(f"{where}: the clips have no domain; the dcase2021 protocol scores the "
                           "source and target domains separately")
    out = {}
    for d in DOMAINS:
        mask = domain == d
        n_anomaly = int(y[mask].sum())
        if n_anomaly == 0 or n_anomaly == int(mask.sum()):
            absent = "anomalous" if n_anomaly == 0 else "normal"
            raise MetricsError(f"{where}: no {d}-domain {absent} clips; the dcase2021 protocol needs "
                               "normal and anomalous clips in each domain")
        out[f"{d[0]}_auc"] = roc_auc_score(y[mask], s[mask])
        out[f"{d[0]}_pauc"] = roc_auc_score(y[mask], s[mask], max_fpr=MAX_FPR)
    return out


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


def _table_protocol(table: pd.DataFrame, protocol: str | None) -> str | None:
    """The protocol a section or metrics table is read with: ``protocol`` when given, else the
    table's ``attrs["protocol"]``, else ``dcase2021`` when it has the 2021 columns, else None."""
    if protocol not in (None, "auto"):
        return check_protocol(protocol)
    if table.attrs.get("protocol"):
        return check_protocol(table.attrs["protocol"])
    if all(c in table.columns for c in DOMAIN_COLUMNS_2021):
        return "dcase2021"
    return None


def _rule(table: pd.DataFrame, protocol: str | None) -> str:
    return protocol_rule(_table_protocol(table, protocol) or DEFAULT_PROTOCOL)


def official_values(section_table: pd.DataFrame, protocol: str | None = None) -> np.ndarray:
    """The list the official score averages, shape ``(n,)``.

    2022-2025 rule (default): AUC(source)s, AUC(target)s, pAUCs; sections without domains
    contribute ``auc`` and ``pauc`` instead. ``dcase2020``: every ``auc`` and ``pauc``.
    ``dcase2021``: every ``s_auc``, ``t_auc``, ``s_pauc``, ``t_pauc``. ``protocol`` defaults to
    the table's ``attrs["protocol"]`` (see :func:`section_metrics`).
    """
    rule = _rule(section_table, protocol)
    if rule == "2020":
        return np.concatenate([section_table["auc"].to_numpy(), section_table["pauc"].to_numpy()]).astype(float)
    if rule == "2021":
        missing = [c for c in DOMAIN_COLUMNS_2021 if c not in section_table.columns]
        if missing:
            raise MetricsError(f"the section table has no {', '.join(missing)} column(s): compute it with "
                               "section_metrics(scores, protocol='dcase2021')")
        return np.concatenate([section_table[c].to_numpy() for c in DOMAIN_COLUMNS_2021]).astype(float)
    with_domains = section_table["auc_source"].notna().to_numpy()
    parts = [section_table["auc_source"].to_numpy()[with_domains],
             section_table["auc_target"].to_numpy()[with_domains],
             section_table["auc"].to_numpy()[~with_domains],
             section_table["pauc"].to_numpy()]
    return np.concatenate(parts).astype(float)


def official_score(section_table: pd.DataFrame, protocol: str | None = None) -> float:
    """Official DCASE score (fraction in [0, 1]): the harmonic mean of :func:`official_values`,
    or under ``dcase2020`` :func:`official_2020`. ``protocol`` as in :func:`official_values`."""
    if _rule(section_table, protocol) == "2020":
        return official_2020(section_table)
    return _hmean(official_values(section_table, protocol), "the section table")


def official_2020(section_table: pd.DataFrame) -> float:
    """The DCASE 2020 official score of a section table (``metrics.csv``; columns ``machine``,
    ``auc``, ``pauc``, one row per machine ID): each machine type's arithmetic mean of its IDs'
    AUCs and pAUCs (the evaluator's "Average" row, ASDKit's ``official20``), then the arithmetic
    mean over machine types (ASDKit's total). Fraction; NaN values are left out."""
    return _mean_over_types(section_table["machine"].to_numpy(),
                            section_table[["auc", "pauc"]].to_numpy(dtype=float), "the section table")


def _mean_over_types(machines: np.ndarray, values: np.ndarray, what: str) -> float:
    """Mean over machine types of each type's mean of its non-NaN ``values`` (rows = ``machines``)."""
    means = []
    for m in dict.fromkeys(machines):
        v = values[machines == m].ravel()
        v = v[np.isfinite(v)]
        if v.size:
            means.append(v.mean())
    if not means:
        raise MetricsError(f"{what} holds no AUC or pAUC to average")
    return float(np.mean(means))


def _hmean(values, what: str) -> float:
    """Harmonic mean of the non-NaN values, each floored at ``EPS`` like the evaluator."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        raise MetricsError(f"{what} holds no metric values to average")
    return float(hmean(np.maximum(v, EPS)))


_ROW_NAME = re.compile(r"^(?P<machine>.+) \((?P<section>\d{2})\)$")


def metrics_table(section_table: pd.DataFrame, protocol: str | None = None) -> pd.DataFrame:
    """Table 1 of the seed papers: one row per machine, a final summary row.

    Rows are named by machine, with the section appended (``fan (00)``) when a machine has
    several sections. Fractions in [0, 1]. Columns by protocol (``protocol`` as in
    :func:`official_values`):

    - 2022-2025 (default): ``AUC source``, ``AUC target`` (if any section has domains), ``AUC``
      (only for sections without domains) and ``pAUC``; last row ``All (hmean)``, the harmonic
      mean of each column;
    - ``dcase2021``: ``AUC source``, ``AUC target``, ``pAUC source``, ``pAUC target`` (each over
      that domain's clips only); last row ``All (hmean)``;
    - ``dcase2020``: ``AUC`` and ``pAUC`` per machine ID; last row ``All (mean)``, each column's
      mean over machine types of the type's mean over its IDs.

    ``table.attrs["official_score"]`` holds :func:`official_score` (the harmonic mean of all the
    cells above the last row; under ``dcase2020`` the mean of the last row's two cells) and
    ``attrs["protocol"]`` the protocol when one is known.
    """
    name = _table_protocol(section_table, protocol)
    rule = protocol_rule(name or DEFAULT_PROTOCOL)
    st = section_table.reset_index(drop=True)
    if st.empty:
        raise MetricsError("section table is empty: nothing to tabulate")
    many = st.groupby("machine")["section"].transform("nunique").to_numpy() > 1
    names = [f"{m} ({s})" if k else str(m) for m, s, k in zip(st["machine"], st["section"], many)]
    columns = {}
    if rule == "2021":
        official_values(st, "dcase2021")  # the columns are there
        for label, col in zip(("AUC source", "AUC target", "pAUC source", "pAUC target"), DOMAIN_COLUMNS_2021):
            columns[label] = st[col].to_numpy(dtype=float)
    elif rule == "2020":
        columns = {"AUC": st["auc"].to_numpy(dtype=float), "pAUC": st["pauc"].to_numpy(dtype=float)}
    else:
        no_domain = st["auc_source"].isna().to_numpy()
        if not no_domain.all():
            columns["AUC source"] = st["auc_source"].to_numpy(dtype=float)
            columns["AUC target"] = st["auc_target"].to_numpy(dtype=float)
        if no_domain.any():
            columns["AUC"] = np.where(no_domain, st["auc"].to_numpy(dtype=float), np.nan)
        columns["pAUC"] = st["pauc"].to_numpy(dtype=float)
    table = pd.DataFrame(columns, index=pd.Index(names, name="machine"))
    return _with_summary(table, name)


def _with_summary(table: pd.DataFrame, protocol: str | None = None) -> pd.DataFrame:
    """Append the summary row and set ``attrs["official_score"]`` (and ``attrs["protocol"]``)."""
    if protocol_rule(protocol or DEFAULT_PROTOCOL) == "2020":
        machines = np.array([_row_machine(n) for n in table.index], dtype=object)
        cells = table.to_numpy(dtype=float)
        table.loc[ALL_ROW_MEAN] = [_mean_over_types(machines, cells[:, [i]], f"column {c!r}")
                                   for i, c in enumerate(table.columns)]
        table.attrs["official_score"] = _mean_over_types(machines, cells, "the metrics table")
    else:
        table.loc[ALL_ROW] = [_hmean(table[c], f"column {c!r}") for c in table.columns]
        table.attrs["official_score"] = _hmean(table.drop(index=ALL_ROW).to_numpy().ravel(),
                                               "the metrics table")
    if protocol is not None:
        table.attrs["protocol"] = protocol
    return table


def _row_machine(name: str) -> str:
    """The machine of a table row named ``fan`` or ``fan (02)``."""
    m = _ROW_NAME.match(str(name))
    return m["machine"] if m else str(name)


def summary_row(table: pd.DataFrame) -> str:
    """The name of a metrics table's summary row: ``All (hmean)`` or (``dcase2020``) ``All (mean)``."""
    return ALL_ROW_MEAN if ALL_ROW_MEAN in table.index else ALL_ROW


def read_metrics_table(path: str | os.PathLike, protocol: str | None = None) -> pd.DataFrame:
    """Read a :func:`metrics_table` saved with ``DataFrame.to_csv``; restores the attrs.

    The protocol comes from the table itself (an ``All (mean)`` row: ``dcase2020``; ``pAUC
    source`` columns: ``dcase2021``) unless ``protocol`` names it (e.g. from ``summary.json``).
    """
    table = pd.read_csv(path, index_col=0)
    present = [r for r in SUMMARY_ROWS if r in table.index]
    if table.empty or not present:
        raise MetricsError(f"{path}: not a metrics table (no {ALL_ROW!r} or {ALL_ROW_MEAN!r} row)")
    if protocol is None:
        protocol = ("dcase2020" if ALL_ROW_MEAN in present
                    else "dcase2021" if "pAUC source" in table.columns else None)
    elif (ALL_ROW_MEAN in present) != (protocol_rule(protocol) == "2020"):
        raise MetricsError(f"{path}: a {present[0]!r} row does not belong to a {protocol} table")
    return _with_summary(table.drop(index=present), protocol)


def format_table(table: pd.DataFrame, percent: bool = True) -> str:
    """Printable :func:`metrics_table`: ``66.98%`` (or ``0.6698``) cells, ``-`` for NaN,
    followed by the official score when the table carries it and the protocol when known."""
    def fmt(v) -> str:
        if pd.isna(v):
            return "-"
        return f"{100 * v:.2f}%" if percent else f"{v:.4f}"

    text = table.apply(lambda col: col.map(fmt)).to_string()
    score = table.attrs.get("official_score")
    protocol = table.attrs.get("protocol")
    if score is not None:
        how = ("mean over machine types of each type's mean AUC and pAUC" if ALL_ROW_MEAN in table.index
               else "hmean of every AUC and pAUC above")
        text += f"\nOfficial score ({how}): {fmt(score)}"
    if protocol:
        text += f"\nProtocol {describe_protocol(protocol)}"
    return text
