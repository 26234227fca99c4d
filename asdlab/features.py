"""Spectral features: log-mel spectrograms and frame stacking.

The log-mel follows the official DCASE baseline (librosa): Hann window of ``n_fft`` samples,
centred frames with zero padding, Slaney mel scale with Slaney area normalisation, power 2,
then ``10 / power * 2 * log10(mel + eps)`` = dB with ``eps`` = machine epsilon. It is computed
with torchaudio, batched, on whatever device the input tensor lives on.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys

import numpy as np
import torch
import torchaudio

EPS = sys.float_info.epsilon  # the official baseline's floor inside log10


@dataclasses.dataclass(frozen=True)
class LogMelParams:
    """Log-mel parameters. Defaults: the official AE baseline (128 mels, n_fft 1024, hop 512).

    ``sr`` in Hz, ``n_fft`` and ``hop`` in samples, ``power`` 2 = power spectrogram.
    """

    sr: int = 16000
    n_fft: int = 1024
    hop: int = 512
    n_mels: int = 128
    power: float = 2.0
    f_min: float = 0.0
    f_max: float | None = None

    def key(self) -> str:
        """A short stable hash of the parameters, used to key the feature cache."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:12]

    def n_frames(self, n_samples: int) -> int:
        """Number of frames for a clip of ``n_samples`` (centred framing): 313 for 10 s."""
        return 1 + n_samples // self.hop


@functools.lru_cache(maxsize=16)
def _mel_transform(params: LogMelParams, device: str) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=params.sr,
        n_fft=params.n_fft,
        win_length=params.n_fft,
        hop_length=params.hop,
        f_min=params.f_min,
        f_max=params.f_max,
        n_mels=params.n_mels,
        power=params.power,
        center=True,
        pad_mode="constant",
        norm="slaney",
        mel_scale="slaney",
    ).to(device)


def log_mel(wave: torch.Tensor | np.ndarray, params: LogMelParams = LogMelParams()) -> torch.Tensor:
    """Log-mel spectrogram in dB.

    ``wave``: float waveform ``(n,)`` or batch ``(B, n)`` at ``params.sr``.
    Returns ``(n_mels, T)`` or ``(B, n_mels, T)`` float32 with ``T = 1 + n // hop``, on the
    input's device.
    """
    x = torch.as_tensor(wave, dtype=torch.float32)
    mel = _mel_transform(params, str(x.device))(x)
    return (20.0 / params.power) * torch.log10(mel + EPS)


def log_mel_many(
    waves: list[np.ndarray], params: LogMelParams = LogMelParams(), device: str = "cpu",
    batch_size: int = 64,
) -> list[np.ndarray]:
    """Log-mels of many clips, batched by equal length; returns ``(n_mels, T_i)`` float32 arrays
    in input order."""
    out: list[np.ndarray | None] = [None] * len(waves)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(waves):
        by_len.setdefault(len(w), []).append(i)
    for idx in by_len.values():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start:start + batch_size]
            batch = torch.from_numpy(np.stack([waves[i] for i in chunk])).to(device)
            mels = log_mel(batch, params).cpu().numpy()
            for i, m in zip(chunk, mels):
                out[i] = m
    return out  # type: ignore[return-value]


def stack_frames(mel: np.ndarray | torch.Tensor, n_frames: int = 5):
    """Stack ``n_frames`` consecutive frames: ``(n_mels, T)`` -> ``(T - n_frames + 1, n_frames * n_mels)``.

    Row ``t`` is ``[mel[:, t], mel[:, t + 1], ..., mel[:, t + n_frames - 1]]`` (frame-major), as in
    the official baseline; a clip shorter than ``n_frames`` frames raises ``ValueError``.
    """
    n_mels, t = mel.shape
    n_vec = t - n_frames + 1
    if n_vec < 1:
        raise ValueError(f"need at least {n_frames} frames to stack, got {t}")
    parts = [mel[:, k:k + n_vec].T for k in range(n_frames)]
    if isinstance(mel, torch.Tensor):
        return torch.cat(parts, dim=1)
    return np.concatenate(parts, axis=1)
