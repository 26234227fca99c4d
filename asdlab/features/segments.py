"""Fixed-length pieces of clips of any length: where the crops of a clip start, and the
stacked frame vectors of a batch of log-mels."""

from __future__ import annotations

import torch


def segment_starts(n: int, segment: int, hop: int) -> list[int]:
    """Start indices of the crops of ``segment`` samples (or frames) that cover a clip of ``n``
    (at least ``segment``): ``0, hop, 2 hop, ...`` while the crop fits, plus ``n - segment``
    when the last regular one stops short of the end. ``segment_starts(157, 64, 32) ==
    [0, 32, 64, 93]``."""
    if segment < 1 or hop < 1:
        raise ValueError(f"segment and hop must be positive, got segment={segment}, hop={hop}")
    if n < segment:
        raise ValueError(f"a clip of {n} is shorter than one segment of {segment}: pad it first")
    starts = list(range(0, n - segment + 1, hop))
    if starts[-1] != n - segment:
        starts.append(n - segment)
    return starts


def frame_vectors(x: torch.Tensor, n_frames: int = 5) -> torch.Tensor:
    """Batched :func:`asdlab.features.stack_frames`: ``(B, n_mels, T) -> (B, T - n_frames + 1,
    n_frames * n_mels)``, row ``t`` = frames ``t ... t + n_frames - 1`` one after the other."""
    b, m, t = x.shape
    v = x.unfold(2, n_frames, 1)  # (B, M, T - n + 1, n)
    return v.permute(0, 2, 3, 1).reshape(b, t - n_frames + 1, n_frames * m)
