"""Clustering on embeddings: PCA whitening, seeded k-means, the silhouette choice of k, DeepCluster's
uniform sampler, and how well pseudo labels recover true attributes (ARI, NMI, purity).

Used by guided clustering (seed 001) to make pseudo labels, and by the analysis of its runs.
File names of the run-folder files these produce are defined here so writer and reader agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (adjusted_rand_score, completeness_score, homogeneity_score,
                             normalized_mutual_info_score, silhouette_score)
from sklearn.metrics.cluster import contingency_matrix
from threadpoolctl import threadpool_limits

from asdlab.core.errors import AsdlabError, ConfigError

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
