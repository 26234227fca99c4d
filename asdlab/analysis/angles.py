"""Angles between clips and their class centers (the Noisy-ArcMix paper's Figure 1).

For a run that saved embeddings and class centers, the angle of a clip is
``arccos(<e / |e|, w / |w|>)`` in degrees, with ``w`` the center of the clip's own class.
Small angles mean the clip sits close to what the classifier learned for its class: a good
loss puts normal clips near 0 and anomalies further out.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.core.errors import AsdlabError
from asdlab.artifacts.embeddings import load_embeddings

META = ["file", "machine", "section", "domain", "label", "split", "class"]


def angles_deg(embeddings: np.ndarray, centers: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Angle in degrees between each embedding ``(N, D)`` and its class center.

    ``centers``: ``(C, D)``; ``class_index``: ``(N,)`` ints in ``[0, C)``. Neither input needs
    to be normalised. Returns ``(N,)`` in ``[0, 180]``.
    """
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = centers / np.linalg.norm(centers, axis=1, keepdims=True)
    cos = np.einsum("nd,nd->n", e, w[np.asarray(class_index)])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_table(run_dir: str | os.PathLike, split: str = "test",
                ground_truth: pd.DataFrame | None = None, unknown: str = "section") -> pd.DataFrame:
    """Tidy table of the angle of every labelled clip of ``split`` to its class center in run
    ``run_dir``.

    Columns: file, machine, section, domain, label, split, class, angle (degrees), ``angle_to``
    (``"class"``: its own class center; ``"section"``: the nearest center of its machine type and
    section), plus the columns of ``ground_truth`` (e.g. anomaly_kind, severity) joined on
    ``file`` and ``machine`` when given. A clip whose class is unknown (a class never seen in
    training, e.g. DCASE 2021 test names carry no attributes, or a DCASE 2020 ID) is measured to
    the nearest center of its section's classes (``unknown="section"``) or left out
    (``unknown="drop"``); clips without a label (anonymised evaluation files) and clips whose
    section has no class are left out. ``out.attrs["note"]``: one line saying what was left out
    or measured to the section ("" when nothing was).
    """
    if unknown not in ("section", "drop"):
        raise ValueError(f"unknown must be 'section' or 'drop', got {unknown!r}")
    emb = load_embeddings(run_dir)
    if emb.get("centers") is None:
        raise AsdlabError(f"{run_dir}: this run has no class centers (method without a class head)")
    meta = emb["meta"]
    in_split = (meta["split"] == split).to_numpy()
    labelled = meta["label"].isin(["normal", "anomaly"]).to_numpy()
    index = meta["class_index"].to_numpy()
    sections = [tuple(str(c).split("/", 2)[:2]) for c in emb["classes"]]
    by_section: dict[tuple, list[int]] = {}
    for i, sec in enumerate(sections):
        by_section.setdefault(sec, []).append(i)
    candidates = [by_section.get((m, s), []) for m, s in zip(meta["machine"].astype(str), meta["section"].astype(str))]
    via_section = (index < 0) & np.array([len(c) > 0 for c in candidates], bool) & (unknown == "section")
    sel = in_split & labelled & ((index >= 0) | via_section)
    out = meta.loc[sel, [c for c in META if c in meta.columns]].reset_index(drop=True)
    vectors = emb["embeddings"][sel]
    angle = np.empty(len(out))
    own = index[sel] >= 0
    angle[own] = angles_deg(vectors[own], emb["centers"], index[sel][own])
    for row, i in zip(np.flatnonzero(~own), np.flatnonzero(sel)[~own]):
        ks = candidates[i]
        angle[row] = angles_deg(np.repeat(vectors[row:row + 1], len(ks), 0), emb["centers"], np.array(ks)).min()
    out["angle"] = angle
    out["angle_to"] = np.where(own, "class", "section")
    notes = []
    if (~own).any():
        notes.append(f"{int((~own).sum())} clip(s) of classes unseen in training measured to the nearest "
                     f"class center of their section")
    gone = in_split & (index < 0) & labelled & ~via_section
    if gone.any():
        why = "their section has no class in training" if unknown == "section" else "their class is unknown"
        notes.append(f"{int(gone.sum())} clip(s) left out: {why}")
    if (in_split & ~labelled).any():
        notes.append(f"{int((in_split & ~labelled).sum())} clip(s) without a label (evaluation data) left out")
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    out.attrs["note"] = "; ".join(notes)
    return out


def angle_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Figure 1 made testable: one row per name (e.g. per loss) with the median angle of normal
    and of anomalous test clips (degrees) and ``angle_auc``, the ROC AUC of the angle used as an
    anomaly score (0.5 = no separation, 1 = every anomaly further out than every normal)."""
    rows = []
    for name, t in tables.items():
        y = (t["label"] == "anomaly").to_numpy()
        rows.append({"name": name,
                     "median_normal_angle": float(np.median(t.loc[~y, "angle"])) if (~y).any() else np.nan,
                     "median_anomaly_angle": float(np.median(t.loc[y, "angle"])) if y.any() else np.nan,
                     "angle_auc": roc_auc_score(y, t["angle"]) if 0 < y.sum() < len(y) else np.nan,
                     "n_clips": len(t)})
    return pd.DataFrame(rows).set_index("name")


def angle_summary_by_domain(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`angle_summary` for all test clips, then per domain, with
    ``separation_deg`` = median anomaly angle - median normal angle (degrees; larger = anomalies
    further out). Index: (domain, name) with domain "all", "source", "target"."""
    parts = {"all": angle_summary(tables)}
    domains = sorted(set().union(*(t["domain"].dropna().unique() for t in tables.values())))
    for d in domains:
        parts[d] = angle_summary({k: t[t["domain"] == d] for k, t in tables.items()})
    out = pd.concat(parts, names=["domain", "name"])
    out.insert(2, "separation_deg", out["median_anomaly_angle"] - out["median_normal_angle"])
    return out


def ecdf(values) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF of ``values``: ``(x, y)`` with ``x`` the values sorted and ``y[i] = (i + 1) / n``,
    the share of values ``<= x[i]`` (ties give repeated ``x``, the last one carrying the share).
    Empty input gives two empty arrays."""
    x = np.sort(np.asarray(values, float))
    return x, np.arange(1, len(x) + 1) / max(len(x), 1)


def angle_auc_table(table: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC of the angle as anomaly score per machine type (rows, then ``"all"``) and domain
    (columns ``"all"`` then each domain present, e.g. source / target). ``table``: columns machine,
    domain, label, angle (e.g. :func:`angle_table`). NaN where a cell lacks normal or anomalous
    clips."""
    def auc(t):
        y = (t["label"] == "anomaly").to_numpy()
        return roc_auc_score(y, t["angle"]) if 0 < y.sum() < len(y) else np.nan

    domains = sorted(table["domain"].dropna().unique())
    machines = [*sorted(table["machine"].unique()), "all"]
    rows = {}
    for m in machines:
        t = table if m == "all" else table[table["machine"] == m]
        rows[m] = {"all": auc(t), **{d: auc(t[t["domain"] == d]) for d in domains}}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name, out.columns.name = "machine", "domain"
    return out
