"""Transforms of log-mels ``(n_mels, T)``: a median filter along time, and per-mel-bin
standardisation of clips of different lengths."""

from __future__ import annotations

import numpy as np

from asdlab.core.errors import ConfigError
from asdlab.features.frames import mel_moments


def median_filter_time(mel: np.ndarray, window: int = 30, mode: str = "smooth") -> np.ndarray:
    """Median filter along time (the last axis), each mel band on its own: ``(..., T) -> (..., T)``.

    The output at frame ``t`` is the median (mean of the two middle values for an even
    ``window``) of frames ``t - (window - 1) // 2 ... t + window // 2``, the clip being extended
    at both ends by reflection (``numpy.pad(mode="reflect")``: ``x2 x1 | x0 x1 x2 ...``).
    ``mode``: ``"smooth"`` returns the filtered values, ``"subtract"`` returns ``mel`` minus them.
    """
    if mode not in ("smooth", "subtract"):
        raise ConfigError(f"median filter mode must be 'smooth' or 'subtract', got {mode!r}")
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"median_window must be a positive integer, got {window!r}")
    x = np.asarray(mel, dtype=np.float32)
    if x.shape[-1] < 2:
        med = x.copy()
    else:
        pad = [(0, 0)] * (x.ndim - 1) + [((window - 1) // 2, window // 2)]
        padded = np.pad(x, pad, mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
        med = np.median(windows, axis=-1).astype(np.float32)
    return med if mode == "smooth" else x - med


def standardize_clips(train: list[np.ndarray], *others: list[np.ndarray]) -> tuple:
    """Per mel bin standardisation of clips of any length: mean and standard deviation (float64,
    + 1e-12, then float32) over all frames of all ``train`` clips ``[(n_mels, T_i)]``; returns
    ``(mean, std, train, *others)`` with mean and std ``(n_mels,)`` and each list scaled clip by
    clip (float32). :func:`asdlab.features.frames.standardize` does the same for equal lengths."""
    mean, std = _clip_stats(train)
    scale = lambda clips: [(m - mean[:, None]) / std[:, None] for m in clips]
    return (mean, std, scale(train), *(scale(o) for o in others))


def standardize_clips_in_place(train: list[np.ndarray], *others: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`standardize_clips` that overwrites the float32 clips (no second copy of every clip;
    the same values bit for bit); returns ``(mean, std)``. No clip may appear twice."""
    mean, std = _clip_stats(train)
    for clips in (train, *others):
        for m in clips:
            m -= mean[:, None]
            m /= std[:, None]
    return mean, std


def _clip_stats(train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~asdlab.features.frames.mel_moments` of the clips ``[(n_mels, T_i)]`` as float32
    (``std`` + 1e-12 before the cast)."""
    mean, std = mel_moments(train)
    return mean.astype(np.float32), (std + 1e-12).astype(np.float32)
