import math

import numpy as np
import pytest
import torch

from asdlab.features import LogMelParams, log_mel
from asdlab.nn.frontends import (
    STGRAM_MEL,
    TASTGRAM_MEL,
    Sgram,
    STgram,
    TAgram,
    TASTgram,
    Tgram,
    tagram,
    time_layer_norm,
)

SR = 16000


def _waves(seconds, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, round(seconds * SR), generator=g)


@pytest.mark.parametrize("seconds", [2.0, 7.9, 10.0, 12.0])
def test_tgram_takes_any_clip_length_on_the_sgram_frame_grid(seconds):
    wave = _waves(seconds)
    out = Tgram()(wave)
    n_frames = 1 + wave.shape[1] // 512
    assert out.shape == (2, 128, n_frames)
    assert torch.isfinite(out).all()
    for mel in (STGRAM_MEL, TASTGRAM_MEL):
        assert Sgram(mel)(wave).shape == out.shape


def test_tgram_parameters_do_not_depend_on_clip_length():
    # 1024-tap extractor + 3 x (3-tap conv + per-channel affine): no per-frame parameter
    n = sum(p.numel() for p in Tgram().parameters())
    assert n == 128 * 1024 + 3 * (128 * 128 * 3 + 2 * 128)
    assert sum(p.numel() for p in Tgram(affine=False).parameters()) == 128 * 1024 + 3 * 128 * 128 * 3


def test_time_layer_norm_normalises_each_row_over_time_then_applies_channel_affine():
    x = 3.0 + 5.0 * torch.randn(2, 4, 37, generator=torch.Generator().manual_seed(1))
    y = time_layer_norm(x)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(y.var(-1, unbiased=False), torch.ones(2, 4), atol=1e-3)
    w, b = torch.tensor([1.0, 2.0, -1.0, 0.5]), torch.tensor([0.0, 1.0, 2.0, -3.0])
    expected = y * w[:, None] + b[:, None]
    assert torch.allclose(time_layer_norm(x, w, b), expected, atol=1e-6)


def test_tagram_equals_its_formula():
    x = np.random.default_rng(0).normal(0.0, 0.7, (2, 6, 5)).astype(np.float32)
    expected = np.empty_like(x)
    for b in range(2):
        for t in range(5):
            frame = x[b, :, t]
            gate = 1.0 / (1.0 + math.exp(-(frame.max() + frame.mean())))
            expected[b, :, t] = gate * frame
    got = tagram(torch.from_numpy(x))
    assert np.allclose(got.numpy(), expected, atol=1e-6)
    assert torch.equal(TAgram()(torch.from_numpy(x)), got)
    assert list(TAgram().parameters()) == []


def test_sgram_is_the_log_mel_with_its_parameters():
    wave = _waves(1.0)
    assert torch.allclose(Sgram()(wave), log_mel(wave, LogMelParams(n_fft=2048)))
    assert STGRAM_MEL.n_fft == 1024 and TASTGRAM_MEL.n_fft == 2048
    assert STGRAM_MEL.hop == TASTGRAM_MEL.hop == 512 and STGRAM_MEL.n_mels == 128


def test_stgram_stacks_sgram_then_tgram():
    wave = _waves(2.0)
    fe = STgram()
    out = fe(wave)
    assert out.shape == (2, 2, 128, 63) and fe.out_channels == 2
    assert torch.allclose(out[:, 0], log_mel(wave, STGRAM_MEL))
    assert torch.allclose(out[:, 1], fe.tgram(wave))


def test_tastgram_stacks_tgram_sgram_tagram_and_uses_a_given_log_mel():
    wave = _waves(2.0)
    fe = TASTgram()
    out = fe(wave)
    assert out.shape == (2, 3, 128, 63) and fe.out_channels == 3
    s = log_mel(wave, TASTGRAM_MEL)
    assert torch.allclose(out[:, 0], fe.tgram(wave))
    assert torch.allclose(out[:, 1], s)
    assert torch.allclose(out[:, 2], tagram(s))
    other = torch.randn_like(s)
    given = fe(wave, other)
    assert torch.equal(given[:, 1], other) and torch.allclose(given[:, 2], tagram(other))


def test_odd_tgram_window_is_refused():
    with pytest.raises(ValueError, match="even"):
        Tgram(win_length=1023)
