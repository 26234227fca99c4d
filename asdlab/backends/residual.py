"""Scorers on reconstruction residuals. Higher score = more anomalous.

scikit-learn style: ``__init__`` stores arguments, ``fit`` returns ``self``, fitted attributes
end in ``_``. :func:`clip_mean_residual` and :func:`residual_stats` are the per-clip and per-group
statistics a run folder keeps (``asdlab.artifacts.residuals``) so that :class:`MSEScorer` and the
residual :class:`~asdlab.backends.mahalanobis.MahalanobisScorer` re-score an AE run exactly.
"""

from __future__ import annotations

import numpy as np

from asdlab.backends.base import Scorer, check_rows


def mse_score(residuals: list[np.ndarray]) -> np.ndarray:
    """Official AE-MSE score: mean squared residual over all vectors and dims of each clip.

    ``residuals``: one ``(n_vectors_i, dim)`` array per clip. Returns ``(n_clips,)``.
    """
    return np.array([float(np.mean(np.square(r, dtype=np.float64))) for r in residuals])


def per_frame(residual: np.ndarray, frame_dim: int) -> np.ndarray:
    """Reshape stacked-frame residuals ``(n_vectors, k * frame_dim)`` to ``(n_vectors * k, frame_dim)``."""
    n, d = residual.shape
    if d % frame_dim:
        raise ValueError(f"residual dim {d} is not a multiple of frame_dim {frame_dim}")
    return residual.reshape(n * (d // frame_dim), frame_dim)


class SelectiveMahalanobis:
    """Official AE selective-Mahalanobis score with a ridge.

    ``fit`` estimates one covariance of the per-frame residuals (``frame_dim``-d, 128 = one
    mel frame) of the source training clips and one of the target training clips (centred,
    divided by N, as the official code). ``score`` takes, for each clip, the mean per-frame
    residual ``u`` and returns ``min(u S_src^-1 u, u S_tgt^-1 u)``: no domain label is needed.

    ``ridge``: ``ridge * trace(S) / dim`` is added to the diagonal of each covariance, because
    ~10 target clips make an ill-conditioned estimate; the official code has no ridge
    (``ridge=0`` reproduces it). Default 1e-3.
    """

    def __init__(self, frame_dim: int = 128, ridge: float = 1e-3):
        self.frame_dim = frame_dim
        self.ridge = ridge

    def _precision(self, residuals: list[np.ndarray]) -> np.ndarray:
        x = np.concatenate([per_frame(r, self.frame_dim) for r in residuals]).astype(np.float64)
        xc = x - x.mean(axis=0)
        cov = xc.T @ xc / len(x)
        cov += self.ridge * np.trace(cov) / len(cov) * np.eye(len(cov))
        return np.linalg.inv(cov)

    def fit(self, source: list[np.ndarray], target: list[np.ndarray]) -> "SelectiveMahalanobis":
        """``source`` / ``target``: residual arrays ``(n_vectors_i, k * frame_dim)`` per training clip.
        A domain with no clips is left out of the minimum."""
        if not source and not target:
            raise ValueError("SelectiveMahalanobis.fit needs training residuals of at least one domain")
        self.precisions_ = [self._precision(d) for d in (source, target) if d]
        return self

    def score(self, residuals: list[np.ndarray]) -> np.ndarray:
        """``(n_clips,)`` minimum over domains of the quadratic form of the clip-mean residual."""
        u = np.stack([per_frame(r, self.frame_dim).mean(axis=0) for r in residuals]).astype(np.float64)
        forms = [np.einsum("nd,de,ne->n", u, p, u) for p in self.precisions_]
        return np.min(forms, axis=0)


def clip_mean_residual(residual: np.ndarray, frame_dim: int) -> np.ndarray:
    """The mean per-frame residual ``(frame_dim,)`` of one clip's ``(n_vectors, k * frame_dim)``
    residuals, in their dtype (float32 for the AE), as :meth:`SelectiveMahalanobis.score` takes it."""
    return per_frame(residual, frame_dim).mean(axis=0)


def residual_stats(residuals: list[np.ndarray], frame_dim: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(count, sum (frame_dim,), scatter (frame_dim, frame_dim))`` of the per-frame residuals of
    ``residuals`` (one array per clip), float64: the number of frames, their sum, and the sum of
    outer products of the frames centred at their mean (``count`` times the covariance), computed
    exactly as :class:`SelectiveMahalanobis` does (the raw second moment is
    ``scatter + outer(sum, sum) / count``)."""
    x = np.concatenate([per_frame(r, frame_dim) for r in residuals]).astype(np.float64)
    xc = x - x.mean(axis=0)
    return len(x), x.sum(axis=0), xc.T @ xc


class ResidualMoments:
    """:func:`residual_stats` accumulated clip by clip, so that no group's frames are held at once:
    :meth:`add` each clip's residuals ``(n_vectors, k * frame_dim)``, then :meth:`stats` returns
    ``(count, sum, scatter)``. Sums are taken around the first clip's mean frame (the shifted-data
    algorithm), so the scatter keeps float64 precision; it equals :func:`residual_stats` to about
    1e-12 relative, not bit for bit (the order of the summation differs)."""

    def __init__(self, frame_dim: int):
        self.frame_dim = frame_dim
        self.count, self._shift = 0, None
        self._sum = np.zeros(frame_dim)
        self._moment = np.zeros((frame_dim, frame_dim))

    def add(self, residual: np.ndarray) -> None:
        x = per_frame(residual, self.frame_dim).astype(np.float64)
        if self._shift is None:
            self._shift = x.mean(axis=0)
        x -= self._shift
        self.count += len(x)
        self._sum += x.sum(axis=0)
        self._moment += x.T @ x

    def stats(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(count, sum (frame_dim,), scatter (frame_dim, frame_dim))`` float64, as :func:`residual_stats`."""
        if not self.count:
            raise ValueError("ResidualMoments.stats: no residuals were added")
        scatter = self._moment - np.outer(self._sum, self._sum) / self.count
        return self.count, self._sum + self.count * self._shift, scatter


def precision_from_scatter(count: int, scatter: np.ndarray, ridge: float) -> np.ndarray:
    """Inverse of the covariance ``scatter / count`` plus ``ridge * trace / dim`` on the diagonal
    (the computation of :class:`SelectiveMahalanobis`); a pseudo-inverse where it is singular."""
    cov = scatter / count
    cov += ridge * np.trace(cov) / len(cov) * np.eye(len(cov))
    try:
        return np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(cov)


class MSEScorer(Scorer):
    """The registered ``mse`` back end: the AE's mean squared reconstruction error of each clip.

    ``X`` is ``(N, 1)``: the clip's MSE over all its vectors and dims (saved by the AE run);
    ``fit`` learns nothing; ``score`` returns ``X[:, 0]`` as float64.
    """

    name = "mse"
    summary = "the autoencoder's mean squared reconstruction error (needs residual statistics)"
    paper = "DCASE 2024 Task 2 baseline, AE-MSE (Harada et al. / Nishida et al.)"
    needs = frozenset({"residuals"})
    params = {}

    def __init__(self):
        pass

    def input_kind(self) -> str:
        return "mse"

    def fit(self, X: np.ndarray, meta) -> "MSEScorer":
        check_rows(X, meta, self.name)
        self.fitted_ = True
        return self

    def score(self, X: np.ndarray, meta) -> np.ndarray:
        return np.asarray(check_rows(X, meta, self.name)[:, 0], dtype=np.float64)
