"""The modified ResNet of sub-cluster AdaCos (seed 002 Table 1; Wilkinghoff's public code).

Input: standardised log-mels ``(B, n_mels, T)`` (asdlab's layout), read by the network as an
image of ``T`` (height) x ``n_mels`` (width), one channel. At ``width=1`` and 10 s clips
(``T = 313``, 128 mels):

===========================================================  ===================
stem: conv 7x7 stride 2 -> 16, LeakyReLU(0.1), BN, max-pool 3 stride 2    78 x 31 x 16
stage 1: 2 residual blocks, 16 filters                                    78 x 31 x 16
stage 2: 2 residual blocks, 32 filters, the first with stride 2           39 x 16 x 32
stage 3: 2 residual blocks, 64 filters, the first with stride 2           20 x 8 x 64
stage 4: 2 residual blocks, 128 filters, the first with stride 2          10 x 4 x 128
max over time, flatten                                                    512
linear                                                                    128 (embedding)
===========================================================  ===================

A residual block is pre-activation: ``r = conv3x3(LReLU(BN(conv3x3(LReLU(x)))))`` (the
first conv carries the stride), ``x = BN(shortcut(x) + r)``; the shortcut of a strided block
is a 2x2 max-pool (ceil) and a 1x1 conv. BatchNorm uses Keras' defaults (momentum 0.99 in
Keras terms = 0.01 in torch's, eps 1e-3); conv and linear weights are Glorot-uniform with zero
biases, as in the reference. The reference max-pools the last map with a 10x1 window, i.e.
over all 10 time steps of a 10 s clip; here the max runs over however many time steps there
are, so any clip length works and 10 s clips give the reference network.

``width`` scales every channel count (``round(c * width)``, at least 1) for small presets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGE_CHANNELS = (16, 32, 64, 128)
"""Filters of the stem/stage 1 and of stages 2-4 at ``width=1``."""


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class ResidualBlock(nn.Module):
    """Pre-activation residual block ``(B, c_in, H, W) -> (B, c_out, ceil(H / s), ceil(W / s))``
    with ``s = stride`` (1 or 2); see the module docstring."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.bn1 = _bn(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        if stride == 1 and c_in == c_out:
            self.shortcut = nn.Identity()
        else:
            pool = nn.MaxPool2d(stride, stride, ceil_mode=True) if stride > 1 else nn.Identity()
            self.shortcut = nn.Sequential(pool, nn.Conv2d(c_in, c_out, 1))
        self.bn_out = _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv1(F.leaky_relu(x, 0.1))
        r = self.conv2(self.bn1(F.leaky_relu(r, 0.1)))
        return self.bn_out(self.shortcut(x) + r)


class ModifiedResNet(nn.Module):
    """Log-mel ``(B, n_mels, T)`` -> embedding ``(B, embedding_dim)``.

    ``n_mels``: mel bins (128); ``embedding_dim``: 128; ``width``: channel multiplier (1.0 =
    16/32/64/128 filters). Needs ``T >= 7`` frames.
    """

    def __init__(self, n_mels: int = 128, embedding_dim: int = 128, width: float = 1.0):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        c = [max(1, round(ch * width)) for ch in STAGE_CHANNELS]
        self.n_mels, self.embedding_dim, self.channels = n_mels, embedding_dim, tuple(c)
        self.stem = nn.Sequential(nn.Conv2d(1, c[0], 7, 2, 3), nn.LeakyReLU(0.1), _bn(c[0]),
                                  nn.MaxPool2d(3, 2))
        blocks = []
        for i, ch in enumerate(c):
            c_in = c[max(i - 1, 0)]
            blocks += [ResidualBlock(c_in, ch, stride=1 if i == 0 else 2), ResidualBlock(ch, ch)]
        self.blocks = nn.Sequential(*blocks)
        self.freq_out = self._freq_out(n_mels)
        self.embed = nn.Linear(c[-1] * self.freq_out, embedding_dim)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _freq_out(n_mels: int) -> int:
        """Width of the last feature map: stem ``ceil(n / 2)``, pool ``(n - 3) // 2 + 1``,
        then three ``ceil(n / 2)``."""
        f = (n_mels + 1) // 2
        f = (f - 3) // 2 + 1
        for _ in range(3):
            f = (f + 1) // 2
        if f < 1:
            raise ValueError(f"n_mels={n_mels} is too small for the modified ResNet (need >= 7)")
        return f

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        if logmel.ndim != 3 or logmel.shape[1] != self.n_mels:
            raise ValueError(f"expected log-mels (B, {self.n_mels}, T), got {tuple(logmel.shape)}")
        if logmel.shape[2] < 7:
            raise ValueError(f"the modified ResNet needs at least 7 frames, got {logmel.shape[2]}")
        x = self.blocks(self.stem(logmel.transpose(1, 2).unsqueeze(1)))  # (B, C, T', F')
        return self.embed(x.amax(dim=2).flatten(1))
