"""Training budgets of one method: official score, training time and the convergence verdict of
several settings over training seeds (issue 13 item 5: choose presets on factory data of another
seed than the reports use, over >= 3 seeds).

    .venv/bin/python benchmarks/budgets.py --method tastgram_noisy_arcmix --data DIR \
        [--preset course] [--seeds 0 1 2] [--jobs 2] [--runs DIR] \
        --variant base --variant "short:seconds=2,epochs=24" [--variant ...]

Each ``--variant NAME[:key=value,...]`` is the preset with those overrides (values as in
``asdlab run --set``). Every (variant, seed) run is trained into ``<runs>/<method>/<NAME>/seed<s>``
with :func:`asdlab.runs.run_method` (finished runs are reused), ``--jobs`` at a time, one torch
thread each. Prints one row per variant: official score mean ± sd (%), the mean paired
difference to the first variant with its sd, training seconds (mean over the runs this call trained; NaN when all were reused), and the verdict of
:func:`asdlab.analysis.convergence.plateau` per curve (worst improvement over the seeds). Timings
on a shared CPU are only comparable within one call. No assertions.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import math

import pandas as pd

from asdlab.analysis.claims import RunJob, format_mean_sd, mean_sd, official, train_job
from asdlab.analysis.convergence import convergence_table
from asdlab.cli import _parse_overrides
from asdlab.core.errors import AsdlabError
from asdlab.methods import get_method
from asdlab.runs.seeds import check_seeds


def parse_variant(text: str) -> tuple[str, dict]:
    """``"short:seconds=2,epochs=24"`` -> ``("short", {"seconds": 2, "epochs": 24})``; ``"base"`` -> ``("base", {})``."""
    name, _, rest = text.partition(":")
    if not name:
        raise AsdlabError(f"--variant {text!r}: give a name, e.g. short:epochs=24")
    return name, _parse_overrides([kv for kv in rest.split(",") if kv]) if rest else {}


def summarize(rows: list[dict], variants: list[str]) -> pd.DataFrame:
    """One row per variant from per-run ``rows`` (variant, seed, official, seconds, worst)."""
    df = pd.DataFrame(rows)
    ref = df[df["variant"] == variants[0]].set_index("seed")["official"]
    out = []
    for v in variants:
        d = df[df["variant"] == v].set_index("seed")
        diff = (d["official"] - ref.reindex(d.index)).dropna()
        out.append({"variant": v, "seeds": len(d), "official %": format_mean_sd(*mean_sd(d["official"])),
                    f"minus {variants[0]}": format_mean_sd(*mean_sd(diff), signed=True) if v != variants[0] else "",
                    "train s": round(float(d["seconds"].mean()), 1), "convergence": "; ".join(
                        f"{curve}: {imp:.1f} % ({verdict})" for curve, (imp, verdict) in _worst(d["worst"]).items())})
    return pd.DataFrame(out)


def _worst(per_seed) -> dict:
    worst: dict = {}
    for table in per_seed:
        for curve, imp, verdict in table:
            if curve not in worst or imp > worst[curve][0]:
                worst[curve] = (imp, verdict)
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--preset", default="course", choices=("smoke", "course", "paper"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variant", action="append", required=True, help="NAME[:key=value,...] (repeat)")
    ap.add_argument("--runs", default="runs/budgets")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        seeds = check_seeds(args.seeds, "--seeds")
        variants = dict(parse_variant(v) for v in args.variant)
        method = get_method(args.method)
        for name, over in variants.items():
            method.params(args.preset, over)  # every override checked before any training
    except AsdlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    jobs = [RunJob((name,), args.method, over, args.data,
                   str(Path(args.runs) / args.method / name / f"seed{s}"), args.preset, s)
            for name, over in variants.items() for s in seeds]
    if args.jobs == 1:
        results = [train_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("forkserver")) as pool:
            results = list(pool.map(train_job, jobs))
    rows, failed = [], 0
    for job, res in zip(jobs, results):
        if res["error"]:
            failed += 1
            print(f"failed: {job.folder}: {res['error']}", file=sys.stderr)
            continue
        conv = convergence_table(job.folder)
        worst = [] if conv is None else [(r.curve, r.improvement_pct, r.verdict) for r in conv.itertuples()]
        rows.append({"variant": job.variants[0], "seed": job.seed, "official": official(job.folder),
                     "seconds": math.nan if res["reused"] else res["seconds"], "worst": worst})
    if rows:
        print(summarize(rows, list(variants)).to_string(index=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
