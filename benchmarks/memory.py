"""Peak memory of one epoch of each method's ``paper`` preset, next to the dataset's size in RAM.

    .venv/bin/python benchmarks/memory.py --data DIR [--methods M ...] [--machines ...]
        [--full] [--set KEY=VALUE ...] [--in-memory] [--threads 1] [--env KEY=VALUE ...]
        [--cache DIR] [--work DIR]

Each method runs as ``asdlab run METHOD --preset paper`` in a child process with one epoch
(:data:`ONE_EPOCH`: ``epochs=1``, or the method's own epoch counts) and, unless ``--full``, the
smaller networks of :data:`CPU_SMALLER` so that a CPU run takes minutes (printed in the table's
``overrides`` column; the data path, which is what the dataset's size acts on, is the paper
preset's). Peak RSS is the child's ``ru_maxrss`` (``os.wait4``: the exact high-water mark of
that process) and, polled every 0.2 s from ``/proc``, the peak of the sum over the child and
its own children. The dataset's size in RAM is what its clips take as float32 waveforms at
16 kHz (from the WAV headers, nothing read), and the ratio is peak RSS / that size.

``--in-memory`` runs the waveform recipes with the clip loading before issue 18 (every clip in a
list) for comparison. ``--work`` keeps run folders and the cache (default: a temporary folder;
a first run builds the wave store and the feature cache there, which is part of what is
measured); each method's run folder there is removed before it runs. ``--env`` sets variables
of the child, e.g. ``ASDLAB_ALLOCATOR=bounded`` (glibc's mmap threshold at 1 MiB, the setting
the memory table of ``docs/performance.md`` was measured with) or ``default`` (no change) instead of
the ``fast`` mode every ``asdlab`` process applies (:mod:`asdlab.core.allocator`: threshold 16 MiB,
torch's huge-page allocation), printed in the header. Paper-scale factory
data: ``asdlab synth --preset paper --out DIR`` (8400 clips of 10 s, 2.6 GB of WAVs, 5.4 GB as
float32; about 8 minutes with one process here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

from asdlab.core.allocator import MODE_ENV
from asdlab.data.layout import build_clip_table
from asdlab.methods import list_methods

ONE_EPOCH = {
    "guided_clustering": {"pretrain_rounds": 1, "finetune_epochs": 1,
                          "scorer_overrides": {"epochs": 1, "snapshot_every": 1}},  # its sc_adacos scorer
    "sc_adacos": {"epochs": 1, "snapshot_every": 1},
    "raw_spec": {},
}
"""Overrides that make one epoch of a method (default ``epochs=1``)."""
CPU_SMALLER = {
    **{m: {"width": 0.125} for m in ("stgram_arcface", "tastgram_ce", "tastgram_linear_ce", "tastgram_arcface",
                                     "tastgram_arcmix", "tastgram_noisy_arcmix")},
    "sc_noisy_arcmix": {"size": "nano"},
    "sc_adacos": {"width": 0.25},
    "guided_clustering": {"width": 0.25, "scorer_overrides": {"epochs": 1, "snapshot_every": 1, "width": 0.25}},
    "contrastive_ae_cnn": {"width": 0.25, "depth": 0.25},
}
"""Smaller networks for a CPU run (``--full``: the paper's); the clips, their length, the batch
size and the features stay the paper preset's."""

_CHILD = r"""
import sys
if sys.argv[1] == "lists":  # the clip loading before issue 18: every clip in a list
    from asdlab.data.audio import read_many
    from asdlab.methods import pipeline

    def waveforms(rows, ctx):
        waves, skipped = read_many(list(rows["path"]), skip_unreadable=ctx.skip_unreadable, channel=ctx.channel)
        bad = {str(p) for p, _ in skipped}
        return waves, rows[~rows["path"].astype(str).isin(bad).to_numpy()].reset_index(drop=True), skipped
    pipeline.waveforms = waveforms
from asdlab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def dataset_bytes(data: str, machines: list[str] | None) -> tuple[int, int, int]:
    """``(clips, float32 bytes at 16 kHz, WAV bytes)`` of the dataset's clip table."""
    table = build_clip_table(data, machines=machines)
    samples = wav = 0
    for p in table["path"]:
        info = sf.info(p)
        samples += round(info.frames * 16000 / info.samplerate)
        wav += os.path.getsize(p)
    return len(table), samples * 4, wav


def _tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        todo += children.get(pid, [])
    return total


def measure(argv: list[str], lists: bool, env: dict, log: Path) -> tuple[int, int, float, int]:
    """Run the CLI ``argv`` in a child: ``(ru_maxrss bytes, polled tree peak bytes, wall s, exit code)``."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, "lists" if lists else "store", *argv],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    peak, done = [0], threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.2)
    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * 1024, peak[0], time.perf_counter() - start, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="dataset root (paper-scale factory data)")
    ap.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    ap.add_argument("--machines", nargs="+", default=None)
    ap.add_argument("--full", action="store_true", help="the paper's network sizes (no CPU_SMALLER)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more overrides, every method")
    ap.add_argument("--in-memory", action="store_true", help="the clip loading before issue 18, for comparison")
    ap.add_argument("--threads", type=int, default=1, help="OMP / torch threads of the child (default 1)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment of the child, e.g. MALLOC_MMAP_THRESHOLD_=131072 (glibc)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", default=None, help="cache folder (default: <work>/cache)")
    ap.add_argument("--work", default=None, help="run folders and logs (default: a temporary folder)")
    args = ap.parse_args(argv)

    methods = args.methods or [m.name for m in list_methods()]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="asdlab-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else work / "cache"
    n_clips, data_bytes, wav_bytes = dataset_bytes(args.data, args.machines)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           **dict(kv.split("=", 1) for kv in args.env)}
    print(f"data {args.data}: {n_clips} clips, {wav_bytes / 1e9:.2f} GB of WAVs, "
          f"{data_bytes / 1e9:.2f} GB as float32 waveforms; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {args.threads} thread(s), device {args.device}, "
          f"clip loading: {'in-memory lists (before issue 18)' if args.in_memory else 'wave store'}, "
          f"allocator: {env.get(MODE_ENV, 'fast')} (asdlab.core.allocator)"
          + "".join(f", {kv}" for kv in args.env))
    head = f"{'method':24s} {'overrides beyond paper':44s} {'data GB':>8s} {'peak RSS GB':>11s} " \
           f"{'tree GB':>8s} {'RSS/data':>8s} {'wall s':>7s}  status"
    print(head)
    print("-" * len(head))
    for method in methods:
        over = {"epochs": 1} if method not in ONE_EPOCH else dict(ONE_EPOCH[method])
        if not args.full:
            over.update(CPU_SMALLER.get(method, {}))
        for kv in args.set:
            key, value = kv.split("=", 1)
            over[key] = value
        cli = ["run", method, "--preset", "paper", "--data", args.data, "--out", str(work / method),
               "--cache", str(cache), "--device", args.device, "--quiet", "--force"]
        over = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in over.items()}
        cli += [x for k, v in over.items() for x in ("--set", f"{k}={v}")]
        cli += ["--machines", *args.machines] if args.machines else []
        shutil.rmtree(work / method, ignore_errors=True)  # a finished run folder would be reused, not run
        rss, tree, wall, code = measure(cli, args.in_memory, env, work / f"{method}.log")
        shown = ",".join(f"{k}={v}" for k, v in over.items())
        print(f"{method:24s} {shown:44s} {data_bytes / 1e9:8.2f} {rss / 1e9:11.2f} {tree / 1e9:8.2f} "
              f"{rss / data_bytes:8.2f} {wall:7.0f}  {'ok' if code == 0 else f'exit {code}: see {work / method}.log'}",
              flush=True)
    print(f"run folders and logs: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
