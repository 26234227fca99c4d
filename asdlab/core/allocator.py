"""Allocator settings of a run process: training speed first, memory bounded on request.

glibc keeps freed blocks below its mmap threshold (which grows to 32 MiB as large blocks are
freed) in a heap that only shrinks from its top, so a training loop whose steps allocate and free
many 1-32 MiB tensors ends with a heap larger than what a step holds (TASTgram-MFN, paper batch,
width 0.125: 2.26 GB peak); a low threshold hands those blocks back when freed, but every block
above it then costs fresh page faults on each step. :func:`tune_allocator` applies one of
:data:`MODES`, chosen by ``$ASDLAB_ALLOCATOR``:

- ``fast`` (default): threshold 16 MiB and torch's transparent huge page allocation
  (``THP_MEM_ALLOC_ENABLE``): a TASTgram `course` run as fast as with glibc's default (its 1-4 MiB
  activations stay in the heap), the paper step's peak 2.13 GB;
- ``bounded``: threshold 1 MiB (and huge pages): paper step peak 1.72 GB at the same speed, but
  the TASTgram `course` run 64 % slower (page faults of every 1-4 MiB block, each step);
- ``default``: nothing changed.

Results never depend on the mode (where a tensor lives changes no number). Linux with glibc and
transparent huge pages only; elsewhere nothing is changed. Figures: ``docs/performance.md``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from pathlib import Path

from asdlab.core.errors import ConfigError

MODE_ENV = "ASDLAB_ALLOCATOR"
"""The variable that chooses the mode: ``fast`` (default), ``bounded`` or ``default`` (no change)."""
MODES = {
    "fast": {"MALLOC_MMAP_THRESHOLD_": str(16 << 20), "THP_MEM_ALLOC_ENABLE": "1"},
    "bounded": {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "THP_MEM_ALLOC_ENABLE": "1"},
}
"""Environment of a tuned process per mode (glibc reads the threshold at process start, torch
its variable at its first allocation); bytes."""
SETTINGS = MODES["fast"]
"""The default mode's settings."""
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


def allocator_mode() -> str:
    """``$ASDLAB_ALLOCATOR`` (``fast`` when unset); an unknown value stops with a one-line error."""
    mode = os.environ.get(MODE_ENV, "fast")
    if mode not in (*MODES, "default"):
        raise ConfigError(f"${MODE_ENV}={mode!r}: not an allocator mode; use fast (default), bounded "
                          "(memory bounded, slower at course scale) or default (leave glibc alone)")
    return mode


def huge_pages_available(path: str = "/sys/kernel/mm/transparent_hugepage/enabled") -> bool:
    """True when the kernel grants transparent huge pages on request (``always`` or ``madvise``)."""
    try:
        return "[never]" not in Path(path).read_text()
    except OSError:
        return False


def tune_allocator() -> dict:
    """Apply the settings of :func:`allocator_mode` to this process and, through ``os.environ``,
    to the processes it starts (report kernels, sweep workers); a variable the user set is left as
    set. Returns the settings in effect, ``{}`` where nothing was changed: not Linux/glibc, no
    transparent huge pages (without them a low threshold costs more speed), or mode ``default``.
    Call it at a process's start, before torch allocates (torch reads its variable once)."""
    mode = allocator_mode()
    if mode == "default" or not sys.platform.startswith("linux") or not huge_pages_available():
        return {}
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:  # musl and others
        return {}
    settings = MODES[mode]
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # a user's value was applied by glibc at start
        mallopt(_M_MMAP_THRESHOLD, int(settings["MALLOC_MMAP_THRESHOLD_"]))
    for key, value in settings.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in settings}


def release_free_heap() -> bool:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim(0)``: free blocks
    anywhere in the heap, not only at its top): after many small arrays were freed while large
    ones were filled, e.g. log-mels copied into one array. Returns whether anything was released
    (False off glibc)."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    return bool(malloc_trim(0)) if malloc_trim is not None else False


@functools.lru_cache(maxsize=1)
def _libc():
    """This process's C library (ctypes), None where it cannot be loaded."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None
