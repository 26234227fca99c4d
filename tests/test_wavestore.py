"""The wave store: clips written once into the feature cache and read one at a time
(asdlab.features.wavestore), and the waveform recipes that read it (issue 18, bounded memory)."""

from __future__ import annotations

import os
import pickle
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from asdlab.core.errors import AudioError
from asdlab.data.audio import read_audio, read_many
from asdlab.data.layout import build_clip_table
from asdlab.features.wavestore import DamagedStoreError, WaveStore, open_store, store_key, store_path
from asdlab.runs import run_method


def _clips(tmp_path, n=6, seconds=0.25):
    """``n`` float WAVs of noise, one at 8 kHz (resampled on reading) and one stereo."""
    out = []
    for i in range(n):
        sr, ch = (8000, 1) if i == 1 else (16000, 2 if i == 2 else 1)
        x = np.random.default_rng(i).uniform(-0.5, 0.5, (round(seconds * sr) + i, ch)).astype(np.float32)
        p = tmp_path / "wav" / f"clip{i}.wav"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, x, sr, subtype="FLOAT")
        out.append(str(p))
    return out


def _count_sf_reads(monkeypatch):
    calls = []
    real = sf.read

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(sf, "read", counting)
    return calls


def test_round_trip_equals_what_the_reader_gives(tmp_path):
    paths = _clips(tmp_path)
    store = open_store(paths, tmp_path / "cache")
    assert len(store) == len(paths) and store.skipped == []
    for i, p in enumerate(paths):
        got = store[i]
        assert got.dtype == np.float32 and got.flags.writeable
        np.testing.assert_array_equal(got, read_audio(p))
    # a float mono 16 kHz file: exactly its samples; clip 2 (stereo): its first channel
    np.testing.assert_array_equal(store[0], sf.read(paths[0], dtype="float32")[0])
    np.testing.assert_array_equal(store[2], sf.read(paths[2], dtype="float32")[0][:, 0])
    assert len(store[1]) == 2 * (round(0.25 * 8000) + 1)  # 8 kHz resampled to 16 kHz
    np.testing.assert_array_equal(store[-1], store[len(paths) - 1])
    assert [len(w) for w in store[1:3]] == list(store.lengths[1:3])
    assert store.nbytes() == 4 * sum(len(read_audio(p)) for p in paths)
    with pytest.raises(IndexError, match="clip 6 of a store of 6 clips"):
        store[6]
    mean = open_store(paths, tmp_path / "cache", channel="mean")  # the channel policy is part of the key
    assert mean.path != store.path
    np.testing.assert_array_equal(mean[2], sf.read(paths[2], dtype="float32")[0].mean(axis=1))
    again = pickle.loads(pickle.dumps(store))  # a DataLoader worker reopens the file
    np.testing.assert_array_equal(again[3], store[3])


def test_later_opens_and_epochs_read_no_wav(tmp_path, monkeypatch):
    paths = _clips(tmp_path)
    calls = _count_sf_reads(monkeypatch)
    store = open_store(paths, tmp_path / "cache")
    assert len(calls) == len(paths)  # built: each WAV read once
    for _ in range(2):  # two "epochs"
        [store[i] for i in range(len(store))]
    open_store(paths, tmp_path / "cache")[0]
    assert len(calls) == len(paths)


def test_an_edited_or_reordered_clip_list_names_another_store(tmp_path):
    paths = _clips(tmp_path, n=3)
    key = store_key(paths)
    assert store_key(paths[::-1]) != key and store_key(paths[:2]) != key
    assert store_key(paths, channel=1) != key and store_key(paths, sr=8000) != key
    open_store(paths, tmp_path / "cache")
    sf.write(paths[0], np.zeros(100, np.float32), 16000, subtype="FLOAT")  # replaced: new size
    assert store_key(paths) != key
    np.testing.assert_array_equal(open_store(paths, tmp_path / "cache")[0], np.zeros(100, np.float32))


@pytest.mark.parametrize("damage", ["cut", "index", "magic"])
def test_a_damaged_store_is_rebuilt_with_one_warning(tmp_path, damage):
    paths = _clips(tmp_path)
    path = open_store(paths, tmp_path / "cache").path
    raw = bytearray(path.read_bytes())
    if damage == "cut":
        raw = raw[:-100]
    elif damage == "index":
        raw[-5] ^= 0xFF  # in the JSON part of the index
    else:
        raw[:4] = b"XXXX"
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedStoreError):
        WaveStore(path, paths)
    with pytest.warns(UserWarning, match="damaged wave store, rebuilding it from the WAVs") as record:
        store = open_store(paths, tmp_path / "cache")
    assert len(record) == 1 and str(path) in str(record[0].message)
    for i, p in enumerate(paths):
        np.testing.assert_array_equal(store[i], read_audio(p))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_store(paths, tmp_path / "cache")  # whole again


def test_a_damaged_clip_is_read_from_its_wav_and_the_store_rebuilt_next_time(tmp_path, monkeypatch):
    paths = _clips(tmp_path)
    store = open_store(paths, tmp_path / "cache")
    path = store.path
    raw = bytearray(path.read_bytes())
    offset = int(store._index["offset"][3])
    raw[offset + 8] ^= 0x40  # one sample of clip 3
    path.write_bytes(bytes(raw))
    store = WaveStore(path, paths)  # header and index are whole
    np.testing.assert_array_equal(store[2], read_audio(paths[2]))
    calls = _count_sf_reads(monkeypatch)
    with pytest.warns(UserWarning, match=rf"damaged wave store \({paths[3]}: cut short or changed") as record:
        got = store[3]
    assert len(record) == 1 and list(map(str, calls)) == [paths[3]]
    np.testing.assert_array_equal(got, read_audio(paths[3]))
    assert not path.exists()  # the next run rebuilds it
    np.testing.assert_array_equal(open_store(paths, tmp_path / "cache")[3], read_audio(paths[3]))


def test_a_store_cut_while_open_reads_the_wav(tmp_path):
    paths = _clips(tmp_path)
    store = open_store(paths, tmp_path / "cache")
    np.testing.assert_array_equal(store[5], read_audio(paths[5]))  # checked once
    os.truncate(store.path, int(store._index["offset"][5]) + 10)
    with pytest.warns(UserWarning, match=rf"damaged wave store \({paths[5]}: cut short or changed"):
        np.testing.assert_array_equal(store[5], read_audio(paths[5]))


def test_a_store_larger_than_a_read_budget_streams(tmp_path):
    """80 clips of 1 s (5.1 MB as float32): building, a full pass and an epoch of random batches
    of 8 never hold more than a few clips (numpy's heap allocations are traced by tracemalloc)."""
    paths = _clips(tmp_path, n=80, seconds=1.0)
    clip = 16000 * 4
    tracemalloc.start()
    try:
        store = open_store(paths, tmp_path / "cache")
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = sum(float(w.sum()) for w in store)
        order = np.random.default_rng(0).permutation(len(store))
        shapes = {np.stack([store[i][:16000] for i in order[b:b + 8]]).shape for b in range(0, len(order), 8)}
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.nbytes() > 75 * clip
    assert build_peak < 8 * clip, build_peak  # one clip read, resampled (float64), written at a time
    assert read_peak < 20 * clip, read_peak  # a batch of 8 clips and its stack
    assert store.reads == 2 * len(store)  # one read per access, nothing prefetched
    assert len(pickle.dumps(store)) < clip  # and nothing kept (clip buffers are mappings of their own)
    assert np.isfinite(total) and shapes == {(8, 16000)}


def test_unreadable_clips_are_skipped_and_named_on_every_open(tmp_path):
    paths = _clips(tmp_path, n=4)
    with open(paths[1], "wb") as fh:
        fh.write(b"not audio at all")
    with pytest.raises(AudioError, match="clip1.wav"):
        open_store(paths, tmp_path / "cache")
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"skipped 1 unreadable audio file\(s\):\n.*clip1.wav"):
            store = open_store(paths, tmp_path / "cache", skip_unreadable=True)
        assert len(store) == 3 and [p for p, _ in store.skipped] == [paths[1]]
        assert store.paths == [paths[0], paths[2], paths[3]]
        np.testing.assert_array_equal(store[1], read_audio(paths[2]))
    with pytest.raises(AudioError, match="clip1.wav"):  # a run that does not skip still stops
        open_store(paths, tmp_path / "cache")


def test_the_silent_flags_come_from_the_index(tmp_path):
    paths = _clips(tmp_path, n=3)
    sf.write(paths[2], np.zeros(800, np.float32), 16000, subtype="FLOAT")
    store = open_store(paths, tmp_path / "cache")
    assert store.silent.tolist() == [False, False, True] and store.reads == 0
    assert str(store_path(tmp_path / "cache", store_key(paths))) == str(store.path)


def _list_waveforms(ctx):
    """The waveform loading before the wave store: every clip in a list."""
    table = ctx.table
    out = []
    for split in ("train", "test"):
        rows = table[table["split"] == split]
        waves, skipped = read_many(list(rows["path"]), channel=ctx.channel)
        out += [waves, rows.reset_index(drop=True)]
    return (*out, [])


@pytest.mark.parametrize("method, module, overrides", [
    ("tastgram_noisy_arcmix", "gram_mfn", {"epochs": 2}),
    ("tastgram_ce", "gram_mfn", {"epochs": 1, "crop": "first"}),
    ("sc_noisy_arcmix", "sc_noisy_arcmix", {"epochs": 1, "eval_seconds": None}),
])
def test_smoke_scores_are_identical_to_in_memory_clips_and_epochs_read_no_wav(
        tmp_path, make_dcase_tree, monkeypatch, method, module, overrides):
    import importlib

    data = make_dcase_tree(tmp_path / "d", seconds=1.0, n_train=4, n_test=1)
    n_clips = 2 * (5 + 4)
    calls = _count_sf_reads(monkeypatch)
    kw = dict(preset="smoke", overrides=overrides, progress=False, device="cpu", cache_dir=tmp_path / "c")
    run = run_method(method, data, tmp_path / "store", **kw)
    assert len(calls) == n_clips  # the store is built from each WAV once; no epoch reads a WAV
    run_method(method, data, tmp_path / "store2", **kw)
    assert len(calls) == n_clips  # a later run reads the store
    monkeypatch.setattr(importlib.import_module(f"asdlab.methods.{module}"), "train_test_waveforms", _list_waveforms)
    ref = run_method(method, data, tmp_path / "lists", **kw)
    for name in ("scores.csv", "train_scores.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(run / name), pd.read_csv(ref / name), check_exact=True)
    np.testing.assert_array_equal(np.load(run / "embeddings.npy"), np.load(ref / "embeddings.npy"))


def test_a_cold_feature_cache_reads_clips_in_chunks_with_the_same_features(tmp_path, make_dcase_tree, monkeypatch):
    from asdlab.data import audio
    from asdlab.features.frames import fix_frames, standardize
    from asdlab.methods import pipeline
    from asdlab.methods.pipeline import RunContext, fixed_log_mels, log_mels

    data = make_dcase_tree(tmp_path / "d", seconds=0.5, n_train=4, n_test=1)
    table = build_clip_table(data)
    bad = table["path"].iloc[[3, 12]].tolist()
    for p in bad:
        with open(p, "wb") as fh:
            fh.write(b"not audio")
    ctx = lambda c: RunContext(table=table, params={"n_fft": 1024, "hop": 512, "n_mels": 32, "frames": None},
                               seed=0, workdir=tmp_path / "w", cache_dir=tmp_path / c, device="cpu",
                               skip_unreadable=True)
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        whole, skipped_whole = log_mels(table, ctx("c1"))
    sizes, real = [], audio.read_many
    monkeypatch.setattr(audio, "read_many", lambda paths, **kw: (sizes.append(len(paths)), real(paths, **kw))[1])
    monkeypatch.setattr(pipeline, "LOG_MEL_CHUNK", 5)
    with pytest.warns(UserWarning) as record:
        chunked, skipped = log_mels(table, ctx("c2"))
    messages = [str(w.message) for w in record if "unreadable" in str(w.message)]
    assert len(messages) == 1 and all(p in messages[0] for p in bad)  # one warning for every chunk's
    assert max(sizes) == 5 and sum(sizes) == len(table)
    assert [str(p) for p, _ in skipped] == [str(p) for p, _ in skipped_whole] == bad
    assert [f is None for f in chunked] == [f is None for f in whole]
    for a, b in zip(whole, chunked):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    # fixed_log_mels fills its arrays clip by clip: equal to stacking, then splitting
    with pytest.warns(UserWarning):
        got = fixed_log_mels(ctx("c2"), "test")
    feats = [f for f in whole if f is not None]
    is_train = (table["split"][[f is not None for f in whole]] == "train").to_numpy()
    x = np.stack([fix_frames(f, got.x_train.shape[2]) for f in feats])
    mean, std, x_train, x_test = standardize(x[is_train], x[~is_train])
    for a, b in ((got.x_train, x_train), (got.x_test, x_test), (got.mean, mean), (got.std, std)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    # reduce: each log-mel reduced as it is loaded, on a cold cache (chunks) and a warm one
    for cache in ("c3", "c2"):
        with pytest.warns(UserWarning, match="skipped 2 unreadable"):
            means, _ = log_mels(table, ctx(cache), reduce=lambda m: m.mean(axis=1))
        assert [f is None for f in means] == [f is None for f in whole]
        for a, b in zip(whole, means):
            if a is not None:
                np.testing.assert_array_equal(a.mean(axis=1), b)


def test_log_mels_flags_a_silent_training_clip_before_reducing_it(tmp_path, make_dcase_tree):
    import soundfile as sf

    from asdlab.methods.pipeline import RunContext, log_mels

    data = make_dcase_tree(tmp_path / "d", seconds=0.5, n_train=3, n_test=1)
    table = build_clip_table(data)
    silent = table.loc[table["split"] == "train", "path"].iloc[1]
    sf.write(silent, np.zeros(8000, np.float32), 16000)
    ctx = RunContext(table=table, params={"n_fft": 1024, "hop": 512, "n_mels": 32}, seed=0,
                     workdir=tmp_path / "w", cache_dir=tmp_path / "c", device="cpu")
    with pytest.warns(UserWarning, match=r"1 silent \(all-zero\) training clip") as record:
        feats, _ = log_mels(table, ctx, reduce=lambda m: float(m.mean()))
    assert str(silent) in str(record[0].message) and all(isinstance(f, float) for f in feats)
