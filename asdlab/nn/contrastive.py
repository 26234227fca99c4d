"""Contrastive loss between two views of the same clips (seed 003, Small Rice DCASE2021, eq. 4).

:func:`info_nce`: anchors ``u_i`` (the CNN's projected features) and candidates ``p_j`` (the
AutoEncoder's projected bottleneck) of a batch; the positive of anchor ``i`` is candidate
``i`` (the same clip), the negatives are the other clips' candidates:

    L = -1/N sum_i log( exp(<u_i, p_i> / rho) / sum_{j in D(i)} exp(<u_i, p_j> / rho) )

with ``rho`` the temperature (0.07 in the paper) and ``<,>`` the inner product of L2-normalised
vectors (cosine similarity, as SimCLR; ``normalize=False`` uses raw inner products).

Where this fills in or departs from the paper:

- Direction: eq. 4 is one-directional (CNN anchors against AE candidates), the default;
  ``symmetric=True`` averages it with the AE-anchored direction (CLIP-style). The public Small
  Rice code instead feeds both views to a SupCon loss with ``contrast_mode='all'`` (both views
  anchor, and the same view's other clips are negatives too); not reproduced.
- Denominator ``D(i)``: eq. 4 writes ``j != i``, which leaves the positive out (the "decoupled"
  form); the cited SupCon loss and InfoNCE keep it in. Default: all ``j`` (a cross-entropy over
  the batch, which cannot go below 0); ``exclude_positive=True`` follows eq. 4 literally.
- Reduction: eq. 4 sums over ``i``; the mean is used here so that the loss does not scale with
  the batch (multiply by the batch size to get the sum).

:class:`ContrastiveProjector`: the paper's mapping into the contrastive space: one linear map
per view into a common size, then an MLP with one hidden layer, shared by both views, to
256-d ("we transform the output vector of Autoencoder's bottleneck layer and EfficientNet's
feature layer into same dimension by linear transformation, then map representations to the
space where contrastive loss is applied via a shared MLP projection layer with one hidden
layer"). Common and hidden sizes are not given: 256 both (the public code's ``hidden_dim``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def similarity_logits(anchors: torch.Tensor, candidates: torch.Tensor, temperature: float = 0.07,
                      normalize: bool = True) -> torch.Tensor:
    """``(N, D), (M, D) -> (N, M)``: ``<a_i, c_j> / temperature`` (cosines when ``normalize``)."""
    if normalize:
        anchors, candidates = F.normalize(anchors, dim=-1), F.normalize(candidates, dim=-1)
    return anchors @ candidates.T / temperature


def _one_direction(logits: torch.Tensor, exclude_positive: bool) -> torch.Tensor:
    pos = logits.diagonal()
    if exclude_positive:
        eye = torch.eye(len(logits), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(eye, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - pos).mean()


def info_nce(anchors: torch.Tensor, candidates: torch.Tensor, temperature: float = 0.07,
             symmetric: bool = False, exclude_positive: bool = False,
             normalize: bool = True) -> torch.Tensor:
    """InfoNCE of row-paired views ``anchors (N, D)`` and ``candidates (N, D)``: scalar mean over
    the anchors of ``-log softmax_j(<a_i, c_j> / temperature)[i]`` (module docstring).

    ``symmetric``: mean of both directions; ``exclude_positive``: leave ``j = i`` out of the
    denominator (eq. 4 as printed; needs ``N >= 2``); ``normalize``: cosine similarities."""
    if anchors.shape != candidates.shape or anchors.dim() != 2:
        raise ValueError(f"info_nce needs two (N, D) tensors of one shape, got "
                         f"{tuple(anchors.shape)} and {tuple(candidates.shape)}")
    if exclude_positive and len(anchors) < 2:
        raise ValueError("info_nce with exclude_positive needs at least 2 pairs")
    logits = similarity_logits(anchors, candidates, temperature, normalize)
    loss = _one_direction(logits, exclude_positive)
    if symmetric:
        loss = 0.5 * (loss + _one_direction(logits.T, exclude_positive))
    return loss


class ContrastiveProjector(nn.Module):
    """Two views into one contrastive space: ``forward(a (N, dim_a), b (N, dim_b)) ->
    (za (N, out), zb (N, out))`` with ``z = mlp(linear_view(x))``, the MLP
    (``common -> hidden -> ReLU -> out``) shared by both views."""

    def __init__(self, dim_a: int, dim_b: int, common: int = 256, hidden: int = 256, out: int = 256):
        super().__init__()
        self.to_common_a = nn.Linear(dim_a, common)
        self.to_common_b = nn.Linear(dim_b, common)
        self.mlp = nn.Sequential(nn.Linear(common, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mlp(self.to_common_a(a)), self.mlp(self.to_common_b(b))
