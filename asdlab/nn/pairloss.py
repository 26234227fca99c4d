"""The pair loss of seed 001 (CUP DCASE2024) eq. (2), used to fine-tune the guided-clustering network.

For embeddings ``x_n`` of a batch of ``N`` clips with sub-category labels ``c_n`` and, for each
``n``, a partner index ``n'``:

    L_b = 1/N * sum_n [ 1{c_n = c_n'} d(x_n, x_n')^2 + 1{c_n != c_n'} / max(d(x_n, x_n'), eps)^2 ]

with ``d`` the Euclidean distance. Pairs of one sub-category are pulled together, pairs of two
sub-categories pushed apart.

Where this departs from or fills in the paper:

- The paper samples ``n'`` "from 1 to N". :func:`sample_partners` draws it uniformly from the
  other ``N - 1`` clips of the batch (a clip paired with itself has distance 0 and carries no
  information); the average is over the ``N`` anchors, as in eq. (2).
  ``mode="all"`` (not in the paper) averages over every ordered pair ``n != n'`` instead.
- The floor ``eps`` on the distance of a different-sub-category pair is not in the paper: without
  it ``1 / d^2`` (and its gradient) is unbounded for two clips that happen to coincide. With the
  floor the term is at most ``1 / eps^2`` and has no gradient below ``eps``. The same-sub-category
  term ``d^2`` needs no floor (it is smooth at 0; no square root is taken anywhere).
"""

from __future__ import annotations

import torch
from torch import nn

PAIR_MODES = ("sampled", "all")


def sample_partners(n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Partner index ``n'`` for each of ``n`` anchors ``(n,)`` long: uniform over the other
    ``n - 1`` indices (``n = 1``: the anchor itself)."""
    if n < 2:
        return torch.zeros(n, dtype=torch.long, device=device)
    r = torch.randint(0, n - 1, (n,), generator=generator).to(device)
    anchors = torch.arange(n, device=device)
    return r + (r >= anchors).long()


def pair_terms(d2: torch.Tensor, same: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-pair terms of eq. (2): ``d2`` (squared distances, any shape) where ``same`` is True,
    ``1 / max(d2, eps^2)`` elsewhere."""
    return torch.where(same, d2, 1.0 / d2.clamp_min(eps * eps))


def pair_loss(embeddings: torch.Tensor, labels: torch.Tensor, partners: torch.Tensor | None = None,
              eps: float = 0.1, mode: str = "sampled", generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (2) of seed 001 (scalar).

    ``embeddings``: ``(N, D)``; ``labels``: ``(N,)`` sub-category ids; ``mode="sampled"`` (the
    paper): one partner per anchor, ``partners`` ``(N,)`` or drawn by :func:`sample_partners`
    with ``generator``, mean over the ``N`` anchors; ``mode="all"``: mean over all ``N (N - 1)``
    ordered pairs (``partners`` ignored). ``eps``: floor on the distance of
    different-sub-category pairs (same units as the embeddings; > 0).
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; choose from {', '.join(PAIR_MODES)}")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if embeddings.ndim != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(f"expected embeddings (N, D) and labels (N,), got {tuple(embeddings.shape)} "
                         f"and {tuple(labels.shape)}")
    n = len(embeddings)
    if n == 0:
        return embeddings.sum() * 0.0
    if mode == "all":
        if n < 2:
            return embeddings.sum() * 0.0
        diff = embeddings[:, None, :] - embeddings[None, :, :]
        d2 = (diff * diff).sum(-1)
        terms = pair_terms(d2, labels[:, None] == labels[None, :], eps)
        off = ~torch.eye(n, dtype=torch.bool, device=embeddings.device)
        return terms[off].mean()
    if partners is None:
        partners = sample_partners(n, generator, embeddings.device)
    diff = embeddings - embeddings[partners]
    d2 = (diff * diff).sum(-1)
    return pair_terms(d2, labels == labels[partners], eps).mean()


class PairLoss(nn.Module):
    """:func:`pair_loss` with fixed ``eps`` (0.1) and ``mode`` ("sampled");
    ``forward(embeddings (N, D), labels (N,), partners=None) -> scalar``."""

    def __init__(self, eps: float = 0.1, mode: str = "sampled"):
        super().__init__()
        if mode not in PAIR_MODES:
            raise ValueError(f"unknown pair mode {mode!r}; choose from {', '.join(PAIR_MODES)}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps, self.mode = eps, mode

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                partners: torch.Tensor | None = None) -> torch.Tensor:
        return pair_loss(embeddings, labels, partners, self.eps, self.mode)
