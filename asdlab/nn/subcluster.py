"""Sub-cluster class probabilities: each class owns ``k`` centers, and its probability is the sum
of its sub-clusters' softmax probabilities (sub-cluster AdaCos, seed 002; sub-cluster
Noisy-ArcMix, seed 000 eq. 3).

Center ``c * k + j`` is sub-cluster ``j`` of class ``c``: logits ``(B, C * k)`` are laid out
class-major.
"""

from __future__ import annotations

import torch


def class_log_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    """``log sum_j softmax(logits)[c * k + j]`` for every class ``c``: ``(B, C * k) -> (B, C)``.

    Computed as ``logsumexp`` over each class's sub-cluster logits minus ``logsumexp`` over all,
    so it is exact and stable for large scales.
    """
    if logits.ndim != 2 or k < 1 or logits.shape[1] % k:
        raise ValueError(f"logits of shape {tuple(logits.shape)} cannot hold k={k} sub-clusters per class")
    b, n = logits.shape
    per_class = logits.reshape(b, n // k, k).logsumexp(dim=2)
    return per_class - logits.logsumexp(dim=1, keepdim=True)


def soft_cross_entropy(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c targets[b, c] * log_probs[b, c]``; both ``(B, C)``,
    targets rows summing to 1 (one-hot or mixup / FeatEx soft labels)."""
    if log_probs.shape != targets.shape:
        raise ValueError(f"log_probs {tuple(log_probs.shape)} and targets {tuple(targets.shape)} differ in shape")
    return -(targets * log_probs).sum(dim=1).mean()
