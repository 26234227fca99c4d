"""Processes that die with their parent, temporary names that carry their writer's pid, the
clean-up of an earlier crash's leftovers, and the fault-injection test hook.

- :func:`die_with_parent`: a worker process asks Linux to SIGKILL it when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``), so a killed ``asdlab synth`` or ``asdlab report`` leaves no
  worker or kernel running and writing. Elsewhere it does nothing.
- :func:`temp_prefix` / :func:`writer_pid`: temporary files and folders are named
  ``.<name>.<pid>.<random>.tmp`` (or ``<prefix><pid>-<random>``) after the process that owns them.
- :func:`remove_leftovers`: removes the temporary files and folders in a folder whose owner is
  no longer alive; a live writer's are never touched.
- :func:`fault_point`: ``ASDLAB_FAULT_AT=<point>[@<n>]`` makes the process SIGKILL itself the
  ``n``-th time (default 1st) it passes the named point. A test hook only (tests/test_fault_injection.py).
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
FAULT_ENV = "ASDLAB_FAULT_AT"
LEGACY_AGE_S = 300.0
"""Temporary files without a pid in their name (made by older asdlab) count as leftovers once
untouched for this many seconds."""

_TEMP_FILE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]{8}\.tmp(\.ipynb)?$")
_LEGACY_TEMP_FILE = re.compile(r"^\..+\.tmp(\.ipynb)?$")


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make Linux SIGKILL this process when its parent (the thread that started it) dies.
    ``parent_pid``: the pid the parent had; when the parent is already gone (it died before
    this call), exit at once with status 137. Elsewhere than Linux: nothing."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(137)


def pdeathsig_preexec():
    """A ``preexec_fn`` for :class:`subprocess.Popen` (None off Linux) that gives the child
    :func:`die_with_parent`'s SIGKILL on parent death. ``prctl`` is looked up here, before the
    fork, so the child only makes one call."""
    prctl = _prctl()
    if prctl is None:
        return None
    sig = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return preexec


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def temp_prefix(name: str) -> str:
    """The prefix of a temporary file for ``name`` written by this process: ``.<name>.<pid>.``
    (``tempfile.mkstemp`` adds 8 random characters and the suffix, ``.tmp`` or ``.tmp.ipynb``)."""
    return f".{name}.{os.getpid()}."


def writer_pid(name: str, folder_prefix: str | None = None) -> int | None:
    """The pid in a temporary file name of :func:`temp_prefix` (or, with ``folder_prefix``, in
    a folder name ``<folder_prefix><pid>-<random>``); None when the name carries none."""
    if folder_prefix is not None:
        m = re.match(re.escape(folder_prefix) + r"(\d+)-", name)
    else:
        m = _TEMP_FILE.match(name)
    return int(m.group(1)) if m else None


def remove_leftovers(folder: str | os.PathLike, recursive: bool = False,
                     folder_prefix: str | None = None, name: str | None = None,
                     legacy_age_s: float = LEGACY_AGE_S) -> list[Path]:
    """Remove the temporary files of :func:`temp_prefix` in ``folder`` (and its subfolders
    when ``recursive``) whose writer is dead, plus legacy ones without a pid untouched for
    ``legacy_age_s`` seconds (default :data:`LEGACY_AGE_S`); with ``folder_prefix``, remove
    instead the folders ``<folder_prefix><pid>-*`` of dead pids; with ``name``, only the temporary files of the
    file ``name``. Returns what was removed (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    if folder_prefix is not None:
        for path in folder.glob(folder_prefix + "*"):
            pid = writer_pid(path.name, folder_prefix)
            if pid is not None and path.is_dir() and not pid_alive(pid):
                shutil.rmtree(path, ignore_errors=True)
                if not path.exists():  # (another user's folder stays)
                    removed.append(path)
        return sorted(removed)
    now = time.time()
    pattern = f".{glob.escape(name)}.*.tmp*" if name is not None else ".*.tmp*"
    for path in (folder.rglob(pattern) if recursive else folder.glob(pattern)):
        pid = writer_pid(path.name)
        try:
            if not path.is_file():
                continue
            if pid is not None:
                stale = not pid_alive(pid)
            else:
                stale = bool(_LEGACY_TEMP_FILE.match(path.name)) and now - path.stat().st_mtime >= legacy_age_s
            if stale:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # its writer moved it into place meanwhile
            continue
    return sorted(removed)


def describe_removed(paths: list[Path], base: str | os.PathLike | None = None, show: int = 5) -> str:
    """One line naming removed leftovers: ``"removed 3 leftover(s) of an interrupted run: a, b, c"``
    (names relative to ``base``; ``show`` at most, then ``and N more``)."""
    def name(p: Path) -> str:
        try:
            return str(p.relative_to(base)) if base is not None else str(p)
        except ValueError:
            return str(p)
    names = [name(p) for p in paths[:show]]
    more = f" and {len(paths) - show} more" if len(paths) > show else ""
    return f"removed {len(paths)} leftover(s) of an interrupted run: {', '.join(names)}{more}"


_FAULT_HITS: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Test hook: SIGKILL this process here when ``$ASDLAB_FAULT_AT`` is ``name`` or
    ``name@n`` and this is the ``n``-th time (default 1) it reaches ``name``. Costs one
    environment lookup otherwise. Points: ``atomic_write`` (temporary file written, not yet
    moved into place), ``synth.batch`` (a batch of clips done, in the generating process),
    ``report.notebook`` (a notebook's outcome saved in report.json)."""
    want = os.environ.get(FAULT_ENV)
    if not want:
        return
    point, _, nth = want.partition("@")
    if point != name:
        return
    _FAULT_HITS[name] = _FAULT_HITS.get(name, 0) + 1
    if _FAULT_HITS[name] == (int(nth) if nth.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)
