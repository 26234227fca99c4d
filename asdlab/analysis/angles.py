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
                ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy table of the angle of every clip of ``split`` to its class center in run ``run_dir``.

    Columns: file, machine, section, domain, label, split, class, angle (degrees), plus the
    columns of ``ground_truth`` (e.g. anomaly_kind, severity) joined on ``file`` and
    ``machine`` when given. Clips whose class is unknown (anonymised evaluation files) are left
    out.
    """
    emb = load_embeddings(run_dir)
    if emb.get("centers") is None:
        raise AsdlabError(f"{run_dir}: this run has no class centers (method without a class head)")
    meta = emb["meta"]
    sel = (meta["split"] == split).to_numpy() & (meta["class_index"] >= 0).to_numpy()
    out = meta.loc[sel, [c for c in META if c in meta.columns]].reset_index(drop=True)
    out["angle"] = angles_deg(emb["embeddings"][sel], emb["centers"], meta.loc[sel, "class_index"].to_numpy())
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
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
