"""The seed papers' central claims on factory data over several training seeds (issue 13 item 9).

    .venv/bin/python benchmarks/claims.py --data DIR [--preset course] [--seeds 0 1 2]
        [--runs DIR] [--jobs 2] [--out FILE.md] [--only seed004,seed002/gmm-vs-cosine]
        [--machines fan valve] [--device auto] [--cache-dir DIR] [--replace-stale] [--list]

Trains every run the chosen claims need (:data:`asdlab.analysis.claims.VARIANTS`) for every seed
into ``<runs>/seed<s>/<variant>`` with :func:`asdlab.runs.run_method` (a finished run of the same
configuration is reused, so a second call only re-measures), ``--jobs`` runs at a time in worker
processes of one torch thread each. Then prints the claims table (claim, paper's value, each
side's mean ± sd over seeds, the difference, verdict; rule: :data:`~asdlab.analysis.claims.VERDICT_RULE`)
and writes it to ``--out`` (markdown, default ``<runs>/claims.md``) with the CSV of
:func:`~asdlab.analysis.claims.claims_table` next to it and the command line that produced it.
``--list`` prints the claims and the runs they need, and trains nothing. Exit status 1 when a run
failed (its claims then say "not measured" or count fewer seeds).

Cost: about 20 runs per seed at ``course`` (every neural method, ae_mse, raw_spec, and the
ablation variants: sc_adacos with the cosine back end and with K = 4 alone, three more cells of
the SC x FeatEx grid, sc_noisy_arcmix with CE, contrastive_ae_cnn without the contrastive term and
without the median filter; variants equal to a preset share its run). From the run times of one
earlier course report (2-core CPU; ae_mse 173 s with the feature extraction, each TASTgram/STgram
run 150-170 s, guided_clustering 150 s, contrastive_ae_cnn 100 s, sc_adacos and sc_noisy_arcmix
about 60 s each) that is about 35 min of runs per seed, so roughly 1 h 45 min for 3 seeds with
``--jobs 1`` and about an hour with ``--jobs 2`` on 2 free cores; presets are still changing
(issue 13 item 5), so the figure to quote is the wall time the benchmark prints under its table.
At ``smoke`` on a two-machine smoke factory dataset all claims over 3 seeds take about 3 minutes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from asdlab.analysis.claims import (PAPERS, claim_variants, claims_markdown, claims_table, plan_runs,
                                    select_claims, train_job)
from asdlab.core.errors import AsdlabError
from asdlab.runs.seeds import check_seeds


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="dataset root (factory or DCASE layout)")
    ap.add_argument("--preset", default="course", choices=("smoke", "course", "paper"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    ap.add_argument("--runs", help="folder of the run folders (default runs/claims/<preset>)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at a time (worker processes)")
    ap.add_argument("--out", help="markdown file of the table (default <runs>/claims.md); the CSV goes next to it")
    ap.add_argument("--only", help="comma-separated seed papers (seed004) or claim ids (seed004/tastgram-vs-stgram)")
    ap.add_argument("--machines", nargs="+", help="restrict every run to these machine types")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cache-dir", help="feature cache (default: asdlab's)")
    ap.add_argument("--replace-stale", action="store_true",
                    help="retrain a run folder that holds another configuration instead of failing")
    ap.add_argument("--list", action="store_true", help="print the claims and the runs they need, train nothing")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        claims = select_claims(args.only)
        if args.list:
            for c in claims:
                print(f"{c.id:45s} {c.text}")
            print("\nruns per seed:", ", ".join(claim_variants(claims)))
            return 0
        if not args.data:
            raise AsdlabError("--data is required (the dataset root)")
        if args.jobs < 1:
            raise AsdlabError(f"--jobs {args.jobs}: must be at least 1")
        seeds = check_seeds(args.seeds, "--seeds")
        runs = Path(args.runs or Path("runs") / "claims" / args.preset)
        out = Path(args.out) if args.out else runs / "claims.md"
        jobs, folders = plan_runs(claims, args.data, runs, args.preset, seeds, args.machines, args.device,
                                  args.cache_dir, args.replace_stale)
    except AsdlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    todo = sum(not (Path(j.folder) / "config.json").is_file() for j in jobs)
    print(f"{len(claims)} claims, {len(jobs)} runs ({todo} new, {len(jobs) - todo} already present) in {runs}, "
          f"preset {args.preset}, seeds {' '.join(map(str, seeds))}, {args.jobs} job(s)", flush=True)
    start = time.perf_counter()
    failed, trained = [], []

    def report(i: int, job, res: dict) -> None:
        what = "failed" if res["error"] else "reused" if res["reused"] else "trained"
        print(f"[{i}/{len(jobs)}] {what} {job.method} ({', '.join(job.variants)}) seed {job.seed} "
              f"in {res['seconds']:.1f} s" + (f": {res['error']}" if res["error"] else ""), flush=True)
        if res["error"]:
            failed.append((job, res["error"]))
        elif not res["reused"]:
            trained.append(res["seconds"])

    if args.jobs == 1:
        for i, job in enumerate(jobs, 1):
            report(i, job, train_job(job))
    else:
        # forkserver: workers fork from one server process that imported asdlab once (spawn
        # would import it in every worker; fork would copy a parent that may hold threads)
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["asdlab.analysis.claims"])
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            futures = {pool.submit(train_job, job): job for job in jobs}
            for i, fut in enumerate(as_completed(futures), 1):
                report(i, futures[fut], fut.result())
    wall = time.perf_counter() - start

    for job, _ in failed:  # a failed run is measured as missing, never from a stale folder
        for v in job.variants:
            folders[job.seed].pop(v, None)
    table = claims_table(folders, claims)
    command = "python benchmarks/claims.py " + shlex.join(argv)
    papers = sorted({c.paper for c in claims})
    title = (f"Claims of the seed papers ({', '.join('seed ' + p for p in papers)}), preset {args.preset}, "
             f"seeds {' '.join(map(str, seeds))}")
    md = claims_markdown(table, title=title, command=command)
    md += f"\nData: `{args.data}`; runs: `{runs}`; {len(jobs)} runs, {len(trained)} trained now "
    md += f"({sum(trained):.0f} s of training), {len(failed)} failed; wall time {wall:.0f} s.\n"
    md += "".join(f"\n- {PAPERS[p]}" for p in papers) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    table.to_csv(out.with_suffix(".csv"), index=False)
    print("\n" + md)
    print(f"written: {out} and {out.with_suffix('.csv')}")
    if failed:
        print(f"{len(failed)} run(s) failed:", *(f"  {j.folder}: {e}" for j, e in failed), sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
