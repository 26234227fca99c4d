import numpy as np
import pytest
import torch

from asdlab.features import LogMelParams, log_mel, log_mel_many, stack_frames
from asdlab.features.frames import RowsOf, StackedFrames


def _noise(seconds=2.0, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32)


def test_log_mel_matches_the_official_librosa_features():
    librosa = pytest.importorskip("librosa")
    x = _noise(3.0)
    ours = log_mel(x).numpy()
    mel = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=1024, hop_length=512, n_mels=128, power=2.0)
    ref = 20.0 / 2.0 * np.log10(mel + np.finfo(float).eps)
    assert ours.shape == ref.shape == (128, 1 + len(x) // 512)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_frame_count_is_313_for_ten_seconds_and_batches_agree():
    p = LogMelParams()
    assert p.n_frames(160000) == 313
    a, b = _noise(1.0, 1), _noise(1.0, 2)
    batch = log_mel(torch.from_numpy(np.stack([a, b])))
    np.testing.assert_allclose(batch[1].numpy(), log_mel(b).numpy(), atol=1e-4)


def test_log_mel_many_keeps_order_across_lengths():
    waves = [_noise(1.0, 0), _noise(0.5, 1), _noise(1.0, 2)]
    feats = log_mel_many(waves, batch_size=1)
    for w, f in zip(waves, feats):
        np.testing.assert_allclose(f, log_mel(w).numpy(), atol=1e-4)


def test_params_key_changes_with_any_parameter():
    assert LogMelParams().key() == LogMelParams().key()
    assert LogMelParams().key() != LogMelParams(n_fft=2048).key()


def test_stacked_frames_take_equals_stack_frames_of_each_clip():
    rng = np.random.default_rng(3)
    mels = [rng.normal(size=(3, t)).astype(np.float32) for t in (5, 9, 6, 12)]  # 1, 5, 2, 8 vectors
    frames = StackedFrames(mels, 5)
    every = np.concatenate([stack_frames(m, 5) for m in mels])
    assert len(frames) == 16 and frames.dim == 15 and list(frames.counts) == [1, 5, 2, 8]
    np.testing.assert_array_equal(frames.take(np.arange(16)), every)
    np.testing.assert_array_equal(frames.take([15, 0, 6, 6]), every[[15, 0, 6, 6]])  # any order, repeats
    assert frames.take([]).shape == (0, 15)
    with pytest.raises(ValueError, match="at least 5 frames"):
        StackedFrames([mels[0][:, :4]], 5)
    assert len(StackedFrames([], 5)) == 0


def test_rows_of_slices_like_the_concatenation():
    a, b, c = (np.arange(n * 2, dtype=np.float32).reshape(n, 2) + 100 * k for k, n in enumerate((3, 0, 4)))
    rows, whole = RowsOf(a, b, c), np.concatenate([a, b, c])
    assert len(rows) == 7 and rows.shape == (7, 2)
    for lo, hi in ((0, 7), (0, 3), (2, 5), (3, 7), (5, 6), (6, 20), (4, 4), (-3, None)):
        np.testing.assert_array_equal(rows[lo:hi], whole[lo:hi])
    assert np.shares_memory(rows[1:3], a)  # within one part: a view, no copy
    with pytest.raises(ValueError, match="step 1"):
        rows[::2]


def test_stack_frames_is_frame_major_like_the_baseline():
    mel = np.arange(3 * 7, dtype=np.float32).reshape(3, 7)  # 3 mels, 7 frames
    v = stack_frames(mel, n_frames=5)
    assert v.shape == (3, 15)
    np.testing.assert_array_equal(v[1], np.concatenate([mel[:, 1], mel[:, 2], mel[:, 3], mel[:, 4], mel[:, 5]]))
    torch.testing.assert_close(stack_frames(torch.from_numpy(mel), 5), torch.from_numpy(v))
    with pytest.raises(ValueError, match="at least 5 frames"):
        stack_frames(mel[:, :4], 5)
