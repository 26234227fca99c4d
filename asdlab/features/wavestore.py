"""The waveforms of a list of clips in one file of the feature cache, read one clip at a time.

A :class:`WaveStore` holds what :func:`asdlab.data.audio.read_audio` gives for each clip (mono
float32 at ``sr`` Hz by the ``channel`` policy), written once from the WAVs and then read with
``os.pread`` per clip, so a run holds the clips of one batch, never the dataset: the paper-scale
factory (8400 clips of 10 s) is 5.4 GB as float32. ``os.pread`` rather than ``numpy.memmap``:
mapped file pages count in a process's resident memory, read ones only in the OS page cache.
Each clip is read into an anonymous mapping of its own, returned to the system when the array
is freed, so clip buffers do not grow the malloc heap that training's tensors reuse.

File: ``<cache>/waves/sr<sr>-ch<channel>/<kk>/<key>.w32``; ``key`` hashes the sample rate, the
channel policy and the file key (absolute path, size, mtime in ns:
:func:`asdlab.features.cache.file_key`) of every clip in order, so editing, replacing, adding or
reordering a clip names another store. Layout: a 48-byte header (``b"AWS1"``, clip count,
index offset, index table and JSON sizes, the 16-byte BLAKE2b digest of the index), the float32
samples of every readable clip back to back, then the index: per clip its offset, length,
silent flag and the digest of its samples, followed by JSON naming the unreadable clips
(skipped with ``skip_unreadable``) and why. Written through a temporary file moved into place
(:func:`asdlab.core.atomic.atomic_write`): a store is whole or absent.

Checks: opening verifies the header, the index digest and the file size; a damaged store is
rebuilt from the WAVs with one warning. Each clip's digest is checked the first time this
process reads it; a damaged clip is read from its WAV instead (same values), with one warning,
and the store is removed so that the next run rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import AudioError
from asdlab.data.audio import SAMPLE_RATE, check_channel, is_silent, read_audio

_MAGIC = b"AWS1"
_HEADER = struct.Struct("<4sIQQQ16s")  # magic, n clips, index offset, table bytes, json bytes, digest
_ENTRY = np.dtype([("offset", "<u8"), ("length", "<u8"), ("silent", "u1"), ("digest", "V16")])


def _digest(data) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class DamagedStoreError(ValueError):
    """A wave store whose header, index or size fails its checks (the message says which)."""


def store_key(paths: Sequence[str | os.PathLike], sr: int = SAMPLE_RATE, channel: int | str = 0) -> str:
    """The store key of ``paths`` (in order) read at ``sr`` Hz with ``channel``: a SHA-1 hex
    digest of each clip's absolute path, size and mtime (a missing file counts as missing)."""
    h = hashlib.sha1(f"AWS1\0{sr}\0{channel}\0{len(paths)}".encode())
    for p in paths:
        a = os.path.abspath(p)
        try:
            st = os.stat(a)
            h.update(f"\0{a}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"\0{a}\0missing".encode())
    return h.hexdigest()


def store_path(root: str | os.PathLike, key: str, sr: int = SAMPLE_RATE, channel: int | str = 0) -> Path:
    """Where the store ``key`` lives in the cache folder ``root``."""
    return Path(root) / "waves" / f"sr{sr}-ch{channel}" / key[:2] / f"{key}.w32"


def build_store(path: str | os.PathLike, paths: Sequence[str | os.PathLike], sr: int = SAMPLE_RATE,
                channel: int | str = 0, skip_unreadable: bool = False) -> None:
    """Read every clip of ``paths`` with :func:`asdlab.data.audio.read_audio` and write the store
    file ``path`` (atomically), one clip in memory at a time. An unreadable clip raises its
    :class:`~asdlab.core.errors.AudioError` unless ``skip_unreadable``; then it is left out and
    named in the store's list of skipped clips."""
    def write(fh):
        fh.write(bytes(_HEADER.size))
        entries, skipped, offset = [], [], _HEADER.size
        for p in paths:
            try:
                wave = read_audio(p, sr, channel)
            except AudioError as err:
                if not skip_unreadable:
                    raise
                skipped.append([str(p), str(err)])
                continue
            data = np.ascontiguousarray(wave, dtype=np.float32).data
            fh.write(data)
            entries.append((offset, len(wave), is_silent(wave), _digest(data)))
            offset += data.nbytes
        table = np.array(entries, dtype=_ENTRY).tobytes()
        meta = json.dumps({"sr": sr, "channel": channel, "skipped": skipped}).encode()
        fh.write(table)
        fh.write(meta)
        fh.seek(0)
        fh.write(_HEADER.pack(_MAGIC, len(entries), offset, len(table), len(meta), _digest(table + meta)))

    atomic_write(path, write, sweep=True)


class WaveStore(Sequence):
    """The clips of a store file as a read-only sequence: ``store[i]`` is clip ``i``'s waveform
    ``(n_i,)`` float32 (a fresh, writable array), read from disk on each access; ``len(store)``
    clips (the readable ones, in order). ``paths``: the readable clips' paths (names them in
    messages); ``lengths`` ``(N,)`` samples and ``silent`` ``(N,)`` bool per clip (from the
    index, without reading samples); ``skipped``: ``(path, reason)`` of the clips left out;
    ``reads``: clips read so far by this object. A damaged file raises :class:`DamagedStoreError`
    here (:func:`open_store` rebuilds it). Picklable: a worker process reopens the file."""

    def __init__(self, path: str | os.PathLike, paths: Sequence[str | os.PathLike] | None = None,
                 sr: int = SAMPLE_RATE, channel: int | str = 0):
        self.path, self.sr, self.channel = Path(path), sr, channel
        self._fd = None
        self._open()
        meta = self._meta
        self.skipped = [(p, reason) for p, reason in meta["skipped"]]
        if paths is None:
            self.paths = None
        else:
            bad = {p for p, _ in self.skipped}
            self.paths = [p for p in paths if str(p) not in bad]
            if len(self.paths) != len(self._index):
                self.close()
                raise DamagedStoreError(f"{self.path}: holds {len(self._index)} clips, the clip list "
                                        f"names {len(self.paths)} readable ones")
        self.lengths = self._index["length"].astype(np.int64)
        self.silent = self._index["silent"].astype(bool)
        self._checked = np.zeros(len(self._index), dtype=bool)
        self._from_wav: set[int] = set()
        self.reads = 0

    def _open(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, _HEADER.size, 0)
            if len(head) < _HEADER.size:
                raise DamagedStoreError(f"{self.path}: {size} bytes, shorter than the {_HEADER.size}-byte header")
            magic, n, index_at, n_table, n_meta, digest = _HEADER.unpack(head)
            if magic != _MAGIC:
                raise DamagedStoreError(f"{self.path}: not a wave store (starts with {magic!r})")
            if size != index_at + n_table + n_meta or n_table != n * _ENTRY.itemsize:
                raise DamagedStoreError(f"{self.path}: {size} bytes, the header says "
                                        f"{index_at + n_table + n_meta} ({n} clips)")
            raw = os.pread(fd, n_table + n_meta, index_at)
            if _digest(raw) != digest:
                raise DamagedStoreError(f"{self.path}: index checksum mismatch")
            index = np.frombuffer(raw, dtype=_ENTRY, count=n)
            ends = index["offset"] + index["length"] * 4
            if n and (index["offset"][0] != _HEADER.size or (ends[:-1] != index["offset"][1:]).any()
                      or ends[-1] != index_at):
                raise DamagedStoreError(f"{self.path}: the index offsets do not tile the samples")
            self._meta = json.loads(raw[n_table:])
        except BaseException:
            os.close(fd)
            raise
        self._index, self._fd = index, fd

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"clip {i} of a store of {len(self)} clips")
        if i in self._from_wav:
            return read_audio(self.paths[i], self.sr, self.channel)
        if self._fd is None:
            self._open()
        offset, length, _, digest = self._index[i].item()
        # an anonymous mapping of its own, unmapped when the array is freed (module docs)
        out = np.frombuffer(mmap.mmap(-1, max(4 * length, 1)), dtype=np.float32, count=length)
        view, done = memoryview(out).cast("B"), 0
        while done < out.nbytes:
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got == 0:
                break
            done += got
        self.reads += 1
        if done != out.nbytes or not self._checked[i] and _digest(view) != digest:
            return self._damaged(i)  # cut short, or changed since it was written
        self._checked[i] = True
        return out

    def _damaged(self, i: int) -> np.ndarray:
        if self.paths is None:
            raise DamagedStoreError(f"{self.path}: clip {i} is cut short or changed since written")
        if not self._from_wav:
            warnings.warn(f"{self.path}: damaged wave store ({self.paths[i]}: cut short or changed since "
                          "written); reading its WAVs instead, the next run rebuilds the store", stacklevel=3)
            self.path.unlink(missing_ok=True)
        self._from_wav.add(i)
        return read_audio(self.paths[i], self.sr, self.channel)

    def close(self) -> None:
        """Close the file (a later read reopens it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fd"] = None
        return state

    def nbytes(self) -> int:
        """The samples' size in bytes (float32): what holding every clip in memory would take."""
        return int(self.lengths.sum()) * 4


def open_store(paths: Sequence[str | os.PathLike], root: str | os.PathLike, sr: int = SAMPLE_RATE,
               channel: int | str = 0, skip_unreadable: bool = False) -> WaveStore:
    """The :class:`WaveStore` of ``paths`` (in order) in the cache folder ``root``: opened when the
    cache holds it, else built from the WAVs (:func:`build_store`); a damaged one is rebuilt with
    one warning naming it. Unreadable clips raise their :class:`~asdlab.core.errors.AudioError`
    unless ``skip_unreadable``; then they are left out and one warning names them all (as
    :func:`asdlab.data.audio.read_many` does), on every open."""
    channel = check_channel(channel)
    path = store_path(root, store_key(paths, sr, channel), sr, channel)
    try:
        store = WaveStore(path, paths, sr, channel)
    except FileNotFoundError:
        store = None
    except DamagedStoreError as err:
        warnings.warn(f"damaged wave store, rebuilding it from the WAVs ({err})", stacklevel=2)
        store = None
    if store is not None and store.skipped and not skip_unreadable:
        store.close()  # built by a run that skipped clips: this one stops at the first
        read_audio(store.skipped[0][0], sr, channel)
        store = None
    if store is None:
        build_store(path, paths, sr, channel, skip_unreadable)
        store = WaveStore(path, paths, sr, channel)
    if store.skipped:
        warnings.warn(f"skipped {len(store.skipped)} unreadable audio file(s):\n"
                      + "\n".join(reason for _, reason in store.skipped), stacklevel=2)
    return store
