"""On-disk feature cache and the shared cache folder.

Features are stored one file per clip under
``<cache>/features/<params.key()>-ch<channel>/<kk>/<file key>.f32`` (``channel``: the policy
that read the audio, :mod:`asdlab.data.audio`) where the file key hashes the clip's
absolute path, size and modification time (nanoseconds): editing or replacing a WAV changes
its key, so a stale feature is never served. The format is minimal so that a cache hit costs
little more than the read itself: a 12-byte header (``b"AF32"``, rows, columns as little-endian
uint32) and the float32 matrix in C order. Every write goes to a temporary file first and is
moved into place with :func:`os.replace`, so an interrupted run leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from asdlab.core.atomic import atomic_write
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


_HEADER = struct.Struct("<4sII")
_MAGIC = b"AF32"


def save_matrix(path: Path, array: np.ndarray) -> None:
    """Write a 2-D float32 ``array`` to ``path`` atomically."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {a.shape}")

    def write(fh):
        fh.write(_HEADER.pack(_MAGIC, *a.shape))
        fh.write(a.tobytes())

    atomic_write(path, write)


def load_matrix(path: Path) -> np.ndarray:
    """Read a matrix written by :func:`save_matrix`; a damaged entry raises ``ValueError``."""
    with open(path, "rb") as fh:
        magic, rows, cols = _HEADER.unpack(fh.read(_HEADER.size))
        out = np.empty((rows, cols), dtype=np.float32)
        if magic != _MAGIC or fh.readinto(out) != out.nbytes:
            raise ValueError(f"{path}: damaged feature-cache entry; delete it to recompute")
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
            f = self._path(k)
            try:
                out[i] = load_matrix(f)
            except FileNotFoundError:
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
                save_matrix(self._path(keys[i]), feat)
                out[i] = feat
        return out, skipped
