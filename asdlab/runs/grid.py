"""Sweeps: every method x parameter value x training seed of a grid, one run folder each, run on an
executor (:mod:`asdlab.runs.executors`: local processes or a Ray cluster).

``asdlab sweep --methods ae_mse ae_mahala --seeds 0 1 --set epochs=5,10 --out SWEEP`` is
:func:`expand_grid` (8 :class:`RunSpec`) then :func:`run_sweep`. Layout under ``SWEEP``:

- ``<method>/<key=value,...>/seed<s>/``: one run folder (:func:`asdlab.runs.run_method`) per
  grid point; keys sorted, ``default`` when no ``--set`` applies to the method. Characters other
  than letters, digits and ``._+-=,[]`` become ``_`` and the folder name then ends in ``~`` and 8
  hex digits of the exact values, so two grid points never share a folder;
- ``sweep.json``: the grid (data, preset, methods, seeds, ``--set`` axes, every run and its folder);
- ``comparison.csv``: written by ``asdlab sweep`` from the finished runs (mean ± sd over seeds).

``--set KEY=V1,V2`` gives a key several values (commas inside ``[...]``, ``{...}`` or quotes do
not split: ``--set ks=[2,4],[8]``); ``--set METHOD.KEY=...`` applies to that method only. Each
value is read as ``asdlab run --set`` reads it (JSON, else None / True / False, else the text)
and checked by the method's schema; a key a method does not have is a :class:`ConfigError`
naming both, before anything runs. A run folder that already holds a finished run of the same
configuration (what :func:`~asdlab.runs.run_method` would reuse) is skipped, so a re-run only
trains what is missing; one holding another configuration stops the sweep before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from itertools import product
from pathlib import Path
from typing import Callable

from asdlab.core.atomic import atomic_write_text
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.core.lock import WAIT_ENV, folder_lock
from asdlab.core.schema import check_out_folder
from asdlab.runs.seeds import check_seeds

SWEEP_FILE = "sweep.json"
COMPARISON_FILE = "comparison.csv"
DEFAULT_LABEL = "default"
"""Folder name of a method's runs when no ``--set`` applies to it."""
LOCK_WAIT_S = 120.0
"""Seconds a run waits for its folder's lock: a retried run may start while the killed attempt's
process is still going away."""

_PY_LITERALS = {"None": None, "True": True, "False": False}
_SAFE = re.compile(r"[^A-Za-z0-9._+\-=,\[\]]")
_MAX_LABEL = 100


def parse_value(text: str):
    """One ``--set`` value as ``asdlab run`` reads it: JSON (``5``, ``1e-4``, ``[2,4]``,
    ``"x"``), else ``None`` / ``True`` / ``False``, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _PY_LITERALS.get(text.strip(), text)


def split_values(text: str) -> list[str]:
    """``"1,[2,3],'a,b'"`` -> ``["1", "[2,3]", "'a,b'"]``: split at the commas outside brackets,
    braces and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@dataclasses.dataclass(frozen=True)
class Axis:
    """One ``--set``: ``key`` takes each of ``values`` in turn; ``method``: only for that method
    (None: every method)."""

    key: str
    values: tuple
    method: str | None = None
    text: str = ""


def parse_sets(items, methods: list[str]) -> list[Axis]:
    """The ``--set`` items (``KEY=V1,V2`` or ``METHOD.KEY=V1,V2``) as :class:`Axis` objects;
    ``methods``: the sweep's method names. One :class:`ConfigError` line for a malformed item, an
    empty value, a key given twice or a method prefix that is not in ``methods``."""
    axes, seen = [], set()
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE[,VALUE...] or METHOD.KEY=..., got {item!r}")
        method, dot, name = key.rpartition(".")
        method = method if dot else None
        if method is not None and method not in methods:
            raise ConfigError(f"--set {item}: method {method!r} is not in the sweep's --methods "
                              f"({', '.join(methods)})")
        texts = split_values(values)
        if any(not t.strip() for t in texts):
            raise ConfigError(f"--set {item}: an empty value (give KEY=V1,V2 without empty entries)")
        if (method, name) in seen:
            raise ConfigError(f"--set {key} is given twice; list its values once: {name}=V1,V2")
        seen.add((method, name))
        axes.append(Axis(name, tuple(parse_value(t) for t in texts), method, item))
    return axes


def _value_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def overrides_label(overrides: dict) -> str:
    """Folder name of a parameter combination: ``"epochs=5,lr=0.001"`` (keys sorted),
    :data:`DEFAULT_LABEL` when empty; see the module doc for unsafe characters."""
    if not overrides:
        return DEFAULT_LABEL
    plain = ",".join(f"{k}={_value_text(overrides[k])}" for k in sorted(overrides))
    safe = _SAFE.sub("_", plain)
    if safe != plain or len(safe) > _MAX_LABEL:
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        safe = f"{safe[:_MAX_LABEL]}~{digest}"
    return safe


@dataclasses.dataclass
class RunSpec:
    """One run of a sweep: ``method``, training ``seed``, parameter ``overrides`` of the preset,
    and ``folder``, its run folder relative to the sweep folder
    (``<method>/<label>/seed<seed>``)."""

    method: str
    seed: int
    overrides: dict
    folder: str

    @property
    def label(self) -> str:
        """The folder name of its overrides (:func:`overrides_label`)."""
        return overrides_label(self.overrides)

    @property
    def name(self) -> str:
        """What the comparison calls its (method, overrides) row: ``"ae_mse"`` or ``"ae_mse
        epochs=5"``."""
        return self.method if not self.overrides else f"{self.method} {self.label}"

    def as_dict(self) -> dict:
        return {"method": self.method, "seed": self.seed, "overrides": self.overrides, "folder": self.folder}


def expand_grid(methods, seeds, sets=(), preset: str = "course") -> list[RunSpec]:
    """Every run of the grid: for each method (in the order given), each combination of the values
    of the ``--set`` items (``sets``: strings, :func:`parse_sets`) that apply to it, each seed.

    Every combination is checked by the method's schema at ``preset`` before this returns (one
    :class:`ConfigError` line naming the method and parameter), so a sweep with a bad value or a
    key that a method lacks stops before any run starts."""
    from asdlab.methods import get_method

    if isinstance(methods, str) or not methods:
        raise ConfigError("--methods: give at least one method, e.g. --methods raw_spec ae_mse")
    names = [get_method(m).name for m in methods]
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise ConfigError(f"--methods: {twice[0]} is given more than once")
    seeds = check_seeds(list(seeds), "--seeds")
    axes = parse_sets(list(sets), names)
    specs = []
    for name in names:
        method = get_method(name)
        mine = [a for a in axes if a.method in (None, name)]
        keys = [a.key for a in mine]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ConfigError(f"--set {dup[0]} and --set {name}.{dup[0]} both apply to {name}; give one")
        for axis in mine:
            if axis.key not in method.presets.get(preset, {}):
                method.params(preset)  # an unknown preset says so first
                raise ConfigError(f"--set {axis.text}: method {name!r} has no parameter {axis.key!r} "
                                  f"(known: {', '.join(sorted(method.presets[preset]))}); give it as "
                                  f"METHOD.{axis.key}=... for the methods that have it")
        for combo in product(*(a.values for a in mine)):
            overrides = dict(zip(keys, combo))
            try:
                method.params(preset, overrides)
            except ConfigError as err:
                raise ConfigError(f"--set {', '.join(f'{k}={_value_text(v)}' for k, v in overrides.items())}: "
                                  f"{err}") from None
            label = overrides_label(overrides)
            specs += [RunSpec(name, s, overrides, f"{name}/{label}/seed{s}") for s in seeds]
    return specs


def run_one(method: str, data: str, folder: str, preset: str, seed: int, overrides: dict,
            device: str = "auto", cache_dir: str | None = None, threads: int = 1, precision: str = "fp32") -> dict:
    """One run of a sweep, where an executor runs it (a local process or a Ray task):
    :func:`asdlab.runs.run_method` with ``threads`` torch threads (the same count everywhere, so the
    scores do not depend on the executor) and its forward passes in ``precision``, waiting up to :data:`LOCK_WAIT_S` for its folder's
    lock. Returns ``{"folder", "official_score" (or None), "seconds", "host", "pid"}``."""
    import socket

    import torch

    from asdlab.runs.folder import run_method

    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault(WAIT_ENV, str(LOCK_WAIT_S))
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_method(method, data, folder, preset=preset, seed=seed, overrides=overrides, device=device,
                         cache_dir=cache_dir, progress=False, precision=precision)
    summary = out / "summary.json"
    score = json.loads(summary.read_text()).get("official_score") if summary.is_file() else None
    return {"folder": str(out), "official_score": score, "seconds": round(time.time() - t0, 2),
            "host": socket.gethostname(), "pid": os.getpid()}


@dataclasses.dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`: the sweep folder ``out``, every ``specs`` entry, the folders
    (relative) ``skipped`` as finished, ``done`` now (folder -> :func:`run_one`'s dict) and
    ``failed`` (folder -> one-line error)."""

    out: Path
    specs: list[RunSpec]
    skipped: list[str]
    done: dict[str, dict]
    failed: dict[str, str]

    def runs(self) -> dict[str, dict[int, Path]]:
        """``{name: {seed: folder}}`` of the finished runs, grid order: what
        :func:`asdlab.analysis.compare.seed_compare_table` takes."""
        out: dict[str, dict[int, Path]] = {}
        for spec in self.specs:
            if spec.folder in self.failed:
                continue
            out.setdefault(spec.name, {})[spec.seed] = self.out / spec.folder
        return out


def _identity(config: dict) -> dict:
    from asdlab.runs.folder import _identity as identity

    return identity(config)


def check_folders(specs: list[RunSpec], out: Path, data, preset: str, precision: str = "fp32") -> list[str]:
    """The folders (relative to ``out``) of ``specs`` that hold a finished run of the same
    configuration (:func:`asdlab.runs.run_method` would reuse it), to be skipped. A folder that
    holds another configuration is a :class:`ConfigError` naming it and what differs."""
    from asdlab.core.manifest import ManifestError, verify_manifest
    from asdlab.data import build_clip_table
    from asdlab.methods import get_method
    from asdlab.runs.folder import data_fingerprint, read_config

    existing = [s for s in specs if (out / s.folder / "config.json").is_file()]
    if not existing:
        return []
    table = build_clip_table(data)
    common = {"preset": preset, "data": str(Path(data).resolve()),
              "data_fingerprint": data_fingerprint(table["path"]), "machines": None, "channel": 0,
              "precision": precision}
    finished = []
    for spec in existing:
        folder = out / spec.folder
        want = _identity({**common, "method": spec.method, "seed": spec.seed,
                          "params": get_method(spec.method).params(preset, spec.overrides)})
        try:
            have = _identity(read_config(folder))
        except AsdlabError:
            continue  # damaged: run_method says so when it gets there
        if have != want:
            diff = ", ".join(k for k in want if have.get(k) != want[k])
            raise ConfigError(f"{folder} holds a run of another configuration ({diff} differ); remove it or "
                              f"choose another --out")
        try:
            verify_manifest(folder)
        except ManifestError:
            continue  # damaged: retrained
        finished.append(spec.folder)
    return finished


def write_sweep_json(out: Path, specs: list[RunSpec], grid: dict) -> None:
    """``out/sweep.json``: ``grid`` (data, preset, methods, seeds, sets, ...) and every run."""
    import asdlab

    record = {"asdlab_version": asdlab.__version__, **grid, "runs": [s.as_dict() for s in specs]}
    atomic_write_text(out / SWEEP_FILE, json.dumps(record, indent=2, default=str) + "\n")


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_sweep(specs: list[RunSpec], data, out, executor, preset: str = "course", device: str = "auto",
              cache_dir=None, grid: dict | None = None, log: Callable[[str], None] | None = print,
              precision: str = "fp32") -> SweepResult:
    """Run every spec not finished yet on ``executor`` (:class:`asdlab.runs.executors.Executor`)
    into ``out/<spec.folder>``, forward passes in ``precision`` ("fp32" / "bf16"); returns a
    :class:`SweepResult`.

    Holds the lock of ``out`` throughout (a second sweep into it stops at once). Writes
    ``out/sweep.json`` (``grid`` plus the runs) first. A failing run does not stop the others; it
    is in ``result.failed``. ``log``: one line per event (None: silent). On an interrupt the
    executor's work is cancelled and the finished runs stay (a re-run goes on from there)."""
    say = log or (lambda _m: None)
    out = Path(out).expanduser().resolve()
    data = str(Path(data).expanduser().resolve())
    if not Path(data).is_dir():
        raise ConfigError(f"--data {data}: no such folder")
    check_out_folder(out, "sweep folder")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "sweep folder"):
        skipped = check_folders(specs, out, data, preset, precision)
        write_sweep_json(out, specs, {"data": data, "preset": preset, "precision": precision, **(grid or {})})
        todo = [s for s in specs if s.folder not in skipped]
        say(f"sweep {out}: {len(specs)} run(s); {len(skipped)} finished run(s) skipped; "
            f"{len(todo)} to run on {executor.describe()}")
        done, failed, running = {}, {}, {}
        try:
            for spec in todo:
                fut = executor.submit(run_one, spec.method, data, str(out / spec.folder), preset, spec.seed,
                                      spec.overrides, device, None if cache_dir is None else str(cache_dir),
                                      executor.threads, precision)
                running[fut] = spec
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    spec = running.pop(fut)
                    try:
                        info = done[spec.folder] = fut.result()
                    except Exception as err:  # one failed run does not stop the others
                        failed[spec.folder] = _one_line(err)
                        say(f"  FAILED  {spec.folder}: {failed[spec.folder]}")
                        continue
                    score = info.get("official_score")
                    shown = "no metrics" if score is None else f"{100 * score:.2f} %"
                    say(f"  ok      {spec.folder} ({shown}, {info['seconds']:.1f} s on {info['host']}, "
                        f"pid {info['pid']})")
        except BaseException:
            executor.cancel()
            raise
    return SweepResult(out=out, specs=specs, skipped=skipped, done=done, failed=failed)
