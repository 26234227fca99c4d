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
    mean, std = _mel_stats(train)
    scale = lambda x: ((x - mean[None, :, None]) / std[None, :, None]).astype(np.float32)
    return (mean, std, scale(train), *(scale(o) for o in others))


def standardize_in_place(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`standardize` of float32 arrays ``(N, n_mels, T)`` that overwrites them (no copy of
    the data; the same values bit for bit); returns ``(mean, std)``. The arrays must not overlap."""
    mean, std = _mel_stats(train)
    for x in (train, *others):
        x -= mean[None, :, None]
        x /= std[None, :, None]
    return mean, std


def _mel_stats(train: np.ndarray, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mel_moments` of ``train`` ``(N, n_mels, T)`` taken ``block`` clips at a time, as
    float32 (``std`` + 1e-12)."""
    mean, std = mel_moments([train[i:i + block] for i in range(0, len(train), block)])
    return mean.astype(np.float32), std.astype(np.float32) + np.float32(1e-12)


def mel_moments(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per mel bin mean and standard deviation ``(n_mels,)`` float64 over every frame of
    ``blocks``, arrays ``(..., n_mels, T)`` (clips or batches of clips of any lengths), summed in
    float64 block by block in two passes: no concatenation, no float64 copy of all the data."""
    axes = lambda b: tuple(a for a in range(b.ndim) if a != b.ndim - 2)  # noqa: E731  (all but the mel axis)
    n = sum(b.size // b.shape[-2] for b in blocks)
    mean = sum(b.sum(axis=axes(b), dtype=np.float64) for b in blocks) / n
    var = sum(np.square(b - mean[:, None]).sum(axis=axes(b)) for b in blocks) / n
    return mean, np.sqrt(var)


class StackedFrames:
    """The :func:`asdlab.features.stack_frames` vectors of many clips, built on demand.

    ``mels``: log-mels ``(n_mels, T_i)`` float32 with ``T_i >= n_frames``; held once, frame
    after frame ``(sum T_i, n_mels)`` (each frame one contiguous row, so a batch is a gather of
    whole rows, not of single floats across ``n_mels`` rows). Vector ``v`` of clip ``i``
    (``0 <= v < T_i - n_frames + 1``) has the global index ``sum(counts[:i]) + v``; :meth:`take`
    returns rows ``(B, n_frames * n_mels)`` equal to those of ``stack_frames`` (frame-major), so
    no ``(sum counts, n_frames * n_mels)`` matrix (five copies of every frame) is ever built."""

    def __init__(self, mels: list[np.ndarray], n_frames: int):
        lengths = np.array([m.shape[1] for m in mels], dtype=np.int64)
        if len(mels) and lengths.min() < n_frames:
            raise ValueError(f"need at least {n_frames} frames to stack, got {int(lengths.min())}")
        self.n_frames = n_frames
        self.counts = lengths - n_frames + 1
        """Vectors per clip ``(n_clips,)``."""
        self.rows = (np.concatenate([m.T for m in mels]).astype(np.float32, copy=False) if mels
                     else np.zeros((0, 0), np.float32))
        first, col0 = np.cumsum(self.counts) - self.counts, np.cumsum(lengths) - lengths  # of each clip
        self._start = np.repeat(col0 - first, self.counts) + np.arange(int(self.counts.sum()), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._start)

    @property
    def dim(self) -> int:
        """``n_frames * n_mels``."""
        return self.n_frames * self.rows.shape[1]

    def take(self, idx) -> np.ndarray:
        """Vectors ``idx`` (global indices) ``(len(idx), n_frames * n_mels)`` float32."""
        cols = self._start[np.asarray(idx, dtype=np.int64)][:, None] + np.arange(self.n_frames)
        return self.rows[cols].reshape(len(cols), self.dim)


class RowsOf:
    """The rows of arrays ``(N_i, ...)`` (same trailing shape) read as their concatenation without
    building it: ``len``, ``shape``, and ``[a:b]`` (step 1) returns rows ``a`` to ``b`` as one
    array, copying only those rows."""

    def __init__(self, *parts: np.ndarray):
        self.parts = parts
        self.ends = np.cumsum([len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    @property
    def shape(self) -> tuple:
        return (len(self), *self.parts[0].shape[1:])

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, step = rows.indices(len(self))
        if step != 1:
            raise ValueError("RowsOf takes slices with step 1")
        pieces, begin = [], 0
        for part, end in zip(self.parts, self.ends):
            lo, hi = max(start, begin), min(stop, end)
            if lo < hi:
                pieces.append(part[lo - begin:hi - begin])
            begin = end
        if not pieces:
            return self.parts[0][:0]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
