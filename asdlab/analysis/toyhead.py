"""A toy margin head trained on frozen embeddings, small enough to see: the engine of
:mod:`asdlab.viz.explorer`.

:func:`fit_head` maps frozen embeddings ``(N, D)`` (e.g. the 128-d TASTgram-MFN embeddings of a
run folder) through a small projection to ``dim`` = 2 or 3 dimensions, normalises them onto the
unit circle or sphere, and trains that projection together with a
:class:`asdlab.nn.margins.CosineHead` with one of the losses of
:data:`asdlab.nn.margins.LOSSES`. Mixup (for ``arcmix`` / ``noisy_arcmix``, as the methods do)
mixes the INPUT embeddings with :func:`asdlab.nn.mixup.mix`, one ``lam ~ Beta(alpha, alpha)``
per batch. The class centers and the projected points then live in the same 2-/3-d space, so
the angles between them can be drawn as they are measured.

Train on many classes: with only a few (fewer than about 8) in 2 or 3 dimensions the softmax is
satisfied by clips lying far from their own center, since only the gap to the other centers
counts, and the angles then say little (measured: 3 planted classes in 3-d end at 40-90 deg
with zero loss, 10 classes at 4-12 deg).

Everything is seeded by ``seed`` alone (initialisation, batches, mixup) without touching the
global random state: the same arguments give the same result.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asdlab.analysis import angles_deg
from asdlab.core.errors import ConfigError
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES, CosineHead
from asdlab.nn.mixup import mix, sample_lambda


@dataclasses.dataclass
class HeadFit:
    """What :func:`fit_head` learned.

    ``points``: ``(N, dim)`` unit-norm projections of the training embeddings; ``centers``:
    ``(C, dim)`` unit-norm class centers; ``angles``: ``(N,)`` degrees between each training
    point and its own class center; ``history``: ``(steps,)`` training loss per step;
    ``params``: the settings used; ``projection``: the trained ``nn.Module`` (standardised
    embeddings -> ``dim``); ``mean``/``scale``: the input standardisation ``(D,)``.
    """

    points: np.ndarray
    centers: np.ndarray
    angles: np.ndarray
    history: np.ndarray
    params: dict
    projection: nn.Module
    mean: np.ndarray
    scale: np.ndarray

    @torch.no_grad()
    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Unit-norm points ``(M, dim)`` of any embeddings ``(M, D)`` (e.g. test clips)."""
        x = _standardise(np.asarray(embeddings, np.float32), self.mean, self.scale)
        return F.normalize(self.projection(torch.from_numpy(x)), dim=-1).numpy().astype(np.float64)

    def angles_to_centers(self, embeddings: np.ndarray, class_index: np.ndarray) -> np.ndarray:
        """Degrees ``(M,)`` between the projected ``embeddings`` and their class centers."""
        return angles_deg(self.transform(embeddings), self.centers, np.asarray(class_index))


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    # unit length first (the space the real head measures angles in), then per feature
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return ((x - mean) / scale).astype(np.float32)


def _projection(d_in: int, dim: int, hidden: int) -> nn.Module:
    if hidden <= 0:
        return nn.Linear(d_in, dim)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, dim))


def check_head_params(loss: str, m: float, s: float, alpha: float, dim: int, steps: int) -> None:
    """Raise :class:`ConfigError` naming the first bad :func:`fit_head` argument."""
    if loss not in LOSSES:
        raise ConfigError(f"loss={loss!r}: choose from {', '.join(LOSSES)}")
    if not 0.0 <= m < math.pi / 2:
        raise ConfigError(f"m={m}: the angular margin must be in [0, pi/2) radians")
    if s <= 0:
        raise ConfigError(f"s={s}: the logit scale must be positive")
    if alpha < 0:
        raise ConfigError(f"alpha={alpha}: the mixup parameter must be >= 0 (0 = no mixup)")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
        raise ConfigError(f"dim={dim!r}: must be an integer >= 2 (2 = circle, 3 = sphere)")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps={steps!r}: must be a positive integer")


def _train(xs, yt, n_classes, loss_fn, mixup, m, s, alpha, dim, steps, hidden, lr, batch_size, rng):
    proj = _projection(xs.shape[1], dim, hidden)
    head = CosineHead(dim, n_classes)
    opt = torch.optim.Adam([*proj.parameters(), *head.parameters()], lr=lr)
    history = np.empty(steps)
    for step in range(steps):
        idx = (torch.from_numpy(rng.choice(len(xs), batch_size, replace=False))
               if len(xs) > batch_size else torch.arange(len(xs)))
        xb, y_a, y_b, lam = xs[idx], yt[idx], yt[idx], 1.0
        if mixup:  # one lam and one partner permutation per batch, as asdlab.nn.mixup
            lam = sample_lambda(alpha, rng)
            perm = torch.from_numpy(rng.permutation(len(idx)))
            xb, y_b = mix(xb, lam, perm), y_a[perm]
        value = loss_fn(head, proj(xb), y_a, y_b, lam, s=s, m=m)
        opt.zero_grad()
        value.backward()
        opt.step()
        history[step] = float(value.detach())
    proj.eval()
    return proj, head, history


def fit_head(embeddings: np.ndarray, class_index: np.ndarray, loss: str = "noisy_arcmix",
             m: float = 0.7, s: float = 30.0, alpha: float = 0.5, dim: int = 3, steps: int = 300,
             seed: int = 0, hidden: int = 64, lr: float = 0.01, batch_size: int = 128) -> HeadFit:
    """Train a projection ``D -> dim`` plus a cosine head on frozen ``embeddings``.

    ``embeddings``: ``(N, D)`` training embeddings; ``class_index``: ``(N,)`` ints in
    ``[0, C)`` (C = max + 1; every class should occur). ``loss``: a key of
    :data:`asdlab.nn.margins.LOSSES`; ``m``: additive angular margin (radians, default 0.7 as the
    reference); ``s``: logit scale (30); ``alpha``: mixup ``Beta(alpha, alpha)`` parameter, used
    by ``arcmix`` / ``noisy_arcmix`` only (CE and ArcFace train on clean batches, as in the
    paper); ``dim``: 2 (circle) or 3 (sphere) for pictures, any >= 2 works; ``steps``: Adam
    steps (``lr`` 0.01) on random batches of ``batch_size`` clips (all of them when fewer);
    ``hidden``: width of the projection's hidden ReLU layer (0 = linear projection).
    Deterministic for a given ``seed``. On 2 CPU cores ~900 clips x 300 steps take ~0.5 s.
    """
    check_head_params(loss, m, s, alpha, dim, steps)
    x = np.asarray(embeddings, np.float32)
    y = np.asarray(class_index)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ConfigError(f"embeddings {x.shape} and class_index {y.shape}: need (N, D) and (N,)")
    if len(x) < 2 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ConfigError("class_index: need at least 2 clips and non-negative integer classes")
    n_classes = int(y.max()) + 1
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    mean, scale = unit.mean(0), unit.std(0) + 1e-6
    xs = torch.from_numpy(_standardise(x, mean, scale))
    yt = torch.from_numpy(y.astype(np.int64))
    threads = torch.get_num_threads()
    try:
        # tiny matrices: one thread is fastest and does not stall when the cores are busy
        torch.set_num_threads(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            proj, head, history = _train(xs, yt, n_classes, LOSSES[loss], loss in MIXUP_LOSSES and alpha > 0,
                                         m, s, alpha, int(dim), steps, hidden, lr, batch_size,
                                         np.random.default_rng(seed))
        with torch.no_grad():
            centers = head.centers().numpy().astype(np.float64)
            points = F.normalize(proj(xs), dim=-1).numpy().astype(np.float64)
    finally:
        torch.set_num_threads(threads)
    params = dict(loss=loss, m=float(m), s=float(s), alpha=float(alpha), dim=int(dim), steps=int(steps),
                  seed=int(seed), hidden=int(hidden), lr=float(lr), batch_size=int(batch_size))
    return HeadFit(points=points, centers=centers, angles=angles_deg(points, centers, y),
                   history=history, params=params, projection=proj, mean=mean, scale=scale)
