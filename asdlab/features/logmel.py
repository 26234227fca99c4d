"""Spectral features: log-mel spectrograms and frame stacking.

The log-mel follows the official DCASE baseline (librosa): Hann window of ``n_fft`` samples,
centred frames with zero padding, Slaney mel scale with Slaney area normalisation (torchaudio's
filterbank), power 2, then ``20 / power * log10(mel + eps)`` = dB with ``eps`` = machine
epsilon. It is computed batched with torch, on whatever device the input tensor lives on.
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
def _mel_basis(params: LogMelParams, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Hann window ``(n_fft,)`` and Slaney mel filterbank ``(n_fft // 2 + 1, n_mels)``."""
    fb = torchaudio.functional.melscale_fbanks(
        n_freqs=params.n_fft // 2 + 1, f_min=params.f_min,
        f_max=params.f_max if params.f_max is not None else params.sr / 2,
        n_mels=params.n_mels, sample_rate=params.sr, norm="slaney", mel_scale="slaney")
    return torch.hann_window(params.n_fft, device=device), fb.to(device)


def mel_power(wave: torch.Tensor, params: LogMelParams = LogMelParams()) -> torch.Tensor:
    """Mel spectrogram ``|STFT|^power`` projected on the mel filterbank, no log.

    ``wave``: ``(..., n)`` float32. Returns ``(..., n_mels, T)``. The power is taken from
    ``re^2 + im^2`` on the real and imaginary views (no complex ``abs``, no stacked real view):
five times faster on CPU.
    """
    window, fb = _mel_basis(params, str(wave.device))
    shape = wave.shape
    spec = torch.stft(wave.reshape(-1, shape[-1]), params.n_fft, params.hop, window=window,
                      center=True, pad_mode="constant", return_complex=True)
    power = spec.real.square().add_(spec.imag.square())  # (B, F, T)
    if params.power != 2.0:
        power = power.pow(params.power / 2.0)
    mel = torch.matmul(power.transpose(1, 2), fb).transpose(1, 2)
    return mel.reshape(*shape[:-1], params.n_mels, mel.shape[-1])


def log_mel(wave: torch.Tensor | np.ndarray, params: LogMelParams = LogMelParams()) -> torch.Tensor:
    """Log-mel spectrogram in dB: ``20 / power * log10(mel + eps)``.

    ``wave``: float waveform ``(n,)`` or batch ``(B, n)`` at ``params.sr``.
    Returns ``(n_mels, T)`` or ``(B, n_mels, T)`` float32 with ``T = 1 + n // hop``, on the
    input's device.
    """
    mel = mel_power(torch.as_tensor(wave, dtype=torch.float32), params)
    return mel.add_(EPS).log10_().mul_(20.0 / params.power)


def log_mel_many(
    waves: list[np.ndarray], params: LogMelParams = LogMelParams(), device: str = "cpu",
    batch_size: int | None = None,
) -> list[np.ndarray]:
    """Log-mels of many clips, batched by equal length; returns ``(n_mels, T_i)`` float32 arrays
    in input order. ``batch_size`` default: 8 on CPU (larger batches of 10 s clips overflow the
    CPU caches and run twice slower per clip), 64 on a GPU."""
    if batch_size is None:
        batch_size = 8 if torch.device(device).type == "cpu" else 64
    out: list[np.ndarray | None] = [None] * len(waves)
    for chunk, batch in length_batches(waves, batch_size):
        mels = log_mel(torch.from_numpy(batch).to(device), params).cpu().numpy()
        for i, m in zip(chunk, mels):
            out[i] = m
    return out  # type: ignore[return-value]


def length_batches(waves: list[np.ndarray], batch_size: int):
    """Yield ``(indices, batch)``: clips of equal length stacked ``(b, n_samples)``, at most
    ``batch_size`` at a time, with their positions in ``waves``."""
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(waves):
        by_len.setdefault(len(w), []).append(i)
    for idx in by_len.values():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start:start + batch_size]
            yield chunk, np.stack([waves[i] for i in chunk])


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
