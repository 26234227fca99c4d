"""Does the factory behave like real DCASE data? (issue 14 item 3: a benchmark, not a tuning loop)

    .venv/bin/python benchmarks/calibrate_factory.py [--data-seed 5] [--seeds 0 1 2]
        [--styles dcase2024 dcase2020] [--preset course] [--methods ...] [--machines ...]
        [--data-root data/calibration] [--runs runs/calibration] [--jobs 2] [--out FILE.md]

Generates factory data of ``--data-seed`` (a seed no preset or design choice was tuned on: the
reports use 0, presets were chosen on 1) in each style under ``<data-root>/<style>-<preset>-seed<N>``,
trains the AE baseline, ``raw_spec`` and the discriminative methods
(:data:`asdlab.analysis.calibration.DISCRIMINATIVE`) for every training seed into
``<runs>/<style>/seed<s>/<method>`` (finished runs are reused), ``--jobs`` runs at a time with one
torch thread each, then prints the table (official score mean ± sd over seeds; the ``dcase2020``
style under the 2020 protocol, arithmetic mean of every ID's AUC and pAUC), the same rows next to
ASDKit's real-data figures, the checks of :func:`asdlab.analysis.calibration.calibration_checks`
and the AUC of each anomaly kind per method (:func:`~asdlab.analysis.calibration.kind_table`).
Writes them as markdown to ``--out`` (default ``<runs>/calibration.md``) with the command line.
Exit status: 0 when every check passes, 1 when one fails or a run failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from asdlab.analysis.calibration import (AE, DISCRIMINATIVE, RAW, asdkit_rows, calibration_checks, calibration_table,
                                         kind_table)
from asdlab.analysis.claims import RunJob, train_job
from asdlab.core.errors import AsdlabError
from asdlab.core.markdown import markdown_table
from asdlab.data.synth import STYLES, generate_dataset
from asdlab.methods import get_method
from asdlab.runs.seeds import check_seeds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-seed", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--styles", nargs="+", default=list(STYLES), choices=STYLES)
    ap.add_argument("--preset", default="course", choices=("smoke", "course", "paper"))
    ap.add_argument("--methods", nargs="+", default=[AE, RAW, *DISCRIMINATIVE])
    ap.add_argument("--machines", nargs="+", help="machine types (default: all of each style)")
    ap.add_argument("--data-root", default="data/calibration")
    ap.add_argument("--runs", default="runs/calibration")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    start = time.time()
    try:
        seeds = check_seeds(args.seeds, "--seeds")
        for m in args.methods:
            get_method(m).params(args.preset, {})
        data = {style: generate_dataset(Path(args.data_root) / f"{style}-{args.preset}-seed{args.data_seed}",
                                        args.preset, args.data_seed, machines=args.machines, jobs=args.jobs,
                                        progress=False, style=style) for style in args.styles}
    except AsdlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runs = Path(args.runs)
    jobs = [RunJob((style,), m, {}, str(data[style]), str(runs / style / f"seed{s}" / m), args.preset, s)
            for style in args.styles for s in seeds for m in args.methods]
    if args.jobs == 1:
        results = [train_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("forkserver")) as pool:
            results = list(pool.map(train_job, jobs))
    folders: dict = {style: {s: {} for s in seeds} for style in args.styles}
    failed = 0
    for job, res in zip(jobs, results):
        if res["error"]:
            failed += 1
            print(f"failed: {job.folder}: {res['error']}", file=sys.stderr)
        else:
            folders[job.variants[0]][job.seed][job.method] = job.folder
    table = calibration_table(folders)
    checks = calibration_checks(table, [m for m in args.methods if m not in (AE, RAW)])
    real = asdkit_rows(table, [m for m in args.methods if m not in (AE, RAW)])
    command = "python benchmarks/calibrate_factory.py " + " ".join(map(shlex.quote, argv if argv is not None else sys.argv[1:]))
    text = "\n\n".join([
        f"# Factory calibration (data seed {args.data_seed}, {args.preset}, training seeds "
        f"{', '.join(map(str, seeds))})",
        f"Command: `{command}`; wall time {(time.time() - start) / 60:.1f} min.",
        "## Official score per method (%)\n\n" + markdown_table(table.drop(columns=["mean", "sd"])),
        "## Next to real data (ASDKit)\n\n" + markdown_table(real),
        "## Checks\n\n" + markdown_table(checks),
        *(f"## AUC by anomaly kind, {style} (%, mean over seeds, both domains)\n\n"
          + markdown_table(kind_table(folders[style], data[style]), index=True) for style in args.styles)]) + "\n"
    print(text)
    out = Path(args.out) if args.out else runs / "calibration.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return 1 if failed or not checks["passed"].all() else 0


if __name__ == "__main__":
    sys.exit(main())
