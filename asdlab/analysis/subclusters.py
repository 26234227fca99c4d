"""Sub-cluster views of a run: which sub-cluster each clip falls into and how far it is from it.

For runs of the sub-cluster methods (``sc_adacos``, ``sc_noisy_arcmix``), which save
``subcluster_centers.npy`` ``(C, K, D)`` next to their embeddings (row ``c`` holds the ``K``
centers of class ``c`` of ``classes.csv``). A clip's *sub-cluster* is the center of its own
class with the largest cosine similarity; its *sub-cluster angle* is the angle to that center,
its *class angle* the angle to the class center of ``centers.npy`` (the normalised mean of the
class's sub-cluster centers). With ``K > 1`` a class can cover several modes of its normal
sounds, so a normal clip may sit near one sub-cluster while far from the class's mean
direction: the sub-cluster angle is then the better anomaly measure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.analysis import META, angles_deg
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import AsdlabError

SUBCLUSTER_FILE = "subcluster_centers.npy"


def load_subcluster_centers(run_dir: str | os.PathLike) -> np.ndarray:
    """The run's sub-cluster centers ``(C, K, D)``; a clear error for runs without them."""
    path = Path(run_dir) / SUBCLUSTER_FILE
    if not path.is_file():
        raise AsdlabError(f"{run_dir}: this run has no {SUBCLUSTER_FILE} (not a sub-cluster method)")
    centers = np.load(path)
    if centers.ndim != 3:
        raise AsdlabError(f"{path}: expected an array (classes, sub-clusters, dim), got shape {centers.shape}")
    return centers


def nearest_subcluster(embeddings: np.ndarray, subcenters: np.ndarray,
                       class_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each embedding ``(N, D)`` of class ``class_index`` ``(N,)`` (ints in ``[0, C)``): the
    index in ``[0, K)`` of the most cosine-similar center of its class in ``subcenters``
    ``(C, K, D)``, and the angle to it in degrees. Inputs need not be normalised."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = subcenters / np.linalg.norm(subcenters, axis=2, keepdims=True)
    cos = np.einsum("nd,nkd->nk", e, w[np.asarray(class_index)])
    best = cos.argmax(axis=1)
    return best, np.degrees(np.arccos(np.clip(cos[np.arange(len(e)), best], -1.0, 1.0)))


def subcluster_table(run_dir: str | os.PathLike, split: str | None = None,
                     ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per clip of ``split`` ("train", "test"; None: both) whose class is known, or
    unseen in training but of a section with classes (DCASE 2021 test names carry no
    attributes; anonymised evaluation files): such a clip is measured to the nearest sub-cluster
    and the nearest class center among its section's classes (``angle_to`` "section" instead of
    "class"; ``class`` / ``class_index`` name the class of that sub-cluster).

    Columns: file, machine, section, domain, label, split, class, class_index, ``subcluster``
    (index of the nearest sub-cluster center of the clip's class), ``angle_subcluster`` and
    ``angle_class`` (degrees), ``angle_to``, plus the ``ground_truth`` columns joined on file and
    machine. ``attrs["note"]``: one line on the clips measured to their section or left out."""
    emb = load_embeddings(run_dir)
    sub = load_subcluster_centers(run_dir)
    if emb["centers"] is None or len(emb["centers"]) != len(sub):
        raise AsdlabError(f"{run_dir}: centers.npy and {SUBCLUSTER_FILE} disagree on the number of classes")
    meta = emb["meta"]
    classes = [str(c) for c in emb["classes"]]
    by_section: dict[tuple, list[int]] = {}
    for k, c in enumerate(classes):
        by_section.setdefault(tuple(c.split("/", 2)[:2]), []).append(k)
    index = meta["class_index"].to_numpy()
    candidates = [by_section.get((str(m), str(s_)), []) for m, s_ in zip(meta["machine"], meta["section"])]
    in_split = np.ones(len(meta), bool) if split is None else (meta["split"] == split).to_numpy()
    unseen = in_split & (index < 0) & np.array([len(c) > 0 for c in candidates], bool)
    keep = in_split & ((index >= 0) | unseen)
    vectors = emb["embeddings"][keep]
    idx = index[keep].copy()
    sc, a_sub, a_cls = np.zeros(len(idx), int), np.zeros(len(idx)), np.zeros(len(idx))
    own = idx >= 0
    sc[own], a_sub[own] = nearest_subcluster(vectors[own], sub, idx[own])
    a_cls[own] = angles_deg(vectors[own], emb["centers"], idx[own])
    for row, i in zip(np.flatnonzero(~own), np.flatnonzero(keep)[~own]):
        ks = np.array(candidates[i])
        many = np.repeat(vectors[row:row + 1], len(ks), 0)
        best, angle = nearest_subcluster(many, sub, ks)
        j = int(np.argmin(angle))
        idx[row], sc[row], a_sub[row] = ks[j], best[j], angle[j]
        a_cls[row] = angles_deg(many, emb["centers"], ks).min()
    out = meta.loc[keep, [c for c in [*META, "class_index"] if c in meta.columns]].reset_index(drop=True)
    out["class"], out["class_index"] = [classes[k] for k in idx], idx
    out["subcluster"], out["angle_subcluster"], out["angle_class"] = sc, a_sub, a_cls
    out["angle_to"] = np.where(own, "class", "section")
    notes = []
    if (~own).any():
        notes.append(f"{int((~own).sum())} clip(s) of classes unseen in training measured to the nearest "
                     f"(sub-cluster) centers of their section")
    gone = in_split & (index < 0) & ~unseen
    if gone.any():
        notes.append(f"{int(gone.sum())} clip(s) left out: their section has no class in training")
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    out.attrs["note"] = "; ".join(notes)
    return out


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else np.nan


def subcluster_angle_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per machine type (and ``All``) of the test clips in ``table`` (:func:`subcluster_table`):
    median class and sub-cluster angles of normal and anomalous clips (degrees), and the ROC AUC
    of each angle used as an anomaly score over both domains (``auc_class``,
    ``auc_subcluster``; 0.5 = no separation). Clips without a label (evaluation data) are left out."""
    test = table[(table["split"] == "test") & table["label"].isin(["normal", "anomaly"])]
    if test.empty:
        raise AsdlabError("subcluster_angle_summary: the table has no labelled test clips")
    rows = []
    for name, t in [*test.groupby("machine", sort=True), ("All", test)]:
        y = (t["label"] == "anomaly").to_numpy()
        row = {"machine": name}
        for kind in ("class", "subcluster"):
            a = t[f"angle_{kind}"].to_numpy()
            row[f"median_normal_{kind}"] = float(np.median(a[~y])) if (~y).any() else np.nan
            row[f"median_anomaly_{kind}"] = float(np.median(a[y])) if y.any() else np.nan
            row[f"auc_{kind}"] = _auc(y, a)
        rows.append(row)
    return pd.DataFrame(rows).set_index("machine")


def subcluster_usage(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """How many of the ``k`` sub-clusters of each class hold training clips: per machine type,
    the number of classes, the mean number of occupied sub-clusters per class and the mean
    share of a class's training clips in its largest sub-cluster. ``table``:
    :func:`subcluster_table` (its training clips are used)."""
    train = table[table["split"] == "train"]
    if train.empty:
        raise AsdlabError("subcluster_usage: the table has no training clips")
    per_class = train.groupby(["machine", "class"])["subcluster"].agg(
        used="nunique", largest=lambda s: s.value_counts().iloc[0] / len(s))
    out = per_class.groupby("machine").agg(classes=("used", "size"), used_subclusters=("used", "mean"),
                                           largest_share=("largest", "mean"))
    out.insert(1, "subclusters_per_class", k)
    return out


def subcluster_points(run_dir: str | os.PathLike, seed: int = 0,
                      ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`asdlab.analysis.run_umap` of the run with a ``subcluster`` column naming each
    clip's nearest sub-cluster as ``"<class> #<index>"`` (empty where the class is unknown), for
    :func:`asdlab.viz.embedding_map`."""
    from asdlab.analysis import run_umap

    points = run_umap(run_dir, seed=seed, ground_truth=ground_truth)
    sub = subcluster_table(run_dir)
    names = sub["class"].astype(str) + " #" + sub["subcluster"].astype(str)
    key = ["file", "machine", "split"]
    return points.merge(sub[key].assign(subcluster=names), on=key, how="left")


SUBCLUSTER_METHODS = ("sc_adacos", "sc_noisy_arcmix")
"""The registered methods that save ``subcluster_centers.npy``."""


def check_subcluster_methods(methods, grid=None) -> None:
    """Notebook parameter check: ``methods`` a non-empty list among :data:`SUBCLUSTER_METHODS`;
    ``grid`` None or a list of ``[SC, SC(FeatEx)]`` pairs of positive integers."""
    from asdlab.core.errors import ConfigError

    if not methods or any(m not in SUBCLUSTER_METHODS for m in methods):
        raise ConfigError(f"methods={methods!r}: choose one or more of {list(SUBCLUSTER_METHODS)}")
    if grid is None:
        return
    ok = isinstance(grid, (list, tuple)) and len(grid) > 0 and all(
        isinstance(c, (list, tuple)) and len(c) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in c) for c in grid)
    if not ok:
        raise ConfigError(f"grid={grid!r}: expected None or a list of [SC, SC_FeatEx] pairs of positive "
                          "integers, e.g. [[1, 1], [16, 16]]")
