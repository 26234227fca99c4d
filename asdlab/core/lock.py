"""An exclusive lock on a folder that one process writes (a run folder, a report folder).

``with folder_lock(path):`` holds an advisory ``fcntl.flock`` on ``<path>.lock`` (a sibling file,
so it also covers ``<path>.partial``) for the duration of the block; the file holds the owner's
pid, host and start time so that a second process can name the holder. The kernel releases the
lock when its owner exits, however it exits, so a killed run leaves no lock that needs clearing:
a leftover ``.lock`` file without a live holder is simply taken over. The file is removed on a
normal release. Where ``fcntl`` does not exist (Windows) the block runs without a lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from asdlab.core.errors import AsdlabError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class LockedError(AsdlabError):
    """Another process holds the lock of the folder (its pid and host are in the message)."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: ``<path>.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text())
        return f"pid {info['pid']} on host {info['host']} (since {info['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


WAIT_ENV = "ASDLAB_LOCK_WAIT"
"""Seconds :func:`folder_lock` waits for a held lock when its caller gives no ``wait_s`` (default 0:
fail at once). ``asdlab report`` sets it for its notebooks, which may reuse the same finished run
at the same moment."""


def default_wait() -> float:
    """``$ASDLAB_LOCK_WAIT`` as seconds (0 when unset or not a number >= 0)."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, "0")))
    except ValueError:
        return 0.0


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike, what: str = "folder", wait_s: float | None = None):
    """Hold the exclusive lock of ``path`` (see the module docstring), waiting up to ``wait_s``
    seconds for another holder (None: :func:`default_wait`), else raise :class:`LockedError`:
    ``"<path>: <what> in use by pid N on host H (since T); ..."``."""
    lock = lock_path(path)
    deadline = time.monotonic() + (default_wait() if wait_s is None else wait_s)
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise AsdlabError(f"{lock}: cannot create the lock file of this {what} ({err.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise LockedError(f"{path}: {what} in use by {_holder(lock)}; wait for it to finish "
                              f"or choose another output folder") from None
        try:  # the file may have been removed by the previous holder after we opened it
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        stamp = {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(stamp) + "\n").encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
