"""The official DCASE Task 2 AutoEncoder (2020-2024 baselines)."""

from __future__ import annotations

import torch
from torch import nn


def _dense(n_in: int, n_out: int) -> nn.Sequential:
    # Keras' BatchNormalization(momentum=0.99, epsilon=1e-3) = torch momentum 0.01, eps 1e-3.
    return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, momentum=0.01, eps=1e-3),
                         nn.ReLU())


class DenseAutoEncoder(nn.Module):
    """Fully connected AE: ``input_dim -> hidden x n_layers -> bottleneck -> hidden x n_layers
    -> input_dim``.

    Every hidden layer, the bottleneck included, is Linear + BatchNorm1d + ReLU; the output layer
    is linear. Defaults are the official baseline: 640-128-128-128-128-8-128-128-128-128-640.
    ``forward(x: (N, input_dim)) -> (N, input_dim)`` reconstruction.
    """

    def __init__(self, input_dim: int = 640, hidden: int = 128, n_layers: int = 4,
                 bottleneck: int = 8):
        super().__init__()
        enc = [_dense(input_dim, hidden)] + [_dense(hidden, hidden) for _ in range(n_layers - 1)]
        dec = [_dense(hidden, hidden) for _ in range(n_layers - 1)]
        self.encoder = nn.Sequential(*enc, _dense(hidden, bottleneck))
        self.decoder = nn.Sequential(_dense(bottleneck, hidden), *dec, nn.Linear(hidden, input_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, input_dim) -> (N, bottleneck)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
