"""Sub-cluster Noisy-ArcMix head, simplified FeatEx and manifold mixup (seed 000).

Head: each of ``C`` classes owns ``n_sub`` unit-norm centers, laid out class-major (center
``c * n_sub + j`` is sub-cluster ``j`` of class ``c``, as in :mod:`asdlab.nn.subcluster`).
Logits are ``s * cos`` between the normalised embedding and every center; the angular margin
``m`` goes on the sub-clusters of one class only, and the class probability is the sum of its
sub-clusters' softmax probabilities (seed 000 eq. 3), computed by
:func:`asdlab.nn.subcluster.class_log_probs`.

Margin modes (``margin``):

* ``"noisy"`` (default, Noisy-ArcMix): the full margin on every sub-cluster of ``labels[b]``,
  the un-permuted sample's class, whatever the (mixup / FeatEx) soft target is;
* ``"soft"``: seed 000 eq. 3 read literally, ``cos(theta_k + m * y_k)``: sub-cluster ``k`` of
  class ``c`` gets the margin ``m * targets[b, c]``, proportional to the soft label;
* ``"none"``: no margin (cosine softmax).

Targets are soft label matrices ``(B, C)`` throughout (:func:`one_hot` makes them), so that
mixup, manifold mixup and FeatEx compose: each returns new embeddings and new targets, and the
margin labels (the un-permuted classes) are carried along unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asdlab.nn.mixup import step_rng
from asdlab.nn.margins import angular_margin
from asdlab.nn.subcluster import class_log_probs

MARGIN_MODES = ("noisy", "soft", "none")


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Float targets ``(B, n_classes)`` from integer ``labels: (B,)``."""
    return F.one_hot(labels.long(), n_classes).float()


def margin_tensor(cos: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``cos(theta + m)`` element-wise for a margin TENSOR ``m`` broadcastable to ``cos``, with
    the same fallback as :func:`asdlab.nn.margins.angular_margin` (``cos - m sin(pi - m)``
    where ``theta >= pi - m``). ``m = 0`` returns ``cos``."""
    sin = (1.0 - cos * cos).clamp_min(1e-12).sqrt()
    shifted = cos * torch.cos(m) - sin * torch.sin(m)
    return torch.where(cos > torch.cos(math.pi - m), shifted, cos - m * torch.sin(math.pi - m))


def subcluster_margin_logits(cos: torch.Tensor, n_sub: int, labels: torch.Tensor | None = None,
                             targets: torch.Tensor | None = None, s: float = 30.0,
                             m: float = 0.7, margin: str = "noisy") -> torch.Tensor:
    """Scaled logits ``(B, C * n_sub)`` from sub-cluster cosines ``cos: (B, C * n_sub)``.

    ``margin="noisy"`` needs ``labels: (B,)`` and puts ``m`` on the ``n_sub`` columns of class
    ``labels[b]``; ``"soft"`` needs ``targets: (B, C)`` and puts ``m * targets[b, c]`` on every
    column of class ``c``; ``"none"`` is ``s * cos``.
    """
    if margin not in MARGIN_MODES:
        raise ValueError(f"unknown margin mode {margin!r} ({', '.join(MARGIN_MODES)})")
    n = cos.shape[1]
    if n_sub < 1 or n % n_sub:
        raise ValueError(f"{n} centers cannot hold n_sub={n_sub} sub-clusters per class")
    if margin == "none" or m == 0:
        return s * cos
    c = n // n_sub
    if margin == "noisy":
        if labels is None:
            raise ValueError("margin='noisy' needs labels (the un-permuted classes)")
        mask = one_hot(labels, c).to(cos.dtype).repeat_interleave(n_sub, dim=1).bool()
        return s * torch.where(mask, angular_margin(cos, m), cos)
    if targets is None:
        raise ValueError("margin='soft' needs targets (B, C)")
    per_col = (m * targets.to(cos.dtype)).repeat_interleave(n_sub, dim=1)
    return s * margin_tensor(cos, per_col)


class SubClusterMarginHead(nn.Module):
    """``n_classes * n_sub`` trainable centers ``weight: (C * n_sub, embedding_dim)`` (Xavier
    uniform init), class-major. ``s`` scale, ``m`` margin in radians, ``margin`` mode."""

    def __init__(self, embedding_dim: int, n_classes: int, n_sub: int = 1, s: float = 30.0,
                 m: float = 0.7, margin: str = "noisy"):
        super().__init__()
        if n_sub < 1 or n_classes < 1:
            raise ValueError(f"need n_classes >= 1 and n_sub >= 1, got {n_classes}, {n_sub}")
        if margin not in MARGIN_MODES:
            raise ValueError(f"unknown margin mode {margin!r} ({', '.join(MARGIN_MODES)})")
        self.n_classes, self.n_sub, self.s, self.m, self.margin = n_classes, n_sub, s, m, margin
        self.weight = nn.Parameter(torch.empty(n_classes * n_sub, embedding_dim))
        nn.init.xavier_uniform_(self.weight)

    def centers(self) -> torch.Tensor:
        """Unit-norm sub-cluster centers ``(C * n_sub, D)``."""
        return F.normalize(self.weight, dim=-1)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """``emb: (B, D) -> (B, C * n_sub)`` cosines to every sub-cluster center."""
        return F.linear(F.normalize(emb, dim=-1), self.centers())

    def logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
               targets: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled margin logits ``(B, C * n_sub)``; no margin when ``labels`` and ``targets``
        are both None (scoring)."""
        mode = self.margin if (labels is not None or targets is not None) else "none"
        return subcluster_margin_logits(self.cosine(emb), self.n_sub, labels, targets,
                                        self.s, self.m, mode)

    def class_log_probs(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                        targets: torch.Tensor | None = None) -> torch.Tensor:
        """``log P(class)`` ``(B, C)``: log of the summed softmax of each class's sub-clusters."""
        return class_log_probs(self.logits(emb, labels, targets), self.n_sub)

    def assign(self, emb: torch.Tensor) -> torch.Tensor:
        """Index ``(B,)`` of the nearest sub-cluster center of each embedding (global, class-major:
        class ``i // n_sub``, sub-cluster ``i % n_sub``)."""
        return self.cosine(emb).argmax(dim=1)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.cosine(emb)


def featex(emb: torch.Tensor, targets: torch.Tensor, p: float = 0.5,
           generator: np.random.Generator | None = None,
           perm: torch.Tensor | None = None, exchange: torch.Tensor | None = None,
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed 000's simplified FeatEx: ``emb: (B, D)``, ``targets: (B, C)`` ->
    ``((B, 2D), (B, C))``.

    Item ``b`` is exchanged with probability ``p``: its new embedding is ``(e_b, e_perm[b])``
    with target ``0.5 y_b + 0.5 y_perm[b]``; otherwise ``(e_b, e_b)`` with target ``y_b``.
    The partner ``perm`` is a random permutation of the batch and ``exchange`` a boolean mask
    ``(B,)``; both are drawn from ``generator`` (default: seeded from torch's RNG) unless given.
    No label expansion (the original FeatEx's 3C classes).
    """
    b = emb.shape[0]
    rng = step_rng(generator) if perm is None or exchange is None else None
    if perm is None:
        perm = torch.from_numpy(rng.permutation(b))
    if exchange is None:
        exchange = torch.from_numpy(rng.random(b) < p)
    perm, exchange = perm.to(emb.device), exchange.to(emb.device)
    second = torch.where(exchange.view(-1, 1), emb[perm], emb)
    t = targets.to(emb.dtype)
    new_t = torch.where(exchange.view(-1, 1), 0.5 * t + 0.5 * t[perm], t)
    return torch.cat([emb, second], dim=1), new_t


def manifold_mixup(emb: torch.Tensor, targets: torch.Tensor, lam: float,
                   perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup on embeddings (seed 000 eq. 1): ``lam e + (1 - lam) e[perm]`` and the same for the
    targets. ``emb: (B, D)``, ``targets: (B, C)``, ``perm: (B,)``."""
    perm = perm.to(emb.device)
    return lam * emb + (1 - lam) * emb[perm], lam * targets + (1 - lam) * targets[perm]
