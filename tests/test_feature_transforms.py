"""Log-mel transforms and segments (asdlab.features.transforms, asdlab.features.segments):
the median filter and per-bin standardisation against direct computations, segment starts and
frame vectors."""

import numpy as np
import pytest
import scipy.ndimage
import torch

from asdlab.core.errors import ConfigError
from asdlab.features import stack_frames
from asdlab.features.frames import standardize
from asdlab.features.segments import frame_vectors, segment_starts
from asdlab.features.transforms import median_filter_time, standardize_clips, standardize_clips_in_place


def test_median_filter_against_direct_computations():
    rng = np.random.default_rng(1)
    mel = rng.normal(size=(3, 40)).astype(np.float32)
    for window in (5, 30):
        left, right = (window - 1) // 2, window // 2
        expected = np.empty_like(mel)
        for b in range(3):
            padded = np.pad(mel[b], (left, right), mode="reflect")
            for t in range(40):
                expected[b, t] = np.median(padded[t:t + window])     # frames t - left ... t + right
        got = median_filter_time(mel, window)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        np.testing.assert_allclose(median_filter_time(mel, window, "subtract"), mel - expected,
                                   rtol=1e-5, atol=1e-6)
    # odd windows are centred: scipy's median filter along time with mirror (= numpy reflect) edges
    np.testing.assert_allclose(median_filter_time(mel, 7),
                               scipy.ndimage.median_filter(mel, size=(1, 7), mode="mirror"), rtol=1e-6)
    # a short spike inside a flat band is removed, a long plateau is kept
    band = np.zeros((1, 100), np.float32)
    band[0, 10:12] = 50.0
    band[0, 50:90] = 5.0
    out = median_filter_time(band, 30)
    assert out[0, 10:12].tolist() == [0.0, 0.0] and out[0, 60:80].tolist() == [5.0] * 20
    with pytest.raises(ConfigError, match="median filter mode"):
        median_filter_time(mel, 5, "minus")


def test_segments_and_frame_vectors():
    assert segment_starts(157, 64, 32) == [0, 32, 64, 93]
    assert segment_starts(128, 64, 32) == [0, 32, 64]
    assert segment_starts(64, 64, 8) == [0]
    x = torch.randn(2, 6, 9)
    v = frame_vectors(x, 5)
    assert v.shape == (2, 5, 30)
    for b in range(2):
        np.testing.assert_array_equal(v[b].numpy(), stack_frames(x[b].numpy(), 5))


def test_segment_starts_refuses_a_clip_shorter_than_a_segment():
    assert segment_starts(100, 100, 30) == [0]
    assert segment_starts(100, 40, 40) == [0, 40, 60]              # the last crop ends at the clip's end
    with pytest.raises(ValueError, match="shorter than one segment of 64: pad it first"):
        segment_starts(63, 64, 32)
    with pytest.raises(ValueError, match="segment and hop must be positive"):
        segment_starts(100, 64, 0)


def test_standardize_clips_uses_every_training_frame_of_clips_of_any_length():
    a = np.array([[0.0, 2.0, 4.0], [1.0, 1.0, 1.0]], np.float32)   # 2 mels, 3 frames
    b = np.array([[6.0], [3.0]], np.float32)                         # 1 frame
    test = np.array([[3.0, 9.0], [2.0, 0.0]], np.float32)
    mean, std, (sa, sb), (st,) = standardize_clips([a, b], [test])
    # bin 0 over 4 frames: 0 2 4 6 -> mean 3, std sqrt(5); bin 1: 1 1 1 3 -> mean 1.5, std sqrt(0.75)
    np.testing.assert_allclose(mean, [3.0, 1.5])
    np.testing.assert_allclose(std, [np.sqrt(5.0), np.sqrt(0.75)], rtol=1e-6)
    assert mean.shape == std.shape == (2,) and sa.dtype == st.dtype == np.float32
    np.testing.assert_allclose(sb[:, 0], [3 / np.sqrt(5.0), 1.5 / np.sqrt(0.75)], rtol=1e-6)
    np.testing.assert_allclose(st[1], [0.5 / np.sqrt(0.75), -1.5 / np.sqrt(0.75)], rtol=1e-6)
    # equal lengths: the same statistics as the fixed-length standardize
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    m2, s2, xs = standardize(x)
    m1, s1, clips = standardize_clips(list(x))
    np.testing.assert_allclose(m1, m2, rtol=1e-6)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
    np.testing.assert_allclose(np.stack(clips), xs, rtol=1e-5, atol=1e-6)


def test_standardize_clips_in_place_overwrites_the_clips_with_the_same_values():
    rng = np.random.default_rng(1)
    train = [rng.normal(-40, 12, (4, int(t))).astype(np.float32) for t in (7, 3, 12)]
    test = [rng.normal(-35, 10, (4, 5)).astype(np.float32)]
    mean, std, want_train, want_test = standardize_clips(train, test)
    got_train, got_test = [m.copy() for m in train], [m.copy() for m in test]
    ids = [id(m) for m in got_train + got_test]
    got_mean, got_std = standardize_clips_in_place(got_train, got_test)
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_std, std)
    for got, want in zip(got_train + got_test, want_train + want_test):
        np.testing.assert_array_equal(got, want)
    assert [id(m) for m in got_train + got_test] == ids  # the same arrays, overwritten
    frames = np.concatenate(train, axis=1).astype(np.float64)  # the statistics of every training frame
    np.testing.assert_allclose(mean, frames.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(std, frames.std(axis=1), rtol=1e-6)
