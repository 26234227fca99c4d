"""Fixed-length log-mel inputs for networks that take a fixed number of frames."""

from __future__ import annotations

import numpy as np


def fix_frames(mel: np.ndarray, frames: int) -> np.ndarray:
    """``(n_mels, T) -> (n_mels, frames)``: the first ``frames`` frames, tiled when shorter."""
    t = mel.shape[1]
    if t < frames:
        mel = np.tile(mel, (1, -(-frames // t)))
    return mel[:, :frames]


def standardize(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per mel bin standardisation with the mean and standard deviation over all frames of all
    ``train`` clips ``(N, n_mels, T)``; returns ``(mean, std, train, *others)`` with mean and std
    ``(n_mels,)``."""
    mean = train.mean(axis=(0, 2), dtype=np.float64).astype(np.float32)
    std = train.std(axis=(0, 2), dtype=np.float64).astype(np.float32) + np.float32(1e-12)
    scale = lambda x: ((x - mean[None, :, None]) / std[None, :, None]).astype(np.float32)
    return (mean, std, scale(train), *(scale(o) for o in others))
