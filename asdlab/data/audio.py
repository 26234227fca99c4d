"""Read clips as 16 kHz mono float32 and bring them to a fixed length.

Channel policy (``channel``): a multi-channel file gives its channel ``0`` (the default, as the
official DCASE baseline reads it; in DCASE 2026 the near microphone), ``1`` (the far
microphone) or the ``"mean"`` of its channels. A mono file gives its one channel under every
policy but ``1``, which it lacks (an :class:`AudioError`).

Length policy (:func:`fix_length`): a shorter clip is copy-padded (tiled from its start), a
longer one cropped: at a random offset for training (``mode="random"``), from the start for
scoring (``mode="fixed"``).
"""

from __future__ import annotations

import os
import struct
import warnings
from math import gcd
from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from asdlab.core.errors import AudioError, ConfigError

SAMPLE_RATE = 16000
CHANNELS = (0, 1, "mean")
"""The channel policies: the channel index to read, or the mean of all channels."""
DEFAULT_CHANNEL = 0


def check_channel(channel) -> int | str:
    """``channel`` as a policy of :data:`CHANNELS` (``"0"``/``"1"`` from a command line become
    ints); a :class:`ConfigError` naming the parameter for anything else."""
    if isinstance(channel, str) and channel.strip() in ("0", "1"):
        channel = int(channel)
    if isinstance(channel, bool) or channel not in CHANNELS:
        raise ConfigError(f"channel={channel!r}: must be 0 (first channel, the DCASE baseline's), "
                          f"1 (second channel) or 'mean' (average of the channels)")
    return channel


def read_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, channel: int | str = DEFAULT_CHANNEL) -> np.ndarray:
    """Samples ``(n,)`` float32 at ``sr`` Hz: one channel by the ``channel`` policy (0, 1 or
    ``"mean"``), resampled, PCM in [-1, 1).

    Raises :class:`AudioError` naming the file when it is missing, empty, truncated, corrupt,
    not audio, cannot be opened (e.g. no permission), holds no samples, holds non-finite
    samples or lacks the channel asked for.
    """
    channel = check_channel(channel)
    path = Path(path)
    try:
        return _read_audio(path, sr, channel)
    except OSError as err:  # PermissionError, I/O errors: one line naming the file
        raise AudioError(f"{path}: cannot read the file ({err.strerror or err})") from err


def _read_audio(path: Path, sr: int, channel: int | str) -> np.ndarray:
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    _check_riff(path)
    try:
        data, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as err:  # sf.LibsndfileError is a RuntimeError
        raise AudioError(f"{path}: not a readable audio file ({err})") from err
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio file contains no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    if channel == "mean" or data.shape[1] == 1 and channel == 0:
        wave = data.mean(axis=1)  # exactly the samples for a mono file
    elif channel >= data.shape[1]:
        raise AudioError(f"{path}: channel {channel} asked for but the file has {data.shape[1]} channel(s)")
    else:
        wave = np.ascontiguousarray(data[:, channel])
    if file_sr != sr:
        g = gcd(sr, file_sr)
        wave = resample_poly(wave, sr // g, file_sr // g)
    return wave.astype(np.float32, copy=False)


def _check_riff(path: Path) -> None:
    """For RIFF/WAVE files: the header is whole and the ``data`` chunk is all present.

    libsndfile reads a truncated file without complaint, so the declared ``data`` size is
    compared with the bytes on disk here. Files that are not RIFF are left to libsndfile.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF":
            return
        if len(head) < 12 or head[8:12] != b"WAVE":
            raise AudioError(f"{path}: corrupt WAV header (RIFF file without WAVE id)")
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                present = size - pos - 8
                if chunk_size > present:
                    raise AudioError(f"{path}: truncated WAV: header declares {chunk_size} bytes "
                                     f"of audio but only {present} are present")
                return
            pos += 8 + chunk_size + (chunk_size & 1)
    raise AudioError(f"{path}: corrupt or truncated WAV header (no data chunk)")


def fix_length(wave: np.ndarray, n_samples: int, mode: str = "fixed",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """``wave`` ``(n,)`` -> ``(n_samples,)``: tiled when shorter, cropped when longer.

    ``mode="fixed"`` keeps the first ``n_samples``; ``mode="random"`` crops at an offset drawn
    from ``rng`` (required in that mode).
    """
    if mode not in ("fixed", "random"):
        raise ValueError(f"mode must be 'fixed' or 'random', got {mode!r}")
    if mode == "random" and rng is None:
        raise ValueError("mode='random' needs rng (a numpy Generator)")
    if n_samples <= 0 or len(wave) == 0:
        raise ValueError(f"need a non-empty wave and n_samples > 0, got {len(wave)} samples "
                         f"and n_samples={n_samples}")
    if len(wave) < n_samples:
        return np.tile(wave, -(-n_samples // len(wave)))[:n_samples]
    offset = int(rng.integers(0, len(wave) - n_samples + 1)) if mode == "random" else 0
    return wave[offset:offset + n_samples]


def load_clip(path: str | os.PathLike, seconds: float | None = None, mode: str = "fixed",
              rng: np.random.Generator | None = None, sr: int = SAMPLE_RATE,
              channel: int | str = DEFAULT_CHANNEL) -> np.ndarray:
    """:func:`read_audio` then :func:`fix_length` to ``round(seconds * sr)`` samples.

    ``seconds=None`` keeps the natural length.
    """
    wave = read_audio(path, sr, channel)
    if seconds is None:
        return wave
    return fix_length(wave, int(round(seconds * sr)), mode, rng)


def is_silent(wave: np.ndarray) -> bool:
    """True when every sample of ``wave`` is zero (a silent, e.g. all-zero, recording)."""
    return not np.any(wave)


def read_many(paths: Iterable[str | os.PathLike], sr: int = SAMPLE_RATE, skip_unreadable: bool = False,
              channel: int | str = DEFAULT_CHANNEL) -> tuple[list[np.ndarray], list[tuple[object, str]]]:
    """Read every path with :func:`read_audio` (``channel`` policy): ``(waves, skipped)``.

    ``waves`` has one array per readable path, in order. The first :class:`AudioError` is
    raised unless ``skip_unreadable``; then ``skipped`` lists ``(path, reason)`` for every
    unreadable file and one warning names them all.
    """
    waves, skipped = [], []
    for p in paths:
        try:
            waves.append(read_audio(p, sr, channel))
        except AudioError as err:
            if not skip_unreadable:
                raise
            skipped.append((p, str(err)))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable audio file(s):\n"
                      + "\n".join(reason for _, reason in skipped), stacklevel=2)
    return waves, skipped
