"""``knn``: mean cosine distance to the k nearest training embeddings of the clip's machine and
section (the kNN back end of ASDKit, Fujimura et al. 2025, and of the DCASE 2023 systems).

Higher = more anomalous, in [0, 2]. A training clip is scored without itself (leave-one-out);
with fewer than ``k`` references the mean runs over all of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from asdlab.core.schema import Int
from asdlab.backends.base import Scorer, sections, training_match
from asdlab.backends.kmeans import normalize_rows
from asdlab.core.errors import DataError


class KNNScorer(Scorer):
    """``k``: number of nearest training embeddings (1). Fitted: ``references_``
    ("machine/section" -> unit-norm training embeddings ``(n, D)`` and their row numbers)."""

    name = "knn"
    summary = "mean cosine distance to the k nearest training embeddings of the section"
    paper = "kNN back end of ASDKit (Fujimura et al. 2025) and the DCASE 2023-2024 systems"
    params = {"k": Int(min=1, help="nearest neighbours")}

    def __init__(self, k: int = 1):
        self.k = k

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> KNNScorer:
        X, groups = sections(X, meta, self.name)
        self.references_ = {}
        for key, rows in groups:
            self.references_[key] = (normalize_rows(X[rows]), rows)
        self.train_meta_ = meta.reset_index(drop=True)
        return self

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
        """``(M,)`` mean of ``1 - cos`` over the ``k`` nearest references."""
        X, groups = sections(X, meta, self.name, self.references_)
        same = training_match(meta, self.train_meta_)
        out = np.full(len(meta), np.nan)
        for key, rows in groups:
            refs, ref_rows = self.references_[key]
            cos = normalize_rows(X[rows]) @ refs.T
            col = {int(r): j for j, r in enumerate(ref_rows)}
            for i, r in enumerate(rows):
                if same[r] >= 0 and int(same[r]) in col:
                    cos[i, col[int(same[r])]] = np.nan
            dist = np.sort(np.where(np.isnan(cos), np.inf, 1.0 - cos), axis=1)
            n_ref = np.isfinite(dist).sum(axis=1)
            if (n_ref == 0).any():
                raise DataError(f"{key}: a training clip is its section's only training clip; "
                                "the knn back end has no other clip to compare it with")
            k = np.minimum(self.k, n_ref)
            out[rows] = [d[:kk].mean() for d, kk in zip(dist, k)]
        return out
