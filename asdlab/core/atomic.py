"""Atomic file writes: readers see the old file or the complete new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: str | os.PathLike, write: Callable, text: bool = False) -> None:
    """Call ``write(fh)`` on a temporary file next to ``path`` (parents created), then move
    it onto ``path`` with :func:`os.replace`. ``text``: UTF-8 text mode without newline
    translation, else binary. The file gets the mode a plain ``open`` would give (0666 minus the
    umask), so reports can be served. On any error the temporary file is removed and
    ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")) as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
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
