"""The ``asdlab`` command: index, methods, backends, run, rescore, evaluate, synth, report, sweep, download.

Errors on bad input (:class:`asdlab.core.errors.AsdlabError`) and every :class:`OSError` (disk full,
permission denied, a path that is a file: :func:`asdlab.core.errors.os_error_message`) print one
line to stderr, ``asdlab <command>: error: <message>``, and exit with status 2; parameters (``--set``,
``--device``, ``--precision``, ``--out``) are checked before anything is written. A run or re-score
stopped by an OSError leaves no ``OUT.partial`` (the previous ``OUT``, if any, is untouched). A successful command
exits 0; ``report`` exits 1 when a notebook failed, ``sweep`` when a run failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd

from asdlab.core.allocator import tune_allocator
from asdlab.core.errors import AsdlabError, ConfigError, os_error_message
from asdlab.core.schema import check_out_folder
from asdlab.runs.grid import parse_value


PROTOCOL_CHOICES = ("auto", "dcase2020", "dcase2021", "dcase2022", "dcase2023", "dcase2024", "dcase2025")
"""``--protocol`` values: ``auto`` + :data:`asdlab.metrics.PROTOCOLS` (spelled out so that building the
parser does not import the metrics; a test keeps the two equal)."""


def _parse_overrides(items: list[str]) -> dict:
    """``["epochs=5", "lr=1e-4", "ks=[2,4]", "frames=None", "name=x"]`` -> ``{"epochs": 5,
    "lr": 0.0001, "ks": [2, 4], "frames": None, "name": "x"}``: each value is JSON, else one of
    None / True / False, else the string itself. The method's schema checks them
    (:meth:`asdlab.methods.Method.params`)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = parse_value(value)
    return out


def cmd_index(args) -> int:
    from asdlab.data import build_clip_table, summarize

    table = build_clip_table(args.root)
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(summarize(table).to_string(index=False))
    print(f"\n{len(table)} clips, {table['machine'].nunique()} machine types")
    if args.out:
        check_out_folder(Path(args.out).parent, "folder of --out")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"clip table written to {args.out}")
    return 0


def cmd_methods(args) -> int:
    from asdlab.methods import list_methods

    for m in list_methods():
        print(f"{m.name:24s} {m.summary}")
    return 0


def print_run(folder: Path) -> None:
    """Print a finished run's Table 1 and official score (or say why there are none)."""
    from asdlab.metrics import format_table
    from asdlab.runs import load_run

    run = load_run(folder)
    if "table" not in run:
        print(f"{folder}: test labels unknown, submission written to {folder / 'submission'}")
        if run["config"].get("protocol"):
            print(f"protocol: {run['config']['protocol']} (for evaluating the submission)")
        return
    print(format_table(run["table"]))
    print(f"run folder: {folder}")


def drop_partial(out: str | Path) -> None:
    """Remove ``OUT.partial`` of a run or re-score that an :class:`OSError` stopped (a full disk
    gets its space back; the finished ``OUT``, if any, is not touched). Left alone while another
    process holds the folder's lock (:func:`asdlab.core.lock.folder_lock`)."""
    from asdlab.core.lock import LockedError, folder_lock

    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if not partial.exists():
        return
    try:
        with folder_lock(out, "run folder", wait_s=0):
            shutil.rmtree(partial, ignore_errors=True)
    except LockedError:
        pass
    except OSError:  # no room even for the lock file: nobody else is writing it now
        shutil.rmtree(partial, ignore_errors=True)


def cmd_run(args) -> int:
    from asdlab.methods import get_method
    from asdlab.runs import run_method

    overrides = _parse_overrides(args.set)
    get_method(args.method).params(args.preset, overrides)  # a bad --set value fails before any work
    try:  # run_method checks --seed, --device, --precision and --out before it makes anything
        out = run_method(args.method, args.data, args.out, preset=args.preset, seed=args.seed,
                         overrides=overrides, machines=args.machines,
                         device=args.device, cache_dir=args.cache, force=args.force,
                         progress=not args.quiet, skip_unreadable=args.skip_unreadable,
                         protocol=args.protocol, channel=args.channel, precision=args.precision)
    except OSError:
        drop_partial(args.out)
        raise
    print_run(out)
    return 0


def cmd_evaluate(args) -> int:
    from asdlab.metrics import format_table
    from asdlab.metrics.submission import evaluate

    _, table, _ = evaluate(args.submission, data_root=args.data, ground_truth_dir=args.ground_truth,
                           protocol=args.protocol)
    print(format_table(table))
    return 0


def cmd_synth(args) -> int:
    from asdlab.data.synth import generate_dataset

    out = generate_dataset(args.out, preset=args.preset, seed=args.seed, machines=args.machines,
                           jobs=args.jobs, force=args.force, progress=not args.quiet, style=args.style)
    print(f"dataset ready: {out}")
    return 0


def cmd_download(args) -> int:
    from asdlab.data.download import download, list_records

    if args.list:
        table = list_records()
        size = table["size"].map(lambda b: "unknown" if pd.isna(b) else f"{b / 1e9:.2f} GB")
        shown = table[["dataset", "split", "machine", "file"]].assign(
            size=size, checksum=table["md5"].map(lambda h: "md5" if pd.notna(h) else "none published"))
        print(shown.to_string(index=False))
        gt = sorted(table.loc[table["ground_truth"], "dataset"].unique())
        print(f"\n{len(table)} archives; published checksums for {table['md5'].notna().sum()}; "
              f"evaluation ground truth for {', '.join(gt)}")
        return 0
    if not args.dataset or not args.root:
        raise ConfigError("give DATASET and --root DIR (or --list to see the known archives)")
    out = download(args.dataset, split=args.split, machines=args.machines, root=args.root,
                   cache=args.cache, progress=not args.quiet)
    print(f"dataset ready: {out} (use it as --data)")
    return 0


def cmd_backends(args) -> int:
    from asdlab.backends import list_backends

    for cls in list_backends():
        print(f"{cls.name:16s} needs {cls.describe_needs():26s} {cls.summary}")
        for key, default in cls.defaults().items():
            rule = cls.params[key]
            print(f"{'':18s}--set {key}={default!r}: {rule.help} ({rule.describe()})")
    return 0


def cmd_rescore(args) -> int:
    from asdlab.runs import rescore

    params = _parse_overrides(args.set)
    check_out_folder(args.out, "run folder")
    try:
        out = rescore(args.run, args.backend, args.out, params=params, decisions=args.decisions,
                      force=args.force)
    except OSError:
        drop_partial(args.out)
        raise
    print_run(out)
    return 0


def cmd_report(args) -> int:
    from asdlab.report import run_report
    from asdlab.core.imports import skip_iri_format_checks

    if args.seed is not None and args.seeds is not None:
        raise ConfigError("--seed and --seeds together: give every seed with --seeds (the first one is "
                          "the report's main seed), e.g. --seeds 0 1 2")
    check_out_folder(args.out, "report folder")
    skip_iri_format_checks()
    executor = None
    if args.executor == "ray":  # else the notebooks' processes start here, as always
        from asdlab.runs.executors import make_executor

        executor = make_executor("ray", args.address, threads=args.cpus_per_task)
    try:
        result = run_report(args.data, args.out, preset=args.preset, methods=args.methods, jobs=args.jobs,
                            force=args.force, seed=args.seed, seeds=args.seeds, notebooks_dir=args.notebooks,
                            log=None if args.quiet else print, data_2020=args.data_2020, executor=executor)
    except KeyboardInterrupt:
        print(f"asdlab report: interrupted; the notebooks that finished are kept in {args.out} and "
              f"the next run goes on from there", file=sys.stderr)
        return 130
    finally:
        if executor is not None:
            executor.close()
    print(f"report: {result.out / 'index.html'}")
    if result.failed:
        for entry in result.report["notebooks"]:
            if entry["status"] != "ok":
                print(f"asdlab report: failed: {entry['name']}: {entry['error']} "
                      f"(see {result.out / entry['html']})", file=sys.stderr)
        return 1
    return 0


def sweep_comparison(runs: dict) -> pd.DataFrame:
    """``comparison.csv`` of a sweep: one row per (method, overrides) of ``runs`` (``{name:
    {seed: folder}}``, :meth:`asdlab.runs.grid.SweepResult.runs`), best mean official score first:
    ``run``, ``n`` (seeds with a score), then mean and sample sd (fractions) of the official score
    and of the ``All`` row's metrics over the seeds (:func:`asdlab.analysis.compare.seed_leaderboard`)."""
    from asdlab.analysis.compare import seed_compare_table, seed_leaderboard

    if not runs:  # every run failed
        flat = pd.DataFrame(columns=["run", "n", "official_score_mean", "official_score_sd"])
        flat.attrs["board"] = None
        return flat
    board = seed_leaderboard(seed_compare_table(runs, warn=False))
    flat = pd.DataFrame({"run": board.index, "n": board[("Official score", "n")].astype(int).to_numpy()})
    for metric in ["Official score", *(m for m in board.columns.get_level_values("metric").unique()
                                        if m != "Official score")]:
        key = metric.lower().replace(" ", "_")
        for stat in ("mean", "sd"):
            flat[f"{key}_{stat}"] = board[(metric, stat)].to_numpy()
    flat.attrs["board"] = board
    return flat


def cmd_sweep(args) -> int:
    from asdlab.analysis.compare import mean_sd_text
    from asdlab.core.atomic import atomic_write_text
    from asdlab.runs.executors import make_executor
    from asdlab.runs.grid import COMPARISON_FILE, expand_grid, run_sweep

    from asdlab.train.loop import autocast, check_precision, resolve_device

    specs = expand_grid(args.methods, args.seeds, args.set, args.preset)  # every value checked first
    check_out_folder(args.out, "sweep folder")
    check_precision(args.precision)
    if args.executor == "local":  # on a cluster, each node checks its own
        autocast(resolve_device(args.device), args.precision)
    grid = {"methods": list(dict.fromkeys(s.method for s in specs)), "seeds": args.seeds, "set": args.set,
            "executor": args.executor}
    say = None if args.quiet else print
    with make_executor(args.executor, args.address, args.jobs, args.cpus_per_task) as executor:
        try:
            result = run_sweep(specs, args.data, args.out, executor, preset=args.preset, device=args.device,
                               cache_dir=args.cache, grid=grid, log=say, precision=args.precision)
        except KeyboardInterrupt:
            print(f"asdlab sweep: interrupted; the finished runs are kept in {args.out} and the next run "
                  f"goes on from there", file=sys.stderr)
            return 130
    table = sweep_comparison(result.runs())
    atomic_write_text(result.out / COMPARISON_FILE, table.to_csv(index=False))
    if say and table.attrs["board"] is not None:
        shown = mean_sd_text(table.attrs["board"])
        shown.columns = [" ".join(c) if isinstance(c, tuple) else c for c in shown.columns]
        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(shown.to_string())
    print(f"{len(result.done)} run(s) done, {len(result.skipped)} finished run(s) skipped, "
          f"{len(result.failed)} failed; comparison: {result.out / COMPARISON_FILE}")
    for folder, error in result.failed.items():
        print(f"asdlab sweep: failed: {folder}: {error}", file=sys.stderr)
    return 1 if result.failed else 0


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line too: ``asdlab run: error: argument --seed: invalid
    int value: 'abc' (see asdlab run --help)``, exit status 2 (argparse prints the usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _executor_arguments(s, what: str) -> None:
    s.add_argument("--executor", default="local", choices=["local", "ray"],
                   help=f"where each {what} executes: local processes (default) or a Ray cluster "
                        f"(pip install 'asdlab[cluster]')")
    s.add_argument("--address", default="auto",
                   help="with --executor ray: the head's HOST:PORT, or auto (the cluster started here with ray start)")
    s.add_argument("--cpus-per-task", type=int, default=1, metavar="N",
                   help=f"CPUs (torch threads) of each {what}" + (" (default 1)" if what == "run" else
                                                                   " with --executor ray (default 1)"))


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="asdlab", description="First-shot anomalous sound detection lab (DCASE Task 2).")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="count the clips of a dataset per machine, section, split, domain, label")
    s.add_argument("root", help="dataset root (<root>/<machine>/{train,test} or <root>/{dev,eval}_data/raw/...)")
    s.add_argument("--out", help="also write the clip table to this CSV")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("methods", help="list the registered methods")
    s.set_defaults(func=cmd_methods)

    s = sub.add_parser("run", help="train and score a method, write a run folder")
    s.add_argument("method")
    s.add_argument("--data", required=True, help="dataset root")
    s.add_argument("--out", required=True, help="run folder to write")
    s.add_argument("--preset", default="course", choices=["smoke", "course", "paper"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset parameter (repeatable), e.g. --set epochs=5")
    s.add_argument("--machines", nargs="+", help="only these machine types")
    s.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda")
    s.add_argument("--precision", default="fp32", metavar="fp32|bf16",
                   help="forward passes in fp32 (default) or bf16 autocast (part of the run's identity; "
                        "see docs/performance.md for the tolerance)")
    s.add_argument("--cache", help="cache folder (default $ASDLAB_CACHE or ~/.cache/asdlab)")
    s.add_argument("--force", action="store_true", help="replace an existing run with a different configuration")
    s.add_argument("--skip-unreadable", action="store_true",
                   help="skip unreadable audio files (each one is listed) instead of stopping")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--protocol", default="auto", choices=PROTOCOL_CHOICES,
                   help="the DCASE year whose official metrics to compute (default auto: from the data's "
                        "names and layout)")
    s.add_argument("--channel", default="0", choices=["0", "1", "mean"],
                   help="channel of multi-channel clips to read: 0 (default, as the official baseline; DCASE "
                        "2026's near microphone), 1 (the far microphone) or mean")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("evaluate", help="score a submission folder like the official evaluator")
    s.add_argument("submission", help="folder with anomaly_score_*.csv and decision_result_*.csv")
    s.add_argument("--data", help="dataset root: ground truth from dev-set names or <data>/ground_truth/")
    s.add_argument("--ground-truth", help="folder with ground_truth_data/ and ground_truth_domain/")
    s.add_argument("--protocol", default="auto", choices=PROTOCOL_CHOICES,
                   help="the DCASE year whose official metrics to compute (default auto: from the ground "
                        "truth's names and layout)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("synth", help="generate the built-in DCASE-2024-like factory dataset")
    s.add_argument("--preset", default="course", choices=["smoke", "course", "paper"])
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--machines", nargs="+")
    s.add_argument("--style", default="dcase2024", choices=["dcase2024", "dcase2020"],
                   help="dcase2024: one section, source/target domains (default); dcase2020: machine IDs, no domains")
    s.add_argument("--jobs", type=int, default=1, help="parallel processes")
    s.add_argument("--force", action="store_true", help="replace an existing different dataset")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("report", help="execute the notebooks into an HTML report folder")
    s.add_argument("--data", required=True, help="dataset root")
    s.add_argument("--data-2020", help="a dcase2020-style dataset (machine IDs, e.g. asdlab synth --style dcase2020): "
                                       "notebook 02 (Figure 1, the paper's setting) runs on it")
    s.add_argument("--preset", default="course", choices=["smoke", "course", "paper"])
    s.add_argument("--out", required=True, help="report folder, e.g. reports/course")
    s.add_argument("--methods", nargs="+", help="methods to report (default: every registered method; with --data-2020 less the Figure 1 losses tastgram_ce, tastgram_linear_ce, tastgram_arcface, tastgram_arcmix, which notebook 02 trains on those data)")
    s.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    s.add_argument("--force", action="store_true",
                   help="re-execute every notebook (run folders with a matching config are still reused), "
                        "and write over a report made for other data, preset or seeds")
    s.add_argument("--seed", type=int, default=None, help="training seed (default 0)")
    s.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="several training seeds, e.g. --seeds 0 1 2: the comparison shows mean ± sd over "
                        "them; the other notebooks use the first (not with --seed)")
    s.add_argument("--notebooks", help="folder with the notebooks (default: notebooks/ of the asdlab checkout)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    _executor_arguments(s, "notebook")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("sweep", help="train a grid of methods x parameter values x seeds, locally or on a Ray "
                                     "cluster, and compare them over the seeds")
    s.add_argument("--data", required=True, help="dataset root (on a path every node reaches, with --executor ray)")
    s.add_argument("--methods", nargs="+", required=True, help="methods to train")
    s.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED", help="training seeds (default 0)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2",
                   help="values of a preset parameter (repeatable), each value one grid axis point, e.g. "
                        "--set epochs=5,10; METHOD.KEY=... for one method only")
    s.add_argument("--out", required=True, help="sweep folder: SWEEP/<method>/<key=value,...>/seed<s>, "
                                                 "sweep.json, comparison.csv")
    s.add_argument("--preset", default="course", choices=["smoke", "course", "paper"])
    s.add_argument("--jobs", type=int, default=2, help="runs at once with --executor local (default 2)")
    s.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda")
    s.add_argument("--precision", default="fp32", metavar="fp32|bf16",
                   help="every run's forward passes in fp32 (default) or bf16 autocast (see docs/performance.md)")
    s.add_argument("--cache", help="cache folder (default $ASDLAB_CACHE or ~/.cache/asdlab where each run executes)")
    s.add_argument("--quiet", action="store_true", help="only the summary line")
    _executor_arguments(s, "run")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("download", help="download an official DCASE Task 2 dataset (checksums, resume, unpack)")
    s.add_argument("dataset", nargs="?", help="dcase2020 ... dcase2026 (see --list)")
    s.add_argument("--split", default="dev", choices=["dev", "eval", "train-add"],
                   help="dev (default), train-add (training clips of the evaluation machine types) or "
                        "eval (evaluation test clips and their ground truth)")
    s.add_argument("--machines", nargs="+", help="only these machine types")
    s.add_argument("--root", help="folder that receives <dataset>/ (and archives/, the kept zip files)")
    s.add_argument("--cache", help="folder for the zip files (default <root>/archives/<dataset>)")
    s.add_argument("--list", action="store_true", help="list the known archives with sizes and checksums")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("backends", help="list the registered back ends: name, what a run needs, summary")
    s.set_defaults(func=cmd_backends)

    s = sub.add_parser("rescore", help="re-score a run folder with another back end, without retraining")
    s.add_argument("run", help="run folder to re-score")
    s.add_argument("--backend", required=True, help="back end name (see `asdlab backends`)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a back-end parameter (repeatable), e.g. --set k=3")
    s.add_argument("--out", required=True, help="run folder to write")
    s.add_argument("--decisions", default="gamma",
                   help="decision rule: gamma (default) or section_domain_percentile")
    s.add_argument("--force", action="store_true", help="replace an existing different output folder")
    s.set_defaults(func=cmd_rescore)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        tune_allocator()  # before torch allocates; report kernels and sweep workers inherit it
    except AsdlabError as err:
        print(f"asdlab: error: {err}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return args.func(args)
    except AsdlabError as err:
        print(f"asdlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, permission denied, ...: one line naming the path
        print(f"asdlab {args.command}: error: {os_error_message(err)}", file=sys.stderr)
        return 2
