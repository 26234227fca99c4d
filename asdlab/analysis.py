"""Angles between clips and their class centers (the Noisy-ArcMix paper's Figure 1).

For a run that saved embeddings and class centers, the angle of a clip is
``arccos(<e / |e|, w / |w|>)`` in degrees, with ``w`` the center of the clip's own class.
Small angles mean the clip sits close to what the classifier learned for its class: a good
loss puts normal clips near 0 and anomalies further out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.errors import AsdlabError
from asdlab.embeddings import load_embeddings

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


def factory_ground_truth(data_root: str | os.PathLike) -> pd.DataFrame | None:
    """What the built-in factory knows about every clip, from ``<data_root>/ground_truth/clips/``:
    one row per clip with file, machine, anomaly_kind ("" for normal clips), severity (0 for
    normal clips), true_attributes (also for machines whose names say ``noAttribute``) and
    ``true_attr_<key>`` columns. None for data without such files (real DCASE data)."""
    folder = Path(data_root) / "ground_truth" / "clips"
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return None
    frames = []
    for f in files:
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        attrs = {c: "true_" + c for c in t.columns if c.startswith("attr_")}
        frames.append(pd.DataFrame({"file": t["file_name"], "machine": f.stem,
                                    "anomaly_kind": t["anomaly"],
                                    "severity": pd.to_numeric(t["severity"]),
                                    "true_attributes": t["attributes"]})
                      .join(t[list(attrs)].rename(columns=attrs)))
    return pd.concat(frames, ignore_index=True)
