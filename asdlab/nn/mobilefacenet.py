"""MobileFaceNet encoder as used by STgram-MFN and TASTgram-MFN, and the whole front end +
encoder + class head (cosine or linear) model.

Layout (channels at ``width=1``; input ``(B, C, 128, 313)`` for a 10 s clip):
conv 3x3 s2 -> 64 (PReLU), depthwise 3x3 -> 64, inverted-residual bottlenecks
``[t, c, n, s] = [2, 128, 2, 2], [4, 128, 2, 2], [4, 128, 2, 2]`` (spatial ``(8, 20)``), 1x1 conv
-> 512 (PReLU), global depthwise conv (GDConv, linear), linear -> 128 with BatchNorm.

Length-agnostic GDConv: the references use a depthwise kernel of exactly ``(8, 20)``, the map
size of a 10 s clip. Here the map is first average-pooled adaptively to ``gdconv_size``
(default ``(8, 20)``), then the fixed GDConv is applied. For 10 s clips with 128 mels the
pooling is the identity, so the network is the reference's; longer clips are averaged down,
shorter ones repeated up, and the GDConv keeps its learned shape and its parameter count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asdlab.nn.margins import CosineHead, LinearHead

HEADS = {"cosine": CosineHead, "linear": LinearHead}
"""Class head name -> module: the cosine head (margin losses, cosine softmax) or the plain
linear softmax classifier (:class:`~asdlab.nn.margins.LinearHead`)."""

MFN_BOTTLENECKS = ((2, 128, 2, 2), (4, 128, 2, 2), (4, 128, 2, 2))
"""``(expansion t, channels c, repeats n, first stride s)`` of the STgram/TASTgram reference."""


def scaled_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded to a multiple of 8, at least 8."""
    return max(8, round(channels * width / 8) * 8)


def conv_bn(c_in: int, c_out: int, kernel, stride=1, padding=0, depthwise: bool = False,
            prelu: bool = True) -> nn.Sequential:
    """Conv2d (no bias; depthwise when ``depthwise``, which needs ``c_in == c_out``) +
    BatchNorm2d, + PReLU (one slope per channel) unless ``prelu`` is False (linear)."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=c_in if depthwise else 1,
                        bias=False), nn.BatchNorm2d(c_out)]
    if prelu:
        layers.append(nn.PReLU(c_out))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expand to ``c_in * expansion`` (PReLU), 3x3 depthwise with
    ``stride`` (PReLU), 1x1 linear projection to ``c_out``; identity shortcut when ``stride == 1``
    and ``c_in == c_out``. ``(B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride))``."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int):
        super().__init__()
        hidden = c_in * expansion
        self.residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            conv_bn(c_in, hidden, 1),
            conv_bn(hidden, hidden, 3, stride, 1, depthwise=True),
            conv_bn(hidden, c_out, 1, prelu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileFaceNet(nn.Module):
    """MobileFaceNet encoder: ``forward(x: (B, in_channels, M, T)) -> (B, embedding_dim)``.

    ``in_channels``: 2 for STgram, 3 for TASTgram. ``width`` multiplies every internal channel
    count (stem 64, bottlenecks 128, head 512; rounded to multiples of 8), not the embedding.
    ``gdconv_size``: the map size the global depthwise conv sees (adaptive average pooling
    first, see the module docstring). Any ``M, T >= 1`` works. Conv weights are initialised
    with He normal (fan out), BatchNorm with weight 1 and bias 0, as in the reference.
    """

    def __init__(self, in_channels: int = 3, embedding_dim: int = 128, width: float = 1.0,
                 bottlenecks=MFN_BOTTLENECKS, gdconv_size: tuple[int, int] = (8, 20)):
        super().__init__()
        stem = scaled_channels(64, width)
        head = scaled_channels(512, width)
        self.gdconv_size = tuple(gdconv_size)
        self.stem = nn.Sequential(conv_bn(in_channels, stem, 3, 2, 1),
                                  conv_bn(stem, stem, 3, 1, 1, depthwise=True))
        blocks, c_in = [], stem
        for t, c, n, s in bottlenecks:
            c_out = scaled_channels(c, width)
            for i in range(n):
                blocks.append(Bottleneck(c_in, c_out, s if i == 0 else 1, t))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.expand = conv_bn(c_in, head, 1)
        self.gdconv = conv_bn(head, head, self.gdconv_size, depthwise=True, prelu=False)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(head, embedding_dim, bias=False),
                                   nn.BatchNorm1d(embedding_dim))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last activations: the depthwise convolutions and PReLUs run 15-20 % faster on
        # the CPU (oneDNN), the weights keep their layout (docs/performance.md)
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.expand(self.blocks(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, self.gdconv_size)
        return self.embed(self.gdconv(x))


class GramMFN(nn.Module):
    """STgram-MFN / TASTgram-MFN: front end + :class:`MobileFaceNet` + class head ``head``
    (a key of :data:`HEADS`: "cosine", the default, or "linear").

    ``frontend``: a module with ``out_channels`` and ``forward(wave, logmel=None) -> (B, C, M, T)``
    (:class:`~asdlab.nn.frontends.STgram` or :class:`~asdlab.nn.frontends.TASTgram`).
    ``forward(wave: (B, n), logmel: (B, M, T) | None = None) -> (B, embedding_dim)`` embeddings;
    the losses and scores of :mod:`asdlab.nn.margins` take ``model.head`` and these embeddings.
    """

    def __init__(self, frontend: nn.Module, n_classes: int, width: float = 1.0,
                 embedding_dim: int = 128, head: str = "cosine"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head={head!r}: choose from {', '.join(HEADS)}")
        self.frontend = frontend
        self.encoder = MobileFaceNet(frontend.out_channels, embedding_dim, width)
        self.head = HEADS[head](embedding_dim, n_classes)

    def forward(self, wave: torch.Tensor, logmel: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(self.frontend(wave, logmel))
