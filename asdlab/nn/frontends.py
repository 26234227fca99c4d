"""Front ends of the STgram-MFN / TASTgram-MFN family: Sgram, Tgram, TAgram and their stacks.

Stateless functions (:func:`time_layer_norm`, :func:`tagram`) sit next to thin ``nn.Module``
wrappers. Every front end takes a batch of waveforms ``(B, n)`` at ``mel.sr`` and returns frames
on the same grid as the centred log-mel: ``T = 1 + n // hop`` (313 for 10 s at 16 kHz, hop 512).

Length-agnostic Tgram: the references normalise over time with ``nn.LayerNorm(313)``, whose
element-wise affine has one weight per frame, so only 10 s clips fit. Here the normalisation is
over the current time axis of each (example, channel) row whatever ``T`` is, followed by an
optional learnable affine per CHANNEL (one weight and bias per mel-like channel) instead of per
frame: a per-frame affine has no meaning once clips have different lengths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asdlab.features import LogMelParams, log_mel

STGRAM_MEL = LogMelParams(n_fft=1024, hop=512, n_mels=128)
"""Sgram of STgram-MFN: 128 mels, n_fft 1024, hop 512 (16 kHz)."""

TASTGRAM_MEL = LogMelParams(n_fft=2048, hop=512, n_mels=128)
"""Sgram of the Noisy-ArcMix reference (TASTgram-MFN): 128 mels, n_fft 2048, hop 512."""


def time_layer_norm(x: torch.Tensor, weight: torch.Tensor | None = None,
                    bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each ``(example, channel)`` row of ``x: (B, C, T)`` over time (zero mean, unit
    variance over its ``T`` frames), then apply the per-channel affine ``weight, bias: (C,)``
    when given. Returns ``(B, C, T)``; any ``T`` works."""
    y = F.layer_norm(x, (x.shape[-1],), eps=eps)
    if weight is not None:
        y = y * weight[:, None]
    if bias is not None:
        y = y + bias[:, None]
    return y


def tagram(logmel: torch.Tensor) -> torch.Tensor:
    """Temporally attended log-mel (TAgram), parameter-free.

    ``logmel: (B, M, T)`` in dB. Per frame ``t``: ``a_t = sigmoid(max_m X[m, t] + mean_m X[m, t])``
    and the output is ``a_t * X[:, t]``, i.e. the attention broadcast over the mel bins and
    multiplied into the log-mel itself. Returns ``(B, M, T)``.
    """
    gate = torch.sigmoid(logmel.amax(dim=-2, keepdim=True) + logmel.mean(dim=-2, keepdim=True))
    return gate * logmel


class TimeLayerNorm(nn.Module):
    """:func:`time_layer_norm` with a learnable per-channel affine (``affine=True``: weight 1,
    bias 0 at init; ``2 * channels`` parameters). ``(B, C, T) -> (B, C, T)``."""

    def __init__(self, channels: int, affine: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return time_layer_norm(x, self.weight, self.bias, self.eps)


class Sgram(nn.Module):
    """Log-mel spectrogram in dB (:func:`asdlab.features.log_mel`), no parameters.

    ``forward(wave: (B, n)) -> (B, mel.n_mels, 1 + n // mel.hop)``.
    """

    def __init__(self, mel: LogMelParams = TASTGRAM_MEL):
        super().__init__()
        self.mel = mel

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return log_mel(wave, self.mel)


class Tgram(nn.Module):
    """Learned temporal front end of STgram (TgramNet).

    ``Conv1d(1 -> n_mels, kernel win_length, stride hop, padding win_length // 2, no bias)`` on
    the raw wave, then ``n_layers`` x [:class:`TimeLayerNorm`, LeakyReLU(0.2),
    ``Conv1d(n_mels -> n_mels, 3, padding 1, no bias)``]. Defaults: 128 channels, window 1024,
    hop 512, 3 layers. ``forward(wave: (B, n)) -> (B, n_mels, 1 + n // hop)``: the same frame grid
    as :class:`Sgram` with the same hop (``win_length`` even).
    """

    def __init__(self, n_mels: int = 128, win_length: int = 1024, hop: int = 512,
                 n_layers: int = 3, affine: bool = True):
        super().__init__()
        if win_length % 2:
            raise ValueError(f"win_length must be even to match the log-mel frames, got {win_length}")
        self.extractor = nn.Conv1d(1, n_mels, win_length, hop, win_length // 2, bias=False)
        self.encoder = nn.Sequential(*[
            nn.Sequential(TimeLayerNorm(n_mels, affine), nn.LeakyReLU(0.2),
                          nn.Conv1d(n_mels, n_mels, 3, 1, 1, bias=False))
            for _ in range(n_layers)])

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.extractor(wave.unsqueeze(1)))


class TAgram(nn.Module):
    """:func:`tagram` as a module (no parameters): ``(B, M, T) -> (B, M, T)``."""

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return tagram(logmel)


class _GramStack(nn.Module):
    """An Sgram and a Tgram over the same mel grid; subclasses choose the stacked channels.

    ``forward(wave: (B, n), logmel: (B, M, T) | None = None)``: ``logmel`` replaces the Sgram
    computed from ``wave`` (mixup mixes the log-mels directly, as the reference does).
    """

    out_channels: int

    def __init__(self, mel: LogMelParams, tgram_win_length: int = 1024, tgram_affine: bool = True):
        super().__init__()
        self.sgram = Sgram(mel)
        self.tgram = Tgram(mel.n_mels, tgram_win_length, mel.hop, affine=tgram_affine)

    def channels(self, wave: torch.Tensor, sgram: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, wave: torch.Tensor, logmel: torch.Tensor | None = None) -> torch.Tensor:
        s = self.sgram(wave) if logmel is None else logmel
        return torch.stack(self.channels(wave, s), dim=1)


class STgram(_GramStack):
    """STgram: channels ``[Sgram, Tgram]`` (the order of the STgram-MFN reference),
    ``(B, n) -> (B, 2, M, T)``. Defaults: :data:`STGRAM_MEL`, Tgram window 1024."""

    out_channels = 2

    def __init__(self, mel: LogMelParams = STGRAM_MEL, tgram_win_length: int = 1024,
                 tgram_affine: bool = True):
        super().__init__(mel, tgram_win_length, tgram_affine)

    def channels(self, wave, sgram):
        return [sgram, self.tgram(wave)]


class TASTgram(_GramStack):
    """TASTgram: channels ``[Tgram, Sgram, TAgram(Sgram)]`` (the Noisy-ArcMix reference order),
    ``(B, n) -> (B, 3, M, T)``; the TAgram is computed from the Sgram used. Defaults:
    :data:`TASTGRAM_MEL`, Tgram window 1024."""

    out_channels = 3

    def __init__(self, mel: LogMelParams = TASTGRAM_MEL, tgram_win_length: int = 1024,
                 tgram_affine: bool = True):
        super().__init__(mel, tgram_win_length, tgram_affine)

    def channels(self, wave, sgram):
        return [self.tgram(wave), sgram, tagram(sgram)]
