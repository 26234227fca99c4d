"""On-disk feature cache and the shared cache folder.

Features are stored one file per clip under
``<cache>/features/<params.key()>-ch<channel>/<kk>/<file key>.f32`` (``channel``: the policy
that read the audio, :mod:`asdlab.data.audio`) where the file key hashes the clip's
absolute path, size and modification time (nanoseconds): editing or replacing a WAV changes
its key, so a stale feature is never served. The format is minimal so that a cache hit costs
little more than the read itself: a 28-byte header (``b"AFC1"``, rows, columns as little-endian
uint32, the 16-byte BLAKE2b digest of the payload) and the float32 matrix in C order. Every read
checks the size, the digest and that every value is finite: a damaged entry (cut, overwritten,
NaN) is recomputed with a warning naming the clip. Entries of the older checksum-less format
(``b"AF32"``) cannot be verified: they are recomputed once, silently, and rewritten. Every
write goes to a temporary file first and is moved into place with :func:`os.replace`, so an
interrupted run leaves no half-written entry. A freshly computed feature that is not finite is a
:class:`~asdlab.core.errors.DataError` naming the clip.
"""

from __future__ import annotations

import hashlib
import os
import struct
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import DataError
from asdlab.features import LogMelParams, log_mel_many


def default_cache_dir() -> Path:
    """``$ASDLAB_CACHE`` if set, else ``~/.cache/asdlab``."""
    env = os.environ.get("ASDLAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "asdlab"


def file_key(path: str | os.PathLike) -> str:
    """Identity of a file as it is now: hash of absolute path, size and mtime (ns)."""
    p = os.path.abspath(path)
    st = os.stat(p)
    return hashlib.sha1(f"{p}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()


_HEADER = struct.Struct("<4sII16s")
_MAGIC = b"AFC1"
_OLD_MAGIC = b"AF32"  # the format before checksums: 12-byte header, no digest


class DamagedEntryError(ValueError):
    """A feature-cache entry that fails its checks (the message says which and how)."""


class UncheckedEntryError(DamagedEntryError):
    """An entry of the checksum-less format of earlier versions: it cannot be verified."""


def _digest(payload) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def save_matrix(path: Path, array: np.ndarray) -> None:
    """Write a 2-D float32 ``array`` to ``path`` atomically, with the digest of its bytes."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {a.shape}")
    payload = a.tobytes()

    def write(fh):
        fh.write(_HEADER.pack(_MAGIC, *a.shape, _digest(payload)))
        fh.write(payload)

    atomic_write(path, write, sweep=True)


def load_matrix(path: Path) -> np.ndarray:
    """Read a matrix written by :func:`save_matrix`, ``(rows, cols)`` float32, verified: a cut,
    altered or non-finite entry raises :class:`DamagedEntryError` (:class:`UncheckedEntryError`
    for the old format) saying what is wrong; a missing one ``FileNotFoundError``."""
    with open(path, "rb") as fh:
        buf = bytearray(os.fstat(fh.fileno()).st_size)
        n = fh.readinto(buf)
    if bytes(buf[:4]) == _OLD_MAGIC:
        raise UncheckedEntryError(f"{path}: entry of the old format without a checksum")
    if n < _HEADER.size:
        raise DamagedEntryError(f"{path}: {n} bytes, shorter than the {_HEADER.size}-byte header")
    magic, rows, cols, digest = _HEADER.unpack_from(buf)
    if magic != _MAGIC:
        raise DamagedEntryError(f"{path}: not a feature-cache entry (starts with {magic!r})")
    payload = memoryview(buf)[_HEADER.size:n]
    if len(payload) != rows * cols * 4:
        raise DamagedEntryError(f"{path}: {len(payload)} payload bytes, the header says "
                                f"{rows} x {cols} float32 = {rows * cols * 4}")
    if _digest(payload) != digest:
        raise DamagedEntryError(f"{path}: checksum mismatch (the values changed after writing)")
    out = np.frombuffer(buf, dtype=np.float32, count=rows * cols, offset=_HEADER.size).reshape(rows, cols)
    if not np.isfinite(out).all():
        raise DamagedEntryError(f"{path}: holds NaN or infinite values")
    return out


class FeatureCache:
    """Log-mel features of clips, computed once and then read from disk.

    ``root``: the cache folder (default :func:`default_cache_dir`); ``params``: the log-mel
    parameters (part of the key); ``device``: where extraction runs ("cpu", "cuda");
    ``channel``: the channel policy of the caller's reader (0, 1, "mean"; part of the key).
    """

    def __init__(self, root: str | os.PathLike | None = None, params: LogMelParams = LogMelParams(),
                 device: str = "cpu", channel: int | str = 0):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.params = params
        self.device = device
        self.channel = channel
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / "features" / f"{self.params.key()}-ch{self.channel}" / key[:2] / f"{key}.f32"

    def get_many(self, paths: Sequence[str | os.PathLike], read: Callable) -> tuple[list, list]:
        """Features ``(n_mels, T_i)`` float32 of every path, in order, and the skipped files.

        ``read(paths) -> (waveforms, skipped)`` loads the clips that are not cached yet, with the
        caller's loading policy (:func:`asdlab.data.audio.read_many`): ``waveforms`` holds one
        array per path not listed in ``skipped`` (a list of ``(path, reason)``). Skipped paths get
        ``None``. Missing entries are extracted in batches and saved.
        """
        keys = [file_key(p) for p in paths]
        out: list[np.ndarray | None] = [None] * len(paths)
        todo = []
        for i, k in enumerate(keys):
            try:
                out[i] = load_matrix(self._path(k))
            except FileNotFoundError:
                todo.append(i)
            except UncheckedEntryError:  # old format: recomputed and rewritten, silently
                todo.append(i)
            except DamagedEntryError as err:
                warnings.warn(f"{paths[i]}: damaged feature-cache entry, recomputing it ({err})", stacklevel=2)
                todo.append(i)
        self.hits += len(paths) - len(todo)
        self.misses += len(todo)
        skipped: list = []
        if todo:
            waves, skipped = read([paths[i] for i in todo])
            bad = {str(p) for p, _ in skipped}
            todo = [i for i in todo if str(paths[i]) not in bad]
            feats = log_mel_many(waves, self.params, device=self.device)
            for i, feat in zip(todo, feats, strict=True):
                if not np.isfinite(np.asarray(feat)).all():
                    raise DataError(f"{paths[i]}: its log-mel features hold NaN or infinite values "
                                    "(not cached); the clip cannot be scored")
                save_matrix(self._path(keys[i]), feat)
                out[i] = feat
        return out, skipped
