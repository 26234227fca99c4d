"""Allocator settings of a run process: memory bounded by what a training step holds.

glibc keeps freed blocks below its mmap threshold (which grows to 32 MiB as large blocks are
freed) in a heap that only shrinks from its top, so a training loop whose steps allocate and free
many 1-32 MiB tensors ends with a heap far larger than what a step holds (TASTgram-MFN, paper
batch, width 0.125: 2.3 GB peak for 1.8 GB live). :func:`tune_allocator` fixes the threshold at
1 MiB (larger blocks go back to the system when freed) and turns on torch's transparent huge page
allocation (``THP_MEM_ALLOC_ENABLE``: blocks of 2 MiB and more on 2 MiB pages), which pays the
page faults that returning memory costs back: same speed as the default, same numbers (results do
not depend on where a tensor lives). Linux with glibc and transparent huge pages only; elsewhere
nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from pathlib import Path

MMAP_THRESHOLD = 1 << 20
"""glibc's mmap threshold set by :func:`tune_allocator`, bytes."""
SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "THP_MEM_ALLOC_ENABLE": "1"}
"""Environment of a tuned process (glibc reads the first at process start, torch the second at its
first allocation)."""
OPT_OUT = "ASDLAB_ALLOCATOR"
"""``ASDLAB_ALLOCATOR=default`` leaves the allocators as they are."""
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


def huge_pages_available(path: str = "/sys/kernel/mm/transparent_hugepage/enabled") -> bool:
    """True when the kernel grants transparent huge pages on request (``always`` or ``madvise``)."""
    try:
        return "[never]" not in Path(path).read_text()
    except OSError:
        return False


def tune_allocator() -> dict:
    """Apply :data:`SETTINGS` to this process and, through ``os.environ``, to the processes it
    starts (report kernels, sweep workers); a variable the user set is left as set. Returns the
    settings in effect, ``{}`` where nothing was changed: not Linux/glibc, no transparent huge
    pages (without them the threshold costs speed), or ``ASDLAB_ALLOCATOR=default``. Call it at a
    process's start, before torch allocates (torch reads its variable once)."""
    if os.environ.get(OPT_OUT) == "default" or not sys.platform.startswith("linux") or not huge_pages_available():
        return {}
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:  # musl and others
        return {}
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # a user's value was applied by glibc at start
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in SETTINGS}


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
