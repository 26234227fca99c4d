"""Sub-cluster AdaCos (seed 002 eq. 1; Wilkinghoff's public reference code) and its mixup.

A head owns ``C * K`` centers (``K`` sub-clusters per class, class-major: center ``c * K + j``
is sub-cluster ``j`` of class ``c``), Glorot-uniform initialised, trainable or frozen. Logits are
``s * cos(theta)`` between the L2-normalised embedding and the L2-normalised centers; the class
probability is the sum of the class's sub-cluster softmax probabilities
(:func:`asdlab.nn.subcluster.class_log_probs`), trained by cross-entropy against (mixup) soft
labels.

The scale ``s`` is not learned: it starts at ``sqrt(2) * log(C * K - 1)`` and, at every
training forward pass, is set from the batch before the logits are formed (the reference
assigns the variable first and then multiplies):

    s <- (max(s cos) + log(mean_b sum_k exp(s cos_bk - max(s cos)))) / cos(min(pi / 4, theta_med))

where both terms of the numerator use the previous ``s`` and ``theta_med`` is the median over
the batch of each sample's angle to its true class. No gradient flows through ``s`` (it is a
buffer, computed under ``no_grad``). The angle to the true class with ``K`` sub-clusters and
soft labels, ``angle``:

- ``"reference"`` (default): exactly what the reference code computes:
  ``sum_l y_rep[b, l] * theta[b, l] * count_nonzero(y[b])``, i.e. the label-weighted SUM of
  the angles to all ``K`` sub-clusters of the class, multiplied by the number of classes with
  non-zero label weight (2 for a mixed pair, 1 otherwise). For ``K = 1`` and one-hot labels it
  is AdaCos' angle to the class; for ``K >= 2`` it usually exceeds pi / 4, so the cap decides.
- ``"mean"``: the label-weighted MEAN angle over the class's sub-clusters, no count factor.

The median is ``torch.quantile(..., 0.5)`` (mean of the two middle values for even batches;
the reference's ``tfp.stats.percentile`` takes the nearest one). ``theta`` uses ``acos`` of
the cosine clipped to ``[-1 + 1e-7, 1 - 1e-7]`` as the reference; the reference's ``+ 1e-7``
added to the new ``s`` is left out.

Mixup (:func:`mixup_reversed`): one ``lambda ~ U(0, 1)`` PER SAMPLE, the partner of sample
``i`` is sample ``B - 1 - i`` (the batch reversed), inputs and labels mixed with the same
weights; the reference applies it to every training batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from asdlab.nn.subcluster import class_log_probs, soft_cross_entropy

ANGLE_RULES = ("reference", "mean")
CLIP_EPS = 1e-7  # the reference's K.epsilon() inside acos


def initial_scale(n_centers: int) -> float:
    """``sqrt(2) * log(n_centers - 1)``, the AdaCos starting scale for ``C * K`` centers (>= 2)."""
    if n_centers < 2:
        raise ValueError(f"sub-cluster AdaCos needs at least 2 centers (C * K), got {n_centers}")
    return math.sqrt(2.0) * math.log(n_centers - 1)


def class_angles(cos: torch.Tensor, targets: torch.Tensor, k: int, angle: str = "reference") -> torch.Tensor:
    """Angle (radians) of each sample to its true class: ``cos: (B, C * K)``, ``targets: (B, C)``
    soft labels -> ``(B,)``; see the module docstring for the two ``angle`` rules."""
    if angle not in ANGLE_RULES:
        raise ValueError(f"unknown angle rule {angle!r}; choose from {', '.join(ANGLE_RULES)}")
    if cos.shape[0] != targets.shape[0] or cos.shape[1] != targets.shape[1] * k:
        raise ValueError(f"cosines {tuple(cos.shape)} do not match targets {tuple(targets.shape)} with k={k}")
    theta = torch.acos(cos.clamp(-1.0 + CLIP_EPS, 1.0 - CLIP_EPS))
    weighted = (targets.repeat_interleave(k, dim=1) * theta).sum(dim=1)
    if angle == "reference":
        return weighted * (targets != 0).sum(dim=1).to(theta.dtype)
    return weighted / k


@torch.no_grad()
def adaptive_scale(cos: torch.Tensor, targets: torch.Tensor, s: float | torch.Tensor, k: int,
                   angle: str = "reference") -> torch.Tensor:
    """The new AdaCos scale (0-d tensor) from a batch's cosines ``(B, C * K)``, soft labels
    ``(B, C)`` and the current scale ``s``; see the module docstring."""
    logits = s * cos
    top = logits.max()
    b_avg = torch.exp(logits - top).sum(dim=1).mean()
    theta_med = torch.quantile(class_angles(cos, targets, k, angle), 0.5)
    return (top + torch.log(b_avg)) / torch.cos(torch.clamp(theta_med, max=math.pi / 4))


class SubClusterAdaCos(nn.Module):
    """Sub-cluster AdaCos head: ``n_classes * k`` centers of dimension ``embedding_dim``.

    ``trainable``: whether the centers learn (True in the 2021 system, frozen in later ones);
    ``angle``: the rule for the angle to the true class in the scale update. Attributes:
    ``weight`` ``(C * K, D)`` (a Parameter; ``requires_grad`` = ``trainable``), ``s`` (a
    0-d buffer, saved in the state dict).
    """

    def __init__(self, embedding_dim: int, n_classes: int, k: int = 1, trainable: bool = True,
                 angle: str = "reference"):
        super().__init__()
        if k < 1:
            raise ValueError(f"k (sub-clusters per class) must be >= 1, got {k}")
        if angle not in ANGLE_RULES:
            raise ValueError(f"unknown angle rule {angle!r}; choose from {', '.join(ANGLE_RULES)}")
        self.n_classes, self.k, self.angle = n_classes, k, angle
        self.weight = nn.Parameter(torch.empty(n_classes * k, embedding_dim), requires_grad=trainable)
        nn.init.xavier_uniform_(self.weight)
        self.register_buffer("s", torch.tensor(initial_scale(n_classes * k)))

    def centers(self) -> torch.Tensor:
        """Unit-norm centers ``(C * K, D)``, class-major."""
        return F.normalize(self.weight, dim=-1)

    def class_centers(self) -> torch.Tensor:
        """Unit-norm centers as ``(C, K, D)``."""
        return self.centers().reshape(self.n_classes, self.k, -1)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, C * K)`` cosines to every center."""
        return F.linear(F.normalize(emb, dim=-1), self.centers())

    def forward(self, emb: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Class log-probabilities ``(B, C)``. In training mode with ``targets`` ``(B, C)`` the
        scale is updated from this batch first (:func:`adaptive_scale`), then used."""
        cos = self.cosine(emb)
        if self.training and targets is not None:
            self.s.copy_(adaptive_scale(cos.detach(), targets, self.s, self.k, self.angle))
        return class_log_probs(self.s * cos, self.k)

    def loss(self, emb: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the summed class probabilities against soft ``targets`` ``(B, C)``."""
        return soft_cross_entropy(self(emb, targets), targets)


def mixup_reversed(x: torch.Tensor, targets: list[torch.Tensor],
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Mix every sample with its partner in the reversed batch, ``lam ~ U(0, 1)`` per sample.

    ``x: (B, ...)``; ``targets``: label tensors ``(B, C_i)`` (one per head), mixed with the same
    weights. Returns ``(lam * x + (1 - lam) * x.flip(0), [mixed targets], lam)`` with ``lam:
    (B,)``. ``generator`` None draws from torch's global RNG (seeded per epoch by
    :func:`asdlab.train.fit`).
    """
    lam = torch.rand(x.shape[0], generator=generator, dtype=torch.float32).to(x.device)

    def mix(t: torch.Tensor) -> torch.Tensor:
        w = lam.to(t.dtype).reshape(-1, *([1] * (t.ndim - 1)))
        return w * t + (1 - w) * t.flip(0)

    return mix(x), [mix(t) for t in targets], lam
