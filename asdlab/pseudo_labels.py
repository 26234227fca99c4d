"""Clustering helpers of guided clustering (seed 001) and the run-folder files they produce.

Pieces (used by :mod:`asdlab.methods.guided_clustering`, tested on their own):

- :class:`WhitenL2`: PCA whitening followed by L2 normalisation, the feature transform DeepCluster
  applies before every k-means (``fit`` on ``(N, D)``, ``transform`` -> ``(N, k)`` unit rows);
- :func:`kmeans` / :func:`choose_n_clusters`: k-means with a fixed seed, and the number of
  clusters picked by the silhouette coefficient over a range;
- :func:`uniform_over_clusters`: DeepCluster's sampler, the same number of draws from every
  non-empty cluster;
- :func:`cluster_scores`, :func:`quality_tables`: how well pseudo labels recover the factory's
  hidden attributes (adjusted Rand index, NMI, homogeneity, completeness, purity, the
  contingency table).

Run-folder files (written by the method; the loaders below read them for a notebook):
``pseudo_labels.csv`` (file, machine, section, domain, pseudo_label: the training clips of the
machines without attributes), ``pseudo_k.csv`` (machine, k, silhouette, chosen),
``cluster_quality.csv`` (one row per machine without attributes), ``contingency.csv`` (long form:
machine, true_attributes, pseudo_label, count; every combination, zeros included) and
``pseudo_label_gain.csv`` / ``.json`` (the ASD score with pseudo labels vs machine-only labels).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (adjusted_rand_score, completeness_score, homogeneity_score,
                             normalized_mutual_info_score, silhouette_score)
from sklearn.metrics.cluster import contingency_matrix
from threadpoolctl import threadpool_limits

from asdlab.errors import AsdlabError, ConfigError

PSEUDO_FILE = "pseudo_labels.csv"
PSEUDO_K_FILE = "pseudo_k.csv"
QUALITY_FILE = "cluster_quality.csv"
CONTINGENCY_FILE = "contingency.csv"
GAIN_CSV = "pseudo_label_gain.csv"
GAIN_JSON = "pseudo_label_gain.json"
TABLE_MACHINE_ONLY = "table_machine_only.csv"
PSEUDO_LABEL_METHODS = ("guided_clustering",)
"""The registered methods whose run folders hold these files."""
PSEUDO_PREFIX = "pseudo"
"""Pseudo label ``k`` becomes the attribute string ``pseudo<k>`` (class ``machine/section/pseudo<k>``)."""


def pseudo_attribute(label: int) -> str:
    """The attribute string of pseudo label ``label``: ``3 -> "pseudo3"``."""
    return f"{PSEUDO_PREFIX}{int(label)}"


# --------------------------------------------------------------------------------------------
# feature transform, k-means, sampler


class WhitenL2:
    """PCA whitening + L2 normalisation (DeepCluster's preprocessing before k-means).

    ``fit(x (N, D))`` keeps ``n_components`` principal directions (None: all), capped at the
    rank the data can support: ``min(D, N - 1)`` and only directions whose variance exceeds
    ``rel_tol`` times the largest. ``transform(x) -> (M, k)``: centred, projected, divided by
    the standard deviation of each direction (unit variance on the fitted data), then every row
    scaled to unit L2 norm. Component signs are fixed (largest absolute loading positive), so
    the result does not depend on the SVD routine's sign convention.
    Fitted: ``mean_`` (D,), ``components_`` (k, D), ``scale_`` (k,) standard deviations.
    """

    def __init__(self, n_components: int | None = None, rel_tol: float = 1e-6):
        self.n_components = n_components
        self.rel_tol = rel_tol

    def fit(self, x: np.ndarray) -> WhitenL2:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"WhitenL2 needs at least 2 rows of (N, D) data, got shape {x.shape}")
        if self.n_components is not None and self.n_components < 1:
            raise ValueError(f"n_components must be >= 1 or None, got {self.n_components}")
        self.mean_ = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        var = s ** 2 / (len(x) - 1)
        k = min(self.n_components or x.shape[1], x.shape[1], len(x) - 1)
        k = max(1, min(k, int((var > self.rel_tol * max(var[0], 1e-300)).sum())))
        comps = vt[:k]
        signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
        self.components_ = comps * np.where(signs == 0, 1.0, signs)[:, None]
        self.scale_ = np.sqrt(np.maximum(var[:k], 1e-300))
        return self

    def whiten(self, x: np.ndarray) -> np.ndarray:
        """Whitened coordinates ``(M, k)`` before the L2 normalisation."""
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T / self.scale_

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = self.whiten(x)
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """k-means (scikit-learn, k-means++ init, ``n_init`` restarts, ``random_state=seed``, one
    thread) of the rows of ``x`` ``(N, D)``; returns ``(labels (N,) int64 in [0, k), centers (k, D))``."""
    x = np.asarray(x, dtype=np.float64)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= len(x):
        raise ConfigError(f"the number of clusters must be an integer in [1, {len(x)}] (the number of "
                          f"clips), got {k!r}")
    with threadpool_limits(1):  # one core (the course runs on one); small data, no loss of speed
        km = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(x)
    return km.labels_.astype(np.int64), km.cluster_centers_


def choose_n_clusters(x: np.ndarray, ks, seed: int = 0, n_init: int = 10) -> tuple[int, pd.DataFrame]:
    """The number of clusters in ``ks`` with the highest silhouette coefficient (Euclidean, on
    ``x`` as given) of :func:`kmeans`; values outside ``[2, N - 1]`` are dropped. Ties go to the
    smaller ``k``. Returns ``(k, table)`` with columns k, silhouette."""
    n = len(x)
    cand = sorted({int(k) for k in ks if 2 <= int(k) <= n - 1})
    if not cand:
        raise ConfigError(f"n_pseudo_range {list(ks)!r} holds no cluster count in [2, {n - 1}] for {n} clips")
    rows = []
    for k in cand:
        labels, _ = kmeans(x, k, seed, n_init)
        s = silhouette_score(x, labels) if len(set(labels)) > 1 else -1.0
        rows.append({"k": k, "silhouette": float(s)})
    table = pd.DataFrame(rows)
    best = int(table["k"][table["silhouette"].to_numpy().argmax()])
    return best, table


def uniform_over_clusters(labels, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """DeepCluster's sampler: ``n_samples`` item indices ``(n_samples,)`` drawn so that every
    non-empty cluster of ``labels`` ``(N,)`` gets the same number of draws (``n_samples // C``,
    the remainder spread one each over randomly chosen clusters); within a cluster, draws are
    without replacement while the cluster has enough items, with replacement beyond. Shuffled."""
    labels = np.asarray(labels)
    clusters = np.unique(labels)
    if n_samples < 0 or len(clusters) == 0:
        raise ValueError("uniform_over_clusters needs labels and n_samples >= 0")
    quota = np.full(len(clusters), n_samples // len(clusters))
    quota[rng.choice(len(clusters), n_samples % len(clusters), replace=False)] += 1
    parts = []
    for c, q in zip(clusters, quota):
        members = np.flatnonzero(labels == c)
        full, rest = divmod(int(q), len(members))
        parts += [rng.permutation(members) for _ in range(full)]
        parts.append(rng.choice(members, rest, replace=False))
    out = np.concatenate(parts).astype(np.int64)
    return out[rng.permutation(len(out))]


def nmi(a, b) -> float:
    """Normalised mutual information (scikit-learn, arithmetic mean) of two labelings."""
    return float(normalized_mutual_info_score(np.asarray(a), np.asarray(b)))


# --------------------------------------------------------------------------------------------
# cluster quality against a ground truth


def cluster_scores(true, pred) -> dict:
    """Agreement of a clustering ``pred`` with true classes ``true`` (same length): ``ari``
    (adjusted Rand index: 1 perfect, about 0 chance), ``nmi``, ``homogeneity``, ``completeness``
    (scikit-learn), ``purity`` (share of clips in their cluster's majority class), ``n_clips``,
    ``n_true`` (classes) and ``n_clusters`` (non-empty clusters)."""
    true, pred = np.asarray(true), np.asarray(pred)
    if len(true) != len(pred) or len(true) == 0:
        raise ValueError(f"need two labelings of the same non-zero length, got {len(true)} and {len(pred)}")
    table = contingency_matrix(true, pred)
    return {"n_clips": len(true), "n_true": int(table.shape[0]), "n_clusters": int(table.shape[1]),
            "ari": float(adjusted_rand_score(true, pred)), "nmi": nmi(true, pred),
            "homogeneity": float(homogeneity_score(true, pred)),
            "completeness": float(completeness_score(true, pred)),
            "purity": float(table.max(axis=0).sum() / len(true))}


def contingency_long(true, pred) -> pd.DataFrame:
    """Counts of every (true class, cluster) combination, zeros included, in long form:
    columns true_attributes, pseudo_label, count; sorted by both."""
    t = pd.DataFrame({"true_attributes": np.asarray(true, dtype=str), "pseudo_label": np.asarray(pred)})
    counts = t.groupby(["true_attributes", "pseudo_label"]).size()
    grid = pd.MultiIndex.from_product([sorted(t["true_attributes"].unique()), sorted(t["pseudo_label"].unique())],
                                      names=["true_attributes", "pseudo_label"])
    return counts.reindex(grid, fill_value=0).rename("count").reset_index()


def quality_tables(pseudo: pd.DataFrame, ground_truth: pd.DataFrame,
                   extra: dict[str, pd.DataFrame] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cluster quality of ``pseudo`` (file, machine, pseudo_label) against ``ground_truth``
    (file, machine, true_attributes; :func:`asdlab.analysis.factory_ground_truth`), per machine.

    Returns ``(quality, contingency)``: ``quality`` one row per machine (machine, then the
    :func:`cluster_scores` keys; for every ``name: frame`` of ``extra``, a clustering of the
    same clips, also ``ari_<name>`` and ``nmi_<name>``); ``contingency`` the long form of
    :func:`contingency_long` with a machine column. Clips without a ground-truth row are an error.
    """
    t = pseudo.merge(ground_truth[["file", "machine", "true_attributes"]], on=["file", "machine"], how="left")
    missing = t["true_attributes"].isna()
    if missing.any():
        raise AsdlabError(f"{int(missing.sum())} pseudo-labelled clips have no ground-truth row, "
                          f"e.g. {t.loc[missing, 'file'].iloc[0]!r}")
    rows, tables = [], []
    for machine, g in t.groupby("machine", sort=True):
        row = {"machine": machine, **cluster_scores(g["true_attributes"], g["pseudo_label"])}
        for name, other in (extra or {}).items():
            o = g[["file"]].merge(other[other["machine"] == machine][["file", "pseudo_label"]], on="file", how="left")
            if o["pseudo_label"].isna().any():
                raise AsdlabError(f"clustering {name!r} lacks clips of {machine}")
            row[f"ari_{name}"] = float(adjusted_rand_score(g["true_attributes"], o["pseudo_label"]))
            row[f"nmi_{name}"] = nmi(g["true_attributes"], o["pseudo_label"])
        rows.append(row)
        tables.append(contingency_long(g["true_attributes"], g["pseudo_label"]).assign(machine=machine))
    contingency = (pd.concat(tables, ignore_index=True)[["machine", "true_attributes", "pseudo_label", "count"]]
                   if tables else pd.DataFrame(columns=["machine", "true_attributes", "pseudo_label", "count"]))
    return pd.DataFrame(rows), contingency


# --------------------------------------------------------------------------------------------
# loaders for a run folder


def _read(run_dir, name: str, what: str) -> pd.DataFrame:
    f = Path(run_dir) / name
    if not f.exists():
        raise AsdlabError(f"{run_dir}: no {name} ({what})")
    return pd.read_csv(f, dtype={"section": str, "true_attributes": str}, keep_default_na=False,
                       na_values={"domain": [""]})


def load_pseudo_labels(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_labels.csv`` of a guided-clustering run: one row per training clip of a machine
    without attributes (file, machine, section, domain, pseudo_label)."""
    return _read(run_dir, PSEUDO_FILE, "not a guided_clustering run")


def cluster_quality(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``cluster_quality.csv``: per machine without attributes, ARI, NMI and friends of its pseudo
    labels against the factory's hidden attributes (see :func:`quality_tables`)."""
    return _read(run_dir, QUALITY_FILE, "the run had no ground truth of the hidden attributes: "
                 "only factory data has one")


def contingency(run_dir: str | os.PathLike, machine: str) -> pd.DataFrame:
    """The contingency table of ``machine``: true attribute strings (rows) x pseudo labels
    (columns), clip counts."""
    t = _read(run_dir, CONTINGENCY_FILE, "the run had no ground truth of the hidden attributes")
    sel = t[t["machine"] == machine]
    if sel.empty:
        known = ", ".join(sorted(t["machine"].unique()))
        raise AsdlabError(f"{run_dir}: no contingency table for {machine!r} (machines: {known})")
    return sel.pivot(index="true_attributes", columns="pseudo_label", values="count").fillna(0).astype(int)


def gain_table(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_label_gain.csv``: per machine (and ``All (official)``) the harmonic mean of its
    AUCs and pAUC with pseudo labels, with machine-only labels, and the gain; ``hidden`` marks
    the machines without attributes."""
    return _read(run_dir, GAIN_CSV, "the run trained no machine-only baseline or had no test labels")


def gain_summary(run_dir: str | os.PathLike) -> dict:
    """``pseudo_label_gain.json`` as a dict."""
    f = Path(run_dir) / GAIN_JSON
    if not f.exists():
        raise AsdlabError(f"{run_dir}: no {GAIN_JSON} (no machine-only baseline or no test labels)")
    return json.loads(f.read_text())


def silhouettes(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_k.csv``: per machine without attributes and candidate k, the silhouette
    coefficient and whether k was chosen (empty when ``n_pseudo`` was fixed)."""
    return _read(run_dir, PSEUDO_K_FILE, "not a guided_clustering run")


def with_without_table(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Table 1 of the run with pseudo labels next to the same scorer with machine-only labels,
    in :func:`asdlab.compare.compare_table`'s form (columns ``("pseudo labels", metric)`` and
    ``("machine-only labels", metric)``), for :func:`asdlab.compare.style_best`."""
    from asdlab.compare import side_by_side
    from asdlab.metrics import read_metrics_table

    run_dir = Path(run_dir)
    for name in ("table.csv", TABLE_MACHINE_ONLY):
        if not (run_dir / name).exists():
            raise AsdlabError(f"{run_dir}: no {name} (no machine-only baseline or no test labels)")
    scores = gain_summary(run_dir)["official_score"]
    return side_by_side({"pseudo labels": read_metrics_table(run_dir / "table.csv"),
                         "machine-only labels": read_metrics_table(run_dir / TABLE_MACHINE_ONLY)},
                        {"pseudo labels": scores["pseudo"], "machine-only labels": scores["machine_only"]})


def machine_points(run_dir: str | os.PathLike, machine: str, split: str | None = "train", seed: int = 0,
                   ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """A UMAP of one machine's embeddings in a guided-clustering run: the clips of ``split``
    (None: train and test) of ``machine`` from ``embeddings.npy`` projected on their own
    (seeded, cosine metric), with the ``embeddings.csv`` metadata (``pseudo_label``: -1 where
    none), columns ``x``, ``y`` and the ``ground_truth`` columns joined on file and machine."""
    from asdlab.analysis import umap_coords
    from asdlab.embeddings import load_embeddings

    emb = load_embeddings(run_dir)
    meta = emb["meta"]
    keep = (meta["machine"] == machine).to_numpy()
    if split is not None:
        keep = keep & (meta["split"] == split).to_numpy()
    if not keep.any():
        raise AsdlabError(f"{run_dir}: no {split or ''} embeddings of machine {machine!r}".replace("  ", " "))
    coords = umap_coords(emb["embeddings"][keep], seed=seed, metric="cosine")
    out = meta[keep].reset_index(drop=True).assign(x=coords[:, 0], y=coords[:, 1])
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    return out


def check_pseudo_label_method(methods) -> str:
    """Notebook parameter check: ``methods`` must be a list of one method that writes pseudo
    labels (:data:`PSEUDO_LABEL_METHODS`); returns it."""
    if not isinstance(methods, (list, tuple)) or len(methods) != 1 or methods[0] not in PSEUDO_LABEL_METHODS:
        raise ConfigError(f"methods={methods!r}: this notebook shows one pseudo-label run; choose one of "
                          f"{list(PSEUDO_LABEL_METHODS)}, e.g. methods={[PSEUDO_LABEL_METHODS[0]]!r}")
    return methods[0]


def pretraining_rounds(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The DeepCluster rounds of a guided-clustering run's ``history.csv``: per round, the NMI
    with the previous round's assignment (``nmi_prev``, NaN for the first) and with the machine
    types (``nmi_machine``), the non-empty clusters, the largest cluster's size and the loss."""
    h = _read(run_dir, "history.csv", "not a guided_clustering run")
    cols = ["round", "nmi_prev", "nmi_machine", "n_nonempty", "largest_cluster", "train_loss"]
    rounds = h[h["stage"] == "pretrain"]
    missing = [c for c in cols if c not in rounds.columns]
    if missing:
        raise AsdlabError(f"{run_dir}: history.csv lacks {', '.join(missing)}")
    out = rounds[cols].apply(pd.to_numeric, errors="coerce").astype({"round": int})
    return out.groupby("round").last().reset_index()
