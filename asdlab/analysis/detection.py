"""Detection per anomaly kind and severity, from the factory's ground truth."""

from __future__ import annotations


import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.core.errors import AsdlabError


ALL_KINDS = "all kinds"
ALL_SEVERITIES = "all"
DOMAIN_ALL = "all"
DETECTION_COLUMNS = ["machine", "domain", "group", "auc", "n_anomaly", "n_normal"]


def _with_truth(scores: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("file", "machine", "label", "score") if c not in scores.columns]
    if missing:
        raise AsdlabError(f"scores table lacks column(s) {', '.join(missing)}")
    for c in ("file", "machine", "anomaly_kind", "severity"):
        if c not in ground_truth.columns:
            raise AsdlabError(f"ground truth table lacks column {c!r} (use factory_ground_truth)")
    t = scores[scores["label"].isin(["normal", "anomaly"])]
    t = t.merge(ground_truth[["file", "machine", "anomaly_kind", "severity"]], on=["file", "machine"],
                how="left", validate="many_to_one")
    unknown = (t["label"] == "anomaly") & t["anomaly_kind"].isna()
    if unknown.any():
        raise AsdlabError(f"{int(unknown.sum())} anomalous clip(s) are not in the ground truth, first "
                          f"{t.loc[unknown, 'machine'].iloc[0]}/{t.loc[unknown, 'file'].iloc[0]}: "
                          "was the ground truth read from the same dataset?")
    return t


def _detection(t: pd.DataFrame, group: pd.Series, order: list, all_name: str) -> pd.DataFrame:
    """AUC of every group's anomalies against the normals, per machine and domain."""
    rows = []
    domains = [d for d in ("source", "target") if "domain" in t.columns and (t["domain"] == d).any()]
    for machine, g in t.groupby("machine", sort=True):
        grp = group.loc[g.index]
        for domain in [DOMAIN_ALL, *domains]:
            in_dom = np.ones(len(g), bool) if domain == DOMAIN_ALL else (g["domain"] == domain).to_numpy()
            normal = in_dom & (g["label"] == "normal").to_numpy()
            anomalous = in_dom & (g["label"] == "anomaly").to_numpy()
            s = g["score"].to_numpy(dtype=float)
            for name in [*[o for o in order if (grp[anomalous] == o).any()], all_name]:
                pos = anomalous if name == all_name else anomalous & (grp == name).to_numpy()
                if not pos.any():
                    continue
                keep = pos | normal
                auc = roc_auc_score(pos[keep], s[keep]) if normal.any() else np.nan
                rows.append({"machine": machine, "domain": domain, "group": name, "auc": auc,
                             "n_anomaly": int(pos.sum()), "n_normal": int(normal.sum())})
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def detection_by_kind(scores: pd.DataFrame, ground_truth: pd.DataFrame | None) -> pd.DataFrame:
    """How well each anomaly kind is detected: ROC AUC of the scores of one kind's anomalous
    clips against the normal clips, per machine and domain.

    ``scores``: test scores (file, machine, domain, label, score; higher = more anomalous);
    ``ground_truth``: :func:`factory_ground_truth`. Columns: machine, domain (``"all"``,
    ``"source"``, ``"target"``: normals and anomalies of that domain only), kind (the anomaly
    kind, or ``"all kinds"``: every anomaly of the machine and domain), auc, n_anomaly,
    n_normal. Sections of a machine are pooled. ``ground_truth=None`` (real DCASE data, where
    kinds are unknown) gives an empty table with these columns.
    """
    if ground_truth is None:
        return pd.DataFrame(columns=[c if c != "group" else "kind" for c in DETECTION_COLUMNS])
    t = _with_truth(scores, ground_truth)
    kinds = sorted(k for k in t["anomaly_kind"].dropna().unique() if k)
    return _detection(t, t["anomaly_kind"], kinds, ALL_KINDS).rename(columns={"group": "kind"})


def detection_by_severity(scores: pd.DataFrame, ground_truth: pd.DataFrame | None,
                          bins=(0, 0.25, 0.5, 0.75, 1.0)) -> pd.DataFrame:
    """Like :func:`detection_by_kind`, with the anomalies grouped by severity bin instead of
    kind. ``bins``: increasing edges; anomalies fall in ``(lo, hi]`` (the first bin also takes
    ``lo``) and the bin is named ``"lo-hi"`` (e.g. ``"0.25-0.5"``); severities outside the
    edges are left out. Column ``severity`` holds the bin name or ``"all"``."""
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        raise AsdlabError(f"detection_by_severity: bins={bins!r} must be at least 2 increasing edges")
    if ground_truth is None:
        return pd.DataFrame(columns=[c if c != "group" else "severity" for c in DETECTION_COLUMNS])
    t = _with_truth(scores, ground_truth)
    names = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    binned = pd.cut(t["severity"].where(t["label"] == "anomaly"), edges, labels=names,
                    include_lowest=True).astype(object)
    outside = (t["label"] == "anomaly") & binned.isna()
    t = t[~outside]
    return _detection(t, binned[~outside], names, ALL_SEVERITIES).rename(columns={"group": "severity"})
