"""k-means cosine back end (Wilkinghoff 2023/2024, used by seed 000; METHODS.md sections 4, 6).

Per section: the length-normalised SOURCE training embeddings are clustered with k-means
(``n_clusters``, 16 by default; fewer when there are fewer distinct embeddings), and every
TARGET training embedding is kept as a reference of its own (there are only ~10 of them).
The anomaly score of a clip is its smallest cosine distance ``1 - cos`` to any reference
(centroid or target embedding), in [0, 2], higher = more anomalous. No domain label is needed
at test time.

scikit-learn style: ``__init__`` stores arguments, ``fit`` returns ``self``, fitted attributes
end in ``_``. k-means is scikit-learn's ``KMeans`` (Euclidean, on the unit vectors) seeded by
``seed``, so a fit is reproducible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from asdlab.core.schema import Int
from asdlab.backends.base import Scorer, sections, training_match
from asdlab.core.errors import DataError


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``(N, D)`` scaled to unit length (float64; zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


class KMeansCosine:
    """Minimum cosine distance to k-means centroids of the source embeddings and to every
    target embedding.

    ``n_clusters``: k-means K (16); ``seed``: k-means random state; ``n_init``: k-means
    restarts (the best inertia is kept).
    """

    def __init__(self, n_clusters: int = 16, seed: int = 0, n_init: int = 10):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, source: np.ndarray, target: np.ndarray | None = None) -> "KMeansCosine":
        """``source``: ``(n_s, D)`` source training embeddings; ``target``: ``(n_t, D)`` target
        training embeddings or None. Sets ``centroids_ (K, D)`` (unit-norm),
        ``targets_ (n_t, D)`` (unit-norm) and ``references_`` = both stacked."""
        src = normalize_rows(source)
        dim = src.shape[1] if src.ndim == 2 else np.asarray(target).shape[1]
        tgt = normalize_rows(target) if target is not None and len(target) else np.zeros((0, dim))
        if len(src) == 0 and len(tgt) == 0:
            raise ValueError("KMeansCosine.fit needs at least one training embedding")
        if self.n_clusters < 1:
            raise ValueError(f"n_clusters must be >= 1, got {self.n_clusters}")
        if len(src):
            k = min(self.n_clusters, len(np.unique(src.round(12), axis=0)))
            km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit(src)
            self.centroids_ = normalize_rows(km.cluster_centers_)
            self.labels_ = km.labels_
        else:
            self.centroids_ = np.zeros((0, dim))
            self.labels_ = np.zeros(0, dtype=int)
        self.targets_ = tgt
        self.references_ = np.concatenate([self.centroids_, self.targets_])
        return self

    def cosines(self, x: np.ndarray) -> np.ndarray:
        """Cosine ``(N, n_references)`` between each row of ``x`` and every reference."""
        return normalize_rows(x) @ self.references_.T

    def score(self, x: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Anomaly scores ``(N,)`` = ``1 - max cos`` over the references.

        ``exclude``: ``(N,)`` reference index to leave out for each row (-1: none), e.g. a
        target training clip scored against every reference but itself. A row left with no
        reference scores 2 (the largest cosine distance)."""
        cos = self.cosines(x)
        if exclude is not None:
            rows = np.flatnonzero(np.asarray(exclude) >= 0)
            cos[rows, np.asarray(exclude)[rows]] = -np.inf
        best = cos.max(axis=1) if cos.shape[1] else np.full(len(cos), -np.inf)
        return np.where(np.isfinite(best), 1.0 - best, 2.0)

    def nearest(self, x: np.ndarray) -> np.ndarray:
        """Index ``(N,)`` of the nearest reference: ``< K`` a centroid, ``K + i`` target clip ``i``."""
        return self.cosines(x).argmax(axis=1)


def score_sections(train_emb: np.ndarray, train_meta: pd.DataFrame, test_emb: np.ndarray,
                   test_meta: pd.DataFrame, n_clusters: int = 16, seed: int = 0,
                   n_init: int = 10) -> dict[str, np.ndarray]:
    """:class:`KMeansCosine` fitted per (machine, section) of the training clips.

    ``*_meta``: row-aligned frames with machine, section and (for training rows) domain;
    a training row whose domain is not "target" counts as source (DCASE2020 has no domains).
    A target training clip is scored against every reference except itself (leave-one-out;
    otherwise its score would be exactly 0 and distort the decision threshold).

    Returns ``{"train", "test"}`` scores and ``{"train_nearest", "test_nearest"}`` reference
    indices (per section, see :meth:`KMeansCosine.nearest`), all row-aligned.
    """
    out = {"train": np.full(len(train_meta), np.nan), "test": np.full(len(test_meta), np.nan),
           "train_nearest": np.full(len(train_meta), -1), "test_nearest": np.full(len(test_meta), -1)}
    tr_key = list(zip(train_meta["machine"], train_meta["section"]))
    te_key = list(zip(test_meta["machine"], test_meta["section"]))
    tr_is_target = (train_meta["domain"] == "target").to_numpy()
    missing = sorted(set(te_key) - set(tr_key))
    if missing:
        raise DataError(f"no training clips for machine/section {', '.join(f'{m}/{s}' for m, s in missing)}: "
                        "the k-means back end cannot score their test clips")
    tr_key_arr = pd.Series(tr_key, dtype=object)
    te_key_arr = pd.Series(te_key, dtype=object)
    for key in sorted(set(tr_key)):
        rows = np.flatnonzero((tr_key_arr == key).to_numpy())
        src, tgt = rows[~tr_is_target[rows]], rows[tr_is_target[rows]]
        km = KMeansCosine(n_clusters, seed, n_init).fit(train_emb[src], train_emb[tgt])
        exclude = np.full(len(rows), -1)
        exclude[np.isin(rows, tgt)] = len(km.centroids_) + np.arange(len(tgt))
        # rows are in order and tgt is the ordered subset, so the i-th target row gets K + i
        out["train"][rows] = km.score(train_emb[rows], exclude)
        out["train_nearest"][rows] = km.nearest(train_emb[rows])
        test_rows = np.flatnonzero((te_key_arr == key).to_numpy())
        if len(test_rows):
            out["test"][test_rows] = km.score(test_emb[test_rows])
            out["test_nearest"][test_rows] = km.nearest(test_emb[test_rows])
    return out


class KMeansScorer(Scorer):
    """The registered ``kmeans`` back end: :class:`KMeansCosine` per machine and section, scores
    equal to :func:`score_sections`.

    ``n_clusters``: K (16); ``seed``: k-means random state (0; rescoring uses the run's seed);
    ``n_init``: k-means restarts (10). A training clip that is a target reference is scored
    against every reference but itself (leave-one-out). Fitted: ``models_`` ("machine/section"
    -> :class:`KMeansCosine`), ``train_meta_``.
    """

    name = "kmeans"
    summary = "min cosine distance to k-means centroids of source clips and to every target clip"
    paper = "Wilkinghoff 2023/2024 scoring, used by seed 000 (Small Rice DCASE2024)"
    params = {"n_clusters": Int(min=1, help="k-means K per section"),
              "seed": Int(0, 2**32 - 1, help="k-means random state"),
              "n_init": Int(min=1, help="k-means restarts")}

    def __init__(self, n_clusters: int = 16, seed: int = 0, n_init: int = 10):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> "KMeansScorer":
        X, groups = sections(X, meta, self.name)
        is_target = (meta["domain"] == "target").to_numpy()
        self.models_, self.target_rows_ = {}, {}
        for key, rows in groups:
            src, tgt = rows[~is_target[rows]], rows[is_target[rows]]
            self.models_[key] = KMeansCosine(self.n_clusters, self.seed, self.n_init).fit(X[src], X[tgt])
            self.target_rows_[key] = tgt
        self.train_meta_ = meta.reset_index(drop=True)
        return self

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
        """``(M,)`` in [0, 2]; a :class:`DataError` for a machine/section without training clips."""
        X, groups = sections(X, meta, self.name, self.models_)
        same = training_match(meta, self.train_meta_)
        out = np.full(len(meta), np.nan)
        for key, rows in groups:
            km, tgt = self.models_[key], self.target_rows_[key]
            pos = {int(r): len(km.centroids_) + i for i, r in enumerate(tgt)}
            exclude = np.array([pos.get(int(same[r]), -1) for r in rows])
            out[rows] = km.score(X[rows], exclude)
        return out
