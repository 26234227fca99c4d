"""Atomic file writes: readers see the old file or the complete new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from asdlab.core.procs import fault_point, remove_leftovers, temp_prefix


def atomic_write(path: str | os.PathLike, write: Callable, text: bool = False, sweep: bool = False) -> None:
    """Call ``write(fh)`` on a temporary file next to ``path`` (parents created), then move
    it onto ``path`` with :func:`os.replace`. The temporary name, ``.<name>.<pid>.<random>.tmp``,
    carries this process's pid (:func:`asdlab.core.procs.remove_leftovers` removes it once the
    process is dead). ``text``: UTF-8 text mode without newline
    translation, else binary. The file gets the mode a plain ``open`` would give (0666 minus the
    umask), so reports can be served. On any error the temporary file is removed and
    ``path`` is left as it was. ``sweep``: first remove the temporary files of ``path`` that
    dead processes left (one listing of the folder: for folders of modest size, such as the
    feature cache's shards, where an interrupted write is later redone)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        remove_leftovers(path.parent, name=path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        with (os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")) as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        fault_point("atomic_write")  # test hook: killed with the temporary file written
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write the string ``text`` to ``path`` (UTF-8, line ends as given), atomically."""
    atomic_write(path, lambda fh: fh.write(text), text=True)
