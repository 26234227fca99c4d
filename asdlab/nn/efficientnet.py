"""An EfficientNet-B0-style CNN for log-mel spectrograms (seed 003, Small Rice DCASE2021).

Tan & Le (2019) B0, built from its stage table, with the two changes seed 003 names: ONE
input channel (the log-mel) and global average + max pooling (GAMP) instead of global
average pooling. The ImageNet classifier is not part of the network: :class:`EfficientNet`
returns the pooled feature vector and the caller adds its own head.

Input ``(B, n_mels, T)`` (asdlab's layout; read as a one-channel image of height ``n_mels``
and width ``T``) or ``(B, 1, H, W)``. At ``width=1``, ``depth=1``:

=====  ======  ========  =======  ======  ======  ===========================
stage  expand  channels  repeats  stride  kernel  output (128 mels x 64 frames)
=====  ======  ========  =======  ======  ======  ===========================
stem   -       32        1        2       3x3     64 x 32
1      1       16        1        1       3x3     64 x 32
2      6       24        2        2       3x3     32 x 16
3      6       40        2        2       5x5     16 x 8
4      6       80        3        2       3x3     8 x 4
5      6       112       3        1       5x5     8 x 4
6      6       192       4        2       5x5     4 x 2
7      6       320       1        1       3x3     4 x 2
head   -       1280      1        1       1x1     4 x 2 -> GAMP -> 1280
=====  ======  ========  =======  ======  ======  ===========================

An MBConv block: 1x1 expansion conv (skipped when expand = 1), depthwise ``k x k`` conv with
the stride, squeeze-excitation (average pool, 1x1 conv to ``max(1, int(c_in / 4))`` channels,
SiLU, 1x1 conv back, sigmoid gate; ``c_in`` = the block's input channels), 1x1 projection conv;
every conv but the SE ones is bias-free and followed by BatchNorm, SiLU after all but the
projection. A block whose stride is 1 and whose input and output channels agree adds its input
back, after stochastic depth (``drop_path``, rising linearly from 0 to ``drop_path`` over the
blocks as in the reference implementations; 0.2 for B0). "Same" padding is ``k // 2`` on every
side (symmetric; TensorFlow pads asymmetrically for stride 2, which only shifts the grid).

GAMP = mean over all positions + max over all positions of the last map, summed (the pooling of
the Small Rice public code), so any input size works: ``T`` may vary from batch to batch.

``width`` multiplies every channel count (rounded to a multiple of 8, never more than 10 %
below the exact value, as in EfficientNet's scaling rule) and ``depth`` every stage's repeats
(``ceil``): the small presets use a narrow, shallow B0. Parameter count of the full B0 trunk
with one input channel (no classifier): 4,006,972 (torchvision's B0 has 5,288,548 with 3 input
channels and its 1000-class classifier: 4,007,548 + 1,281,000).

BatchNorm: ``bn_momentum`` 0.01 and eps 1e-3 by default (TensorFlow's 0.99 decay; None = a
cumulative average, exact after a few steps, for very short runs). Convs are He-normal with
``fan_out = k * k * out_channels / groups``, as the TensorFlow reference initialises: a depthwise
kernel gets ``std = sqrt(2 / k^2)``. (PyTorch's ``kaiming_normal_(mode="fan_out")`` ignores the
groups and gives depthwise kernels a ``sqrt(channels)`` times smaller scale, which makes an
untrained or briefly trained network in eval mode output nearly constant features.) BatchNorm
weights 1, biases 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

B0_STAGES = (
    # expand, channels, repeats, stride, kernel
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)
"""EfficientNet-B0's MBConv stages (Tan & Le 2019, Table 1)."""
B0_STEM = 32
B0_HEAD = 1280


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by ``width``: nearest multiple of ``divisor`` (at least ``divisor``), bumped
    up one step when rounding lost more than 10 %. ``round_filters(40, 0.25) == 16``."""
    if width == 1.0:
        return channels
    exact = channels * width
    out = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    if out < 0.9 * exact:
        out += divisor
    return out


def round_repeats(repeats: int, depth: float) -> int:
    """Blocks of a stage scaled by ``depth``: ``ceil(depth * repeats)``, at least 1."""
    return max(1, math.ceil(depth * repeats))


class SqueezeExcitation(nn.Module):
    """Channel gate ``x * sigmoid(W2 silu(W1 mean_hw(x)))``: ``(B, C, H, W) -> (B, C, H, W)``
    with a bottleneck of ``squeeze`` channels."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(nn.functional.silu(self.reduce(s))))


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int, act: bool,
             momentum: float | None, eps: float) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out, eps=eps, momentum=momentum)]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation (see the module docstring):
    ``(B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride))``."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int,
                 se_ratio: float = 0.25, drop_path: float = 0.0, bn_momentum: float | None = 0.01,
                 bn_eps: float = 1e-3):
        super().__init__()
        hidden = c_in * expand
        bn = {"momentum": bn_momentum, "eps": bn_eps}
        self.expand = _conv_bn(c_in, hidden, 1, 1, 1, True, **bn) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, hidden, True, **bn)
        self.se = SqueezeExcitation(hidden, max(1, int(c_in * se_ratio)))
        self.project = _conv_bn(hidden, c_out, 1, 1, 1, False, **bn)
        self.residual = stride == 1 and c_in == c_out
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        if not self.residual:
            return y
        if self.training and self.drop_path > 0:
            keep = 1.0 - self.drop_path
            mask = torch.empty(len(y), 1, 1, 1, device=y.device, dtype=y.dtype).bernoulli_(keep)
            y = y * mask / keep
        return x + y


class EfficientNet(nn.Module):
    """EfficientNet-B0-style trunk with GAMP: ``forward(x) -> (B, out_dim)``.

    ``x``: ``(B, n_mels, T)`` or ``(B, in_channels, H, W)``. ``width`` / ``depth``: channel and
    repeat multipliers (1, 1 = B0); ``in_channels`` 1; ``drop_path`` the largest stochastic-depth
    rate (0.2); ``bn_momentum`` (None: cumulative average) / ``bn_eps`` of every BatchNorm. ``out_dim`` =
    ``round_filters(1280, width)``.
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, in_channels: int = 1,
                 drop_path: float = 0.2, bn_momentum: float | None = 0.01, bn_eps: float = 1e-3,
                 stages=B0_STAGES):
        super().__init__()
        if not width > 0 or not depth > 0:
            raise ValueError(f"width and depth must be positive, got {width!r}, {depth!r}")
        bn = {"bn_momentum": bn_momentum, "bn_eps": bn_eps}
        c = round_filters(B0_STEM, width)
        self.in_channels = in_channels
        self.stem = _conv_bn(in_channels, c, 3, 2, 1, True, bn_momentum, bn_eps)
        plan = []
        for expand, channels, repeats, stride, kernel in stages:
            c_out = round_filters(channels, width)
            for i in range(round_repeats(repeats, depth)):
                plan.append((c, c_out, expand, kernel, stride if i == 0 else 1))
                c = c_out
        self.blocks = nn.Sequential(*(
            MBConv(ci, co, e, k, s, drop_path=drop_path * i / len(plan), **bn)
            for i, (ci, co, e, k, s) in enumerate(plan)))
        self.out_dim = round_filters(B0_HEAD, width)
        self.head = _conv_bn(c, self.out_dim, 1, 1, 1, True, bn_momentum, bn_eps)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The head's map ``(B, out_dim, ceil(H / 32), ceil(W / 32))`` before pooling."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channel(s), got input of shape {tuple(x.shape)}")
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.feature_map(x).flatten(2)
        return f.mean(dim=2) + f.amax(dim=2)
