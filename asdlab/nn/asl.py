"""Asymmetric focal loss (ASL) for a softmax output, with soft targets (seed 000, METHODS.md
section 5).

The reference single-label ASL (Ridnik et al. 2021, the ``ASLSingleLabel`` code) computes, for
log-softmax ``log p`` and a one-hot target ``y`` over ``C`` classes::

    w_j = (1 - p_j) ** gamma_pos   where y_j = 1   (the target term, focal weighting)
    w_j = p_j ** gamma_neg         where y_j = 0   (the non-target terms)
    t   = (1 - eps) * y + eps / C                  (label smoothing, applied after the weights)
    loss = - sum_j t_j * w_j * log p_j             (mean over the batch)

Non-target terms only carry weight through the smoothing ``eps / C``, so ``gamma_neg`` damps the
smoothing on classes the model already rejects. The weights stay in the graph (no detach), as
in the reference.

Soft targets (mixup, manifold mixup, FeatEx) are not handled by the reference. Here every class
with a positive target is a target class::

    w_j = (1 - p_j) ** gamma_pos   where y_j > 0
    w_j = p_j ** gamma_neg         where y_j = 0

which is exactly the reference for one-hot ``y`` and, with the default ``gamma_pos = 0``, gives a
mixed sample's classes the full weight of their target share ``y_j``: a 0.5 / 0.5 mixup label
weighs as much as a clean one. (A linear blend of the two weights, ``y_j (1 - p_j)^gp +
(1 - y_j) p_j^gn``, weighed a mixed sample about half as much as a clean one: loss / soft CE 0.90
clean against 0.35-0.48 for lambda 0.5-0.9; issue 13.) With ``gamma_pos = gamma_neg = 0`` and
``eps = 0`` the loss is the soft cross-entropy ``- sum_j y_j log p_j``, for hard and soft targets.

The input is LOG-PROBABILITIES, not logits: pass ``log_softmax(logits)`` for a plain head or
:func:`asdlab.nn.subcluster.class_log_probs` for a sub-cluster head (the log of each class's
summed sub-cluster probability); :func:`asl_from_logits` does the former.
"""

from __future__ import annotations

import torch

GAMMA_POS, GAMMA_NEG, EPS = 0.0, 4.0, 0.1
"""Reference defaults (seed 000's ASL code)."""


def asymmetric_focal_loss(log_probs: torch.Tensor, targets: torch.Tensor,
                          gamma_pos: float = GAMMA_POS, gamma_neg: float = GAMMA_NEG,
                          eps: float = EPS, reduction: str = "mean") -> torch.Tensor:
    """ASL on class log-probabilities ``(B, C)`` against targets ``(B, C)`` (rows summing to 1:
    one-hot or soft) or integer labels ``(B,)``.

    ``gamma_pos`` focuses the target term, ``gamma_neg`` the non-target terms, ``eps`` smooths
    the targets toward uniform. ``reduction``: "mean" (scalar, the reference), "sum", or
    "none" (``(B,)``).
    """
    if targets.ndim == 1:
        targets = torch.nn.functional.one_hot(targets.long(), log_probs.shape[1]).to(log_probs.dtype)
    if log_probs.ndim != 2 or log_probs.shape != targets.shape:
        raise ValueError(f"log_probs {tuple(log_probs.shape)} and targets {tuple(targets.shape)} "
                         "must both be (batch, classes)")
    if gamma_pos < 0 or gamma_neg < 0 or not 0.0 <= eps < 1.0:
        raise ValueError(f"need gamma_pos, gamma_neg >= 0 and 0 <= eps < 1, got "
                         f"{gamma_pos}, {gamma_neg}, {eps}")
    targets = targets.to(log_probs.dtype)
    p = log_probs.exp()
    weight = torch.where(targets > 0, (1.0 - p).clamp_min(0.0).pow(gamma_pos), p.pow(gamma_neg))
    smoothed = targets * (1.0 - eps) + eps / log_probs.shape[1]
    per_item = -(smoothed * weight * log_probs).sum(dim=1)
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    if reduction == "none":
        return per_item
    raise ValueError(f"unknown reduction {reduction!r} (mean, sum, none)")


def asl_from_logits(logits: torch.Tensor, targets: torch.Tensor, **kwargs) -> torch.Tensor:
    """:func:`asymmetric_focal_loss` on ``log_softmax(logits)``; ``logits: (B, C)``."""
    return asymmetric_focal_loss(torch.log_softmax(logits, dim=1), targets, **kwargs)
