"""``mahalanobis``: selective Mahalanobis per machine and section (the DCASE 2022-2024 AE
baseline's "Selective Mahalanobis" mode), on clip embeddings or on the AE's residuals.

One covariance from the section's SOURCE training clips and one from its TARGET training clips,
each with ``ridge * trace / dim`` added to the diagonal; a clip's score is the smaller of its two
squared Mahalanobis distances, so no domain label is needed at test time. Higher = more anomalous.

- on residuals (an AE run): the covariances are those of the per-frame residuals (from the run's
  residual statistics) and the clip's vector is its mean per-frame residual, not centred (the
  official computation, :class:`~asdlab.backends.residual.SelectiveMahalanobis`); scores equal
  ``ae_mahala``'s exactly;
- on embeddings: the covariance of the domain's training embeddings, and the distance of the
  clip's embedding to that domain's mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from asdlab.core.schema import Choice, Float
from asdlab.backends.base import Scorer, check_rows, section_keys, sections
from asdlab.backends.residual import precision_from_scatter
from asdlab.core.errors import DataError

DOMAINS = ("source", "target")


def _domain(meta: pd.DataFrame) -> np.ndarray:
    """"target" or "source" per row (any domain but "target", unknown included, is source)."""
    return np.where((meta["domain"] == "target").to_numpy(), "target", "source")


class MahalanobisScorer(Scorer):
    """``ridge``: relative diagonal loading (1e-3; 0 = the official, unregularised computation);
    ``on``: ``"auto"`` (residuals when the run has residual statistics, else embeddings),
    ``"embeddings"`` or ``"residuals"``; ``residual_stats``: ``{(machine, section, domain):
    (count, sum, scatter)}`` of the training clips' per-frame residuals (from the run folder).
    Fitted: ``models_`` ("machine/section" -> list of ``(mean or None, precision)``)."""

    name = "mahalanobis"
    summary = "selective Mahalanobis: min over a source and a target covariance (embeddings or AE residuals)"
    paper = "DCASE 2022-2024 Task 2 AE baseline, Selective Mahalanobis mode"
    params = {"ridge": Float(min=0, help="diagonal loading relative to the mean variance"),
              "on": Choice("auto", "embeddings", "residuals", help="what to score")}
    artifacts = ("residual_stats",)

    def __init__(self, ridge: float = 1e-3, on: str = "auto", residual_stats: dict | None = None):
        self.ridge = ridge
        self.on = on
        self.residual_stats = residual_stats

    @classmethod
    def describe_needs(cls) -> str:
        return "embeddings or residuals"

    @classmethod
    def requires(cls, params: dict | None = None) -> frozenset:
        return frozenset({"residuals"}) if (params or {}).get("on") == "residuals" else frozenset({"embeddings"})

    def input_kind(self) -> str:
        if self.on == "residuals" or (self.on == "auto" and self.residual_stats is not None):
            return "residual_mean"
        return "embeddings"

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> MahalanobisScorer:
        X = check_rows(X, meta, self.name)
        keys, dom = section_keys(meta), _domain(meta)
        residual = self.input_kind() == "residual_mean"
        if residual and self.residual_stats is None:
            raise DataError("back end 'mahalanobis' on residuals needs the run's residual statistics "
                            "(residuals.npz)")
        self.models_ = {}
        for key in sorted(set(keys)):
            machine, section = key.split("/", 1)
            models = []
            for d in DOMAINS:
                if residual:
                    stats = self.residual_stats.get((machine, section, d))
                    if stats is None or stats[0] == 0:
                        continue
                    models.append((None, precision_from_scatter(stats[0], stats[2], self.ridge)))
                else:
                    x = X[(keys == key) & (dom == d)].astype(np.float64)
                    if len(x) < 2:  # one clip has no covariance: its zero precision would score every clip 0
                        continue
                    mean = x.mean(axis=0)
                    xc = x - mean
                    models.append((mean, precision_from_scatter(len(x), xc.T @ xc, self.ridge)))
            if not models:
                raise DataError(f"{key}: no training statistics for the mahalanobis back end")
            self.models_[key] = models
        return self

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
        """``(M,)``: the minimum over the section's domains of the squared Mahalanobis distance."""
        X, groups = sections(X, meta, self.name, self.models_)
        out = np.full(len(meta), np.nan)
        for key, rows in groups:
            u = X[rows].astype(np.float64)
            forms = []
            for mean, p in self.models_[key]:
                v = u if mean is None else u - mean
                forms.append(np.einsum("nd,de,ne->n", v, p, v))
            out[rows] = np.min(forms, axis=0)
        return out
