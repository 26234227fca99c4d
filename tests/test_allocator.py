"""The allocator settings of run processes (asdlab.core.allocator)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from asdlab.backends.residual import ResidualMoments, residual_stats
from asdlab.core.allocator import MODES, SETTINGS, huge_pages_available


def _child(code: str, **env) -> dict:
    """Run ``code`` (which prints one JSON line last) in a fresh Python with ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS and k != "ASDLAB_ALLOCATOR"}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


TUNE = "import json, os; from asdlab.core.allocator import tune_allocator; t = tune_allocator(); "


def test_huge_pages_available_reads_the_kernels_choice(tmp_path):
    f = tmp_path / "enabled"
    for text, expected in (("always [madvise] never\n", True), ("[always] madvise never\n", True),
                           ("always madvise [never]\n", False)):
        f.write_text(text)
        assert huge_pages_available(str(f)) is expected
    assert huge_pages_available(str(tmp_path / "missing")) is False


needs_thp = pytest.mark.skipif(not (sys.platform.startswith("linux") and huge_pages_available()),
                               reason="tune_allocator changes nothing without Linux transparent huge pages")


@needs_thp
def test_tune_allocator_sets_the_environment_children_inherit_and_keeps_a_users_values():
    got = _child(TUNE + "print(json.dumps({'t': t, 'env': {k: os.environ.get(k) for k in t}}))")
    assert got["t"] == SETTINGS == MODES["fast"] and got["env"] == SETTINGS
    assert SETTINGS["MALLOC_MMAP_THRESHOLD_"] == str(16 * 2**20)  # course steps keep their 1-4 MiB blocks
    got = _child(TUNE + "print(json.dumps(t))", ASDLAB_ALLOCATOR="bounded")
    assert got == MODES["bounded"] and got["MALLOC_MMAP_THRESHOLD_"] == str(2**20)
    got = _child(TUNE + "print(json.dumps(t))", MALLOC_MMAP_THRESHOLD_="65536")
    assert got == {**SETTINGS, "MALLOC_MMAP_THRESHOLD_": "65536"}
    assert _child(TUNE + "print(json.dumps({'t': t, 'thp': os.environ.get('THP_MEM_ALLOC_ENABLE')}))",
                  ASDLAB_ALLOCATOR="default") == {"t": {}, "thp": None}


def test_unknown_allocator_mode_is_one_line_and_exit_2():
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    out = subprocess.run([sys.executable, "-m", "asdlab", "--help"], env={**clean, "ASDLAB_ALLOCATOR": "tiny"},
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "asdlab: error: $ASDLAB_ALLOCATOR='tiny': not an allocator mode; use fast (default), bounded "
        "(memory bounded, slower at course scale) or default (leave glibc alone)"]


@needs_thp
def test_bounded_process_returns_freed_large_blocks_to_the_system():
    # 300 blocks of 2 MiB between small live objects: glibc's default (its threshold rises to 2 MiB
    # after the first free) keeps them in the heap behind the small ones; bounded, they are unmapped
    code = TUNE + """
import numpy as np
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20
base = rss()
np.ones(2**18)  # one 2 MiB block freed: raises glibc's dynamic threshold
big, small = [], []
for i in range(300):
    big.append(np.ones(2**18)); small.append(np.ones(64))
peak = rss(); del big
print(json.dumps({'grown': peak - base, 'kept': rss() - base}))
"""
    tuned, default = _child(code, ASDLAB_ALLOCATOR="bounded"), _child(code, ASDLAB_ALLOCATOR="default")
    assert tuned["grown"] > 500 and default["grown"] > 500
    assert tuned["kept"] < 50 < default["kept"]
    # the fast mode keeps blocks below 16 MiB in the heap, as glibc's default does
    assert _child(code)["kept"] > 500


def test_residual_moments_equal_residual_stats_clip_by_clip():
    rng = np.random.default_rng(5)
    # frames far from zero: raw moments around 0 would lose the scatter's digits; shifted ones keep them
    res = [(1e3 + rng.standard_normal((int(n), 3 * 4))).astype(np.float32) for n in rng.integers(1, 30, size=40)]
    moments = ResidualMoments(4)
    for r in res:
        moments.add(r)
    count, total, scatter = moments.stats()
    ref_count, ref_total, ref_scatter = residual_stats(res, 4)
    assert count == ref_count == sum(3 * len(r) for r in res)
    np.testing.assert_allclose(total, ref_total, rtol=1e-12)
    np.testing.assert_allclose(scatter, ref_scatter, rtol=1e-9, atol=1e-9 * np.abs(ref_scatter).max())
    with pytest.raises(ValueError, match="no residuals"):
        ResidualMoments(4).stats()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_free_heap_returns_freed_blocks_from_the_middle_of_the_heap():
    code = """
import json, numpy as np
from asdlab.core.allocator import release_free_heap
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20
blocks = [np.ones(20000) for _ in range(2000)]  # 160 kB each, below every mmap threshold: the heap
before = rss()
del blocks[:-1]  # all but the last: the heap cannot shrink from its top
kept = rss()
released = release_free_heap()
print(json.dumps({'before': before, 'kept': kept, 'after': rss(), 'released': released}))
"""
    got = _child(code, ASDLAB_ALLOCATOR="default")
    assert got["kept"] > got["before"] - 50  # free, but still resident
    assert got["released"] and got["after"] < got["kept"] - 200
