"""One training epoch of each neural method's preset on factory data, on the GPU and on the CPU:
items/s, peak GPU memory and the ratio GPU / CPU (issue 18).

    python benchmarks/gpu.py --data DIR [--preset paper] [--methods M ...] [--machines M ...]
        [--device auto|cuda|cuda:N|cpu] [--precision fp32 [bf16]] [--set KEY=VALUE ...]
        [--batches N] [--cpu-batches 2] [--cpu-precision fp32] [--no-cpu] [--budget SECONDS]
        [--threads N] [--cache DIR] [--out FILE.md]

Each method runs through :func:`asdlab.runs.run_method` exactly as ``asdlab run`` would (clip
table, feature cache, model from the preset, ``--set`` overrides) until its first training epoch;
:func:`asdlab.train.loop.probe_epoch` times that epoch, synchronising the device after its first
and last batch, and stops the run there (no validation, embedding or scoring). Columns:

- ``items/s``: training items per second from the end of the first batch to the end of the
  epoch (steady state: CUDA start-up, cuDNN autotuning and the first allocation excluded). An
  item is what the method's loop batches: a training clip, except for ``ae_*`` (a log-mel frame
  vector of one machine type). The epoch is that of each method's first
  :func:`~asdlab.train.loop.fit` (an ensemble's first member, a per-machine model's first machine,
  guided_clustering's first DeepCluster round);
- ``peak MiB``: ``torch.cuda.max_memory_allocated`` over the run ("-" on the CPU);
- ``cpu items/s``: the same code with ``--device cpu`` in ``--cpu-precision`` (default fp32, what
  a CPU run uses; ``same``: each row's precision) over the first ``--cpu-batches`` batches of the
  epoch only (a subset of the items, to keep it short; at least 2: the first is not timed; with
  ``--device cpu`` the row's own figure when the precisions agree), and ``ratio`` = items/s / CPU
  items/s (on the CPU: bf16 against fp32);
- ``prep s``: seconds from the run's start to the epoch's first batch (clip table, features,
  model), on a warm feature cache after the first method that shares its features.

``--batches N`` limits the device epoch too (default: the whole epoch). ``--budget`` seconds:
methods not started by then are listed as not run. The table is printed after every method and
written to ``--out`` (Markdown) as it grows, so an interrupted benchmark keeps what it measured.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from asdlab.cli import _parse_overrides
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.methods import get_method, list_methods
from asdlab.runs import run_method
from asdlab.train.loop import PRECISIONS, ProbeStop, check_precision, probe_epoch, resolve_device

DEFAULT_METHODS = ("tastgram_noisy_arcmix", "sc_noisy_arcmix", "stgram_arcface", "sc_adacos",
                   "guided_clustering", "contrastive_ae_cnn", "ae_mse", "tastgram_arcface",
                   "tastgram_arcmix", "tastgram_ce", "tastgram_linear_ce", "ae_mahala")
"""Every method that trains a network, the ones with the heaviest networks first (raw_spec trains none)."""

COLUMNS = ("method", "precision", "device", "items", "items/s", "peak MiB", "cpu items/s", "ratio", "prep s")


def probe(method: str, data: str, preset: str, overrides: dict, machines, device: str, precision: str,
          max_batches: int | None, cache: Path) -> dict:
    """Run ``method`` until its first training epoch ends (or ``max_batches`` batches) and return
    the :class:`~asdlab.train.loop.EpochProbe` record with ``peak`` (bytes or None) and ``prep``
    (seconds before the first batch). A run that trains nothing is a :class:`ConfigError`."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    with tempfile.TemporaryDirectory(prefix="asdlab_gpu_") as tmp, probe_epoch(max_batches) as pr:
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_method(method, data, Path(tmp) / "run", preset=preset, overrides=overrides or None,
                           machines=machines, device=device, cache_dir=cache, progress=False,
                           precision=precision)
        except ProbeStop:
            pass
        wall = time.perf_counter() - t0
    if not pr.records:
        raise ConfigError(f"{method}: the run finished without a training epoch (nothing to measure)")
    rec = dict(pr.records[0])
    rec["prep"] = wall - rec["seconds"]
    rec["peak"] = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None
    gc.collect()
    return rec


def fmt(x: float) -> str:
    """A rate with 3 significant digits or one decimal, whichever is longer."""
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3g}"


def rate(rec: dict) -> float:
    """Steady items per second of a probe record."""
    return rec["steady_items"] / rec["steady_seconds"] if rec["steady_seconds"] > 0 else float("nan")


def markdown(rows: list[dict], notes: list[str]) -> str:
    """The table (and notes) as Markdown."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines + [""] + notes) + "\n"


def method_overrides(names: list[str], preset: str, sets: dict) -> dict[str, dict]:
    """``--set`` values for each method whose preset has the key; a key no method has is an error."""
    out = {n: {} for n in names}
    for key, value in sets.items():
        having = [n for n in names if key in get_method(n).presets[preset]]
        if not having:
            raise ConfigError(f"--set {key}: no parameter of that name in {', '.join(names)}")
        for n in having:
            out[n][key] = value
    for n in names:
        get_method(n).params(preset, out[n])  # a bad value stops here, before any work
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="factory (or DCASE) dataset root")
    ap.add_argument("--preset", default="paper", choices=["smoke", "course", "paper"])
    ap.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    ap.add_argument("--machines", nargs="+", help="only these machine types")
    ap.add_argument("--device", default="auto", help="auto (GPU when present), cuda, cuda:N, cpu")
    ap.add_argument("--precision", nargs="+", default=["fp32"], help=f"one or more of {', '.join(PRECISIONS)}")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a preset parameter of every method that has it")
    ap.add_argument("--batches", type=int, help="at most this many batches of the device epoch (default all)")
    ap.add_argument("--cpu-batches", type=int, default=2, help="batches of the CPU reference (default 2)")
    ap.add_argument("--cpu-precision", default="fp32", help="precision of the CPU reference: fp32, bf16 or same")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU reference")
    ap.add_argument("--budget", type=float, default=float("inf"), help="start no method after this many seconds")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default torch's)")
    ap.add_argument("--cache", help="feature cache folder (default: a temporary one)")
    ap.add_argument("--out", help="also write the table here (Markdown), after every method")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        known = {m.name for m in list_methods()}
        unknown = [m for m in args.methods if m not in known]
        if unknown:
            raise ConfigError(f"--methods: unknown method(s) {', '.join(unknown)}")
        precisions = [check_precision(p) for p in args.precision]
        if args.cpu_precision != "same":
            check_precision(args.cpu_precision)
        dev = resolve_device(args.device)
        if args.cpu_batches < 2 and not args.no_cpu:
            raise ConfigError("--cpu-batches must be at least 2 (the first batch is not timed)")
        overrides = method_overrides(args.methods, args.preset, _parse_overrides(args.set))
    except AsdlabError as err:
        print(f"gpu.py: error: {err}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="asdlab_gpu_cache_"))
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    notes = [f"device: {dev} ({name}); torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
             f"preset {args.preset}" + (f"; --set {' '.join(args.set)}" if args.set else "")
             + (f"; machines {' '.join(args.machines)}" if args.machines else "") + f"; data {args.data}",
             f"device epoch: {'whole' if args.batches is None else f'first {args.batches} batches'}; CPU "
             + ("reference skipped" if args.no_cpu else f"reference: first {args.cpu_batches} batches "
                f"(batch 1 untimed), precision {args.cpu_precision}") + "; items/s from the end of the first batch"]
    rows: list[dict] = []
    cpu_rates: dict[tuple[str, str], float] = {}

    def save():
        if args.out:
            Path(args.out).write_text(markdown(rows, notes))

    try:
        for method in args.methods:
            for precision in precisions:
                row = {"method": method, "precision": precision, "device": dev.type}
                if time.perf_counter() - start > args.budget:
                    rows.append({**row, "items": "not run (budget)"})
                    continue
                try:
                    rec = probe(method, args.data, args.preset, overrides[method], args.machines, str(dev),
                                precision, args.batches, cache)
                    row.update({"items": rec["items"], "items/s": fmt(rate(rec)),
                                "peak MiB": "-" if rec["peak"] is None else f"{rec['peak'] / 2**20:.0f}",
                                "prep s": f"{rec['prep']:.1f}"})
                    cpu_prec = precision if args.cpu_precision == "same" else args.cpu_precision
                    if dev.type == "cpu":
                        cpu_rates.setdefault((method, precision), rate(rec))
                    if not args.no_cpu:
                        if (method, cpu_prec) not in cpu_rates:
                            cpu_rates[method, cpu_prec] = rate(probe(
                                method, args.data, args.preset, overrides[method], args.machines, "cpu",
                                cpu_prec, args.cpu_batches, cache))
                        cpu = cpu_rates[method, cpu_prec]
                        row.update({"cpu items/s": fmt(cpu), "ratio": f"{rate(rec) / cpu:.3g}"})
                except (AsdlabError, RuntimeError, OSError) as err:  # one method's failure is a row
                    row["items"] = f"failed: {str(err).splitlines()[0][:160]}"
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                save()
    finally:
        if not args.cache:
            shutil.rmtree(cache, ignore_errors=True)
    notes.append(f"total {time.perf_counter() - start:.0f} s")
    save()
    print("\n" + markdown(rows, notes), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
