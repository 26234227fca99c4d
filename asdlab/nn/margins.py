"""Cosine classification head, ArcFace margin, the CE / ArcFace / ArcMix / Noisy-ArcMix losses,
and the anomaly scores of the Noisy-ArcMix family.

Every loss has one signature, ``loss(head, emb, y_a, y_b, lam, s=30.0, m=0.7) -> scalar``:
``emb: (B, D)`` embeddings of the (possibly mixed) batch, ``y_a: (B,)`` the un-permuted labels,
``y_b: (B,)`` the partners' labels, ``lam`` the mixup weight of ``y_a`` (a clean batch is
``y_b = y_a, lam = 1``). ``s`` scales the logits, ``m`` is the additive angular margin in
radians (reference: s 30, m 0.7). Pick one by name from :data:`LOSSES`.

The paper's "without margin (cross-entropy)" has two readings: ``ce_loss`` on a
:class:`CosineHead` (a cosine softmax with scale ``s``) and :func:`linear_ce_loss` on a
:class:`LinearHead` (the plain softmax classifier ``W e + b``, whose rows ``W_c`` are the class
centers).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CosineHead(nn.Module):
    """Class weights ``W: (n_classes, embedding_dim)`` (Xavier uniform init) whose rows,
    normalised, are the class centers. ``forward`` = :meth:`cosine`."""

    def __init__(self, embedding_dim: int, n_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """``emb: (B, D) -> (B, n_classes)`` cosines between normalised ``emb`` and centers."""
        return F.linear(F.normalize(emb, dim=-1), self.centers())

    def centers(self) -> torch.Tensor:
        """Unit-norm class centers ``(n_classes, D)``."""
        return F.normalize(self.weight, dim=-1)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.cosine(emb)


class LinearHead(nn.Linear):
    """Plain softmax classifier: logits ``emb W^T + b`` (an ordinary ``nn.Linear`` with bias,
    PyTorch's default init), ``W: (n_classes, embedding_dim)``, ``b: (n_classes,)``. The rows of
    ``W``, normalised, are the class centers (the directions the angles are measured to);
    ``forward(emb: (B, D)) -> (B, n_classes)`` logits."""

    def __init__(self, embedding_dim: int, n_classes: int):
        super().__init__(embedding_dim, n_classes, bias=True)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """``emb: (B, D) -> (B, n_classes)`` cosines between ``emb`` and the class centers."""
        return F.linear(F.normalize(emb, dim=-1), self.centers())

    def centers(self) -> torch.Tensor:
        """Unit-norm class centers ``(n_classes, D)``: the rows of ``W`` normalised."""
        return F.normalize(self.weight, dim=-1)


def angular_margin(cos: torch.Tensor, m: float = 0.7, easy_margin: bool = False) -> torch.Tensor:
    """``cos(theta + m)`` for ``cos = cos(theta)``, element-wise, with the reference fallbacks.

    Default: where ``cos <= cos(pi - m)`` (``theta >= pi - m``, where ``theta + m`` would wrap
    past pi) the value is ``cos - m * sin(pi - m)`` instead. ``easy_margin``: where ``cos <= 0``
    the value is ``cos`` unchanged.
    """
    sin = (1.0 - cos * cos).clamp_min(1e-12).sqrt()  # clamp: finite gradient at |cos| = 1
    shifted = cos * math.cos(m) - sin * math.sin(m)
    if easy_margin:
        return torch.where(cos > 0, shifted, cos)
    return torch.where(cos > math.cos(math.pi - m), shifted, cos - m * math.sin(math.pi - m))


def arcface_logits(cos: torch.Tensor, labels: torch.Tensor, s: float = 30.0, m: float = 0.7,
                   easy_margin: bool = False) -> torch.Tensor:
    """ArcFace logits ``(B, C)``: ``s * cos`` except at column ``labels[i]`` of row ``i``, which
    is ``s * angular_margin(cos[i, labels[i]])``. ``cos: (B, C)``, ``labels: (B,)`` int64."""
    index = labels.view(-1, 1)
    target = angular_margin(cos.gather(1, index), m, easy_margin)
    return s * cos.scatter(1, index, target)


def ce_loss(head: CosineHead, emb: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor,
            lam: float, s: float = 30.0, m: float = 0.7) -> torch.Tensor:
    """Softmax cross-entropy on ``s * cosine`` (no margin; ``m`` unused), mixup-aware:
    ``lam CE(z, y_a) + (1 - lam) CE(z, y_b)``."""
    z = s * head.cosine(emb)
    return lam * F.cross_entropy(z, y_a) + (1 - lam) * F.cross_entropy(z, y_b)


def linear_ce_loss(head: LinearHead, emb: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor,
                   lam: float, s: float = 30.0, m: float = 0.7) -> torch.Tensor:
    """Softmax cross-entropy on the linear logits ``head(emb) = emb W^T + b`` (``s``, ``m``
    unused), mixup-aware like :func:`ce_loss`. The loss of a :class:`LinearHead`."""
    z = head(emb)
    return lam * F.cross_entropy(z, y_a) + (1 - lam) * F.cross_entropy(z, y_b)


def arcface_loss(head: CosineHead, emb: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor,
                 lam: float, s: float = 30.0, m: float = 0.7) -> torch.Tensor:
    """ArcFace: ``CE(arcface_logits(cos, y_a), y_a)`` on a clean batch.

    The reference trains ArcFace without mixup; its mixup versions are ArcMix and Noisy-ArcMix,
    so ``lam != 1`` raises ``ValueError`` rather than silently picking one of them.
    """
    if float(lam) != 1.0:
        raise ValueError("ArcFace is trained on clean batches (lam = 1); "
                         "use 'arcmix' or 'noisy_arcmix' with mixup")
    return F.cross_entropy(arcface_logits(head.cosine(emb), y_a, s, m), y_a)


def arcmix_loss(head: CosineHead, emb: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor,
                lam: float, s: float = 30.0, m: float = 0.7) -> torch.Tensor:
    """ArcMix: two ArcFace passes, ``lam CE(z_a, y_a) + (1 - lam) CE(z_b, y_b)`` where ``z_a``
    has the margin on ``y_a`` and ``z_b`` on ``y_b``."""
    cos = head.cosine(emb)
    return (lam * F.cross_entropy(arcface_logits(cos, y_a, s, m), y_a)
            + (1 - lam) * F.cross_entropy(arcface_logits(cos, y_b, s, m), y_b))


def noisy_arcmix_loss(head: CosineHead, emb: torch.Tensor, y_a: torch.Tensor,
                      y_b: torch.Tensor, lam: float, s: float = 30.0,
                      m: float = 0.7) -> torch.Tensor:
    """Noisy-ArcMix: ONE ArcFace pass with the margin on ``y_a`` whatever ``lam`` is,
    ``lam CE(z, y_a) + (1 - lam) CE(z, y_b)``."""
    z = arcface_logits(head.cosine(emb), y_a, s, m)
    return lam * F.cross_entropy(z, y_a) + (1 - lam) * F.cross_entropy(z, y_b)


LOSSES = {"ce": ce_loss, "arcface": arcface_loss, "arcmix": arcmix_loss,
          "noisy_arcmix": noisy_arcmix_loss}
"""Loss name -> function with the shared signature of this module, on a :class:`CosineHead`
(a :class:`LinearHead` trains with :func:`linear_ce_loss`)."""

MIXUP_LOSSES = frozenset({"arcmix", "noisy_arcmix"})
"""Losses defined on mixed batches. In the paper CE and ArcFace train on clean batches
(``ce_loss`` also accepts mixed ones; ``arcface_loss`` does not)."""


def neg_log_softmax_score(head: CosineHead, emb: torch.Tensor, labels: torch.Tensor,
                          s: float = 30.0, m: float = 0.7, margin: bool = True) -> torch.Tensor:
    """Anomaly score ``(B,)``, higher = more anomalous: minus the log-softmax at each clip's own
    class, on ArcFace logits (``margin=True``, the reference's score) or on ``s * cosine``."""
    cos = head.cosine(emb)
    logits = arcface_logits(cos, labels, s, m) if margin else s * cos
    return F.cross_entropy(logits, labels, reduction="none")


def linear_neg_log_softmax_score(head: LinearHead, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Anomaly score ``(B,)``, higher = more anomalous: minus the log-softmax of the linear
    logits ``emb W^T + b`` at each clip's own class (the score of a :class:`LinearHead`)."""
    return F.cross_entropy(head(emb), labels, reduction="none")


def cosine_distance_to_center(head: CosineHead | LinearHead, emb: torch.Tensor,
                              labels: torch.Tensor) -> torch.Tensor:
    """Anomaly score ``(B,)`` in [0, 2], higher = more anomalous: ``1 - cos`` between each
    normalised embedding and its class center."""
    return 1.0 - head.cosine(emb).gather(1, labels.view(-1, 1)).squeeze(1)
