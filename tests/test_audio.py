import numpy as np
import pytest
import soundfile as sf

from asdlab.data.audio import SAMPLE_RATE, fix_length, load_clip, read_audio, read_many
from asdlab.core.errors import AudioError


def test_mono_16k_int16_is_scaled(tmp_path):
    ints = np.array([-32768, -16384, 0, 16384, 32767], dtype=np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, ints, SAMPLE_RATE, subtype="PCM_16")
    wave = read_audio(path)
    assert wave.dtype == np.float32 and wave.shape == (5,)
    np.testing.assert_array_equal(wave, ints / 32768.0)


def test_stereo_is_averaged_under_the_mean_policy(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 1600)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([x, -x], axis=1), SAMPLE_RATE, subtype="FLOAT")
    wave = read_audio(path, channel="mean")
    assert wave.shape == (1600,)
    np.testing.assert_allclose(wave, 0.0, atol=1e-7)
    sf.write(path, np.stack([x, np.zeros_like(x)], axis=1), SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(path, channel="mean"), x / 2, atol=1e-7)
    np.testing.assert_allclose(read_audio(path), x, atol=1e-7)  # default: channel 0


@pytest.mark.parametrize("file_sr", [44100, 48000, 8000])
def test_resampled_to_16k_keeps_length_and_frequency(tmp_path, file_sr):
    t = np.arange(2 * file_sr) / file_sr  # 2 s
    path = tmp_path / f"sine_{file_sr}.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 1000.0 * t), file_sr, subtype="FLOAT")
    wave = read_audio(path)
    assert wave.shape == (2 * SAMPLE_RATE,) and wave.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(wave))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(wave)
    assert peak_hz == pytest.approx(1000.0, abs=1.0)
    assert np.abs(wave[1000:-1000]).max() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("subtype, tol", [("PCM_U8", 1 / 128), ("PCM_24", 1e-6),
                                          ("PCM_32", 1e-8), ("FLOAT", 1e-7), ("DOUBLE", 1e-7)])
def test_sample_formats(tmp_path, subtype, tol):
    x = np.linspace(-0.9, 0.9, 801)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, SAMPLE_RATE, subtype=subtype)
    assert sf.info(path).subtype == subtype
    wave = read_audio(path)
    assert wave.dtype == np.float32
    np.testing.assert_allclose(wave, x, atol=tol)


@pytest.mark.parametrize("seconds", [7.9, 10.0, 11.0, 12.0])
def test_clip_lengths(tmp_path, write_wav, seconds):
    path = write_wav(tmp_path / "clip.wav", seconds)
    assert read_audio(path).shape == (round(seconds * SAMPLE_RATE),)
    assert load_clip(path).shape == (round(seconds * SAMPLE_RATE),)
    assert load_clip(path, seconds=10).shape == (10 * SAMPLE_RATE,)


def test_fix_length_tiles_short_clips():
    wave = np.arange(4, dtype=np.float32)
    out = fix_length(wave, 10)
    np.testing.assert_array_equal(out, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(fix_length(wave, 10, "random", rng), out)
    np.testing.assert_array_equal(fix_length(wave, 4), wave)


def test_fix_length_crops_long_clips():
    wave = np.arange(100, dtype=np.float32)
    np.testing.assert_array_equal(fix_length(wave, 30), wave[:30])
    offsets = set()
    for seed in range(20):
        out = fix_length(wave, 30, "random", np.random.default_rng(seed))
        assert out.shape == (30,)
        np.testing.assert_array_equal(out, wave[int(out[0]):int(out[0]) + 30])
        again = fix_length(wave, 30, "random", np.random.default_rng(seed))
        np.testing.assert_array_equal(out, again)  # seeded rng: reproducible
        offsets.add(int(out[0]))
    assert len(offsets) > 5 and max(offsets) <= 70


def test_fix_length_bad_arguments():
    wave = np.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="rng"):
        fix_length(wave, 5, "random")
    with pytest.raises(ValueError, match="mode"):
        fix_length(wave, 5, "centre")
    with pytest.raises(ValueError):
        fix_length(wave[:0], 5)


def test_load_clip_random_crop_is_reproducible(tmp_path, write_wav):
    path = write_wav(tmp_path / "long.wav", 1.5)
    a = load_clip(path, seconds=1.0, mode="random", rng=np.random.default_rng(7))
    b = load_clip(path, seconds=1.0, mode="random", rng=np.random.default_rng(7))
    full = read_audio(path)
    np.testing.assert_array_equal(a, b)
    offset = int(np.flatnonzero(np.isclose(full, a[0]))[0])
    np.testing.assert_array_equal(a, full[offset:offset + SAMPLE_RATE])


def _truncated(tmp_path, write_wav):
    path = write_wav(tmp_path / "truncated.wav", 0.5)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _header_only(tmp_path, write_wav):
    path = write_wav(tmp_path / "header_cut.wav", 0.5)
    path.write_bytes(path.read_bytes()[:30])
    return path


def _zero_length(tmp_path, write_wav):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    return path


def _zero_samples(tmp_path, write_wav):
    path = tmp_path / "no_samples.wav"
    sf.write(path, np.zeros(0), SAMPLE_RATE, subtype="PCM_16")
    return path


def _text(tmp_path, write_wav):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not audio\n" * 20)
    return path


def _corrupt_header(tmp_path, write_wav):
    path = write_wav(tmp_path / "corrupt.wav", 0.2)
    data = bytearray(path.read_bytes())
    data[8:16] = b"JUNKJUNK"  # "WAVEfmt " destroyed
    path.write_bytes(bytes(data))
    return path


def _bad_fmt(tmp_path, write_wav):
    path = write_wav(tmp_path / "bad_fmt.wav", 0.2)
    data = bytearray(path.read_bytes())
    data[20:36] = bytes(16)  # fmt chunk zeroed: no format, no channels, no rate
    path.write_bytes(bytes(data))
    return path


def _nan(tmp_path, write_wav):
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.1, np.nan, 0.2]), SAMPLE_RATE, subtype="FLOAT")
    return path


def _missing(tmp_path, write_wav):
    return tmp_path / "missing.wav"


@pytest.mark.parametrize("make, reason", [
    (_truncated, "truncated"), (_header_only, "header"), (_zero_length, "empty"),
    (_zero_samples, "no samples"), (_text, "not a readable audio file"),
    (_corrupt_header, "corrupt"), (_bad_fmt, "not a readable audio file"), (_nan, "NaN"),
    (_missing, "not found")])
def test_unreadable_files_raise_audio_error_naming_the_file(tmp_path, write_wav, make, reason):
    path = make(tmp_path, write_wav)
    with pytest.raises(AudioError) as exc:
        read_audio(path)
    assert path.name in str(exc.value) and reason in str(exc.value)


def test_truncated_wav_is_read_partially_by_libsndfile(tmp_path, write_wav):
    """Why read_audio checks the data chunk size itself."""
    path = _truncated(tmp_path, write_wav)
    assert sf.read(path)[0].shape[0] < 0.5 * SAMPLE_RATE


def test_read_many_raises_or_skips_with_one_warning(tmp_path, write_wav):
    good = [write_wav(tmp_path / f"ok{i}.wav", 0.1, seed=i) for i in range(2)]
    bad = [_text(tmp_path, write_wav), _truncated(tmp_path, write_wav)]
    paths = [good[0], bad[0], good[1], bad[1]]
    with pytest.raises(AudioError, match=bad[0].name):
        read_many(paths)

    with pytest.warns(UserWarning) as record:
        waves, skipped = read_many(paths, skip_unreadable=True)
    assert len(record) == 1
    message = str(record[0].message)
    assert "2 unreadable" in message and all(p.name in message for p in bad)
    assert [p for p, _ in skipped] == bad
    assert all(p.name in reason for p, reason in skipped)
    assert len(waves) == 2
    np.testing.assert_array_equal(waves[1], read_audio(good[1]))


def test_read_many_all_good_no_warning(tmp_path, write_wav, recwarn):
    paths = [write_wav(tmp_path / f"ok{i}.wav", 0.1, seed=i) for i in range(3)]
    waves, skipped = read_many(paths, skip_unreadable=True)
    assert [w.shape for w in waves] == [(1600,)] * 3 and skipped == []
    assert len(recwarn) == 0


def test_wav_with_odd_sized_extra_chunk(tmp_path, write_wav):
    """Chunks before ``data`` are skipped with their pad byte; the data check still applies."""
    path = write_wav(tmp_path / "plain.wav", 0.1)
    data = path.read_bytes()
    fmt_end = 12 + 8 + int.from_bytes(data[16:20], "little")
    extra = b"LIST" + (3).to_bytes(4, "little") + b"abc" + b"\0"
    body = data[12:fmt_end] + extra + data[fmt_end:]
    path.write_bytes(b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body)
    np.testing.assert_array_equal(read_audio(path), read_audio(write_wav(tmp_path / "b.wav", 0.1)))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(AudioError, match="truncated"):
        read_audio(path)
