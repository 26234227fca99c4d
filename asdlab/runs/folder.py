"""Run folders: train and score one method on one dataset, write everything it produced.

A run folder ``OUT`` holds ``config.json`` (every parameter, the seed, the data, versions),
``checkpoints/``, ``scores.csv`` and ``train_scores.csv`` (file, machine, section, domain,
label, score, decision), ``submission/`` (the official headerless CSVs), and, when the test
labels are known, ``metrics.csv`` (one row per machine and section, every official metric),
``table.csv`` (the seeds' Table 1 form with ``All (hmean)``) and ``summary.json`` (official
score and its jackknife 95 % interval, :func:`asdlab.metrics.jackknife.official_jackknife`).

Safety: the run is built in ``OUT.partial`` and renamed to ``OUT`` only when complete, so
``OUT`` never holds half a run. An interrupted run resumes from ``OUT.partial`` (training
checkpoints included) when the configuration is the same. An existing ``OUT`` with the same
configuration is reused as it is; one with a different configuration is an error unless
``force``, which replaces it only after the new run has completed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import warnings
from pathlib import Path

import pandas as pd
import torch

import asdlab
from asdlab.core.atomic import atomic_write_text
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.data import build_clip_table
from asdlab.features.cache import default_cache_dir, file_key
from asdlab.core.errors import AsdlabError
from asdlab.methods import MethodOutput, RunContext, get_method
from asdlab.core.errors import MetricsError
from asdlab.metrics import metrics_table, official_score, read_metrics_table, section_metrics
from asdlab.metrics.jackknife import official_jackknife
from asdlab.metrics.submission import write_submission

# Keys that identify what a run computed; the rest of config.json is provenance.
_IDENTITY = ("method", "preset", "params", "seed", "data", "data_fingerprint", "machines")


class RunExistsError(AsdlabError):
    """The output folder holds a run with a different configuration."""


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def data_fingerprint(paths) -> str:
    """Hash of the identity (path, size, mtime) of every clip: changes when the data do."""
    h = hashlib.sha1()
    for p in sorted(map(str, paths)):
        h.update(file_key(p).encode())
    return h.hexdigest()[:16]


def _identity(config: dict) -> dict:
    return {k: config.get(k) for k in _IDENTITY}


def read_config(folder: Path) -> dict | None:
    """``folder/config.json`` as a dict, or None when there is none."""
    f = folder / "config.json"
    return json.loads(f.read_text()) if f.exists() else None


def run_method(method: str, data: str | os.PathLike, out: str | os.PathLike, preset: str = "course",
               seed: int = 0, overrides: dict | None = None, machines: list[str] | None = None,
               device: str = "auto", cache_dir: str | os.PathLike | None = None,
               force: bool = False, progress: bool = True, skip_unreadable: bool = False) -> Path:
    """Train and score ``method`` on the dataset at ``data`` into the run folder ``out``.

    ``preset``: smoke / course / paper; ``overrides``: parameter values replacing the preset's;
    ``machines``: restrict to these machine types. Returns the run folder.
    """
    m = get_method(method)
    out = Path(out)
    table = build_clip_table(data, machines=machines)
    config = {"method": method, "preset": preset, "params": m.params(preset, overrides),
              "seed": seed, "data": str(Path(data).resolve()),
              "data_fingerprint": data_fingerprint(table["path"]),
              "machines": sorted(machines) if machines else None,
              "asdlab_version": asdlab.__version__, "torch_version": torch.__version__,
              "python": platform.python_version(), "device": device}
    if out.exists():
        old = read_config(out)
        if old is not None and _identity(old) == _identity(config) and not force:
            return out
        if not force:
            what = "a different configuration" if old is not None else "no asdlab run"
            raise RunExistsError(f"{out} already exists and holds {what}; pass --force to replace "
                                 f"it or choose another output folder")
    partial = out.with_name(out.name + ".partial")
    old_partial = read_config(partial) if partial.exists() else None
    if partial.exists() and (old_partial is None or _identity(old_partial) != _identity(config)):
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json(partial / "config.json", config)

    ctx = RunContext(table=table, params=config["params"], seed=seed, workdir=partial,
                     cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                     device=device, progress=progress, skip_unreadable=skip_unreadable,
                     data_root=Path(data))
    torch.manual_seed(seed)
    result = m.run(ctx)
    write_outputs(partial, result)
    promote(partial, out)
    return out


def stale_runs(runs_dir: str | os.PathLike) -> list[Path]:
    """The run folders under ``runs_dir`` (at any depth) that today's code would not reuse because
    their method's parameters changed shape: a parameter added or removed, or a value its schema
    now refuses (e.g. runs made before an upgrade). Re-scored runs and folders of unknown methods
    are left alone. A report removes these from its own ``runs/`` so that its notebooks retrain
    them instead of stopping on :class:`RunExistsError`."""
    from asdlab.core.errors import ConfigError
    from asdlab.methods import REGISTRY, list_methods

    list_methods()  # loads the built-in recipes
    out = []
    for f in sorted(Path(runs_dir).glob("**/config.json")):
        folder = f.parent
        if folder.name.endswith(".partial"):
            continue
        try:
            config = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        method = REGISTRY.get(config.get("method"))
        params = config.get("params")
        if method is None or "rescored_from" in config or not isinstance(params, dict):
            continue
        preset = method.presets.get(config.get("preset"))
        if preset is None:
            continue
        try:
            stale = set(params) != set(preset) or method.schema.validate(params, method.name) != params
        except ConfigError:
            stale = True
        if stale:
            out.append(folder)
    return out


def write_outputs(folder: Path, result: MethodOutput) -> None:
    """Embeddings, scores, submission files and (when labels are known) metrics of ``result``
    into ``folder``."""
    if result.embeddings is not None:
        e = result.embeddings
        save_embeddings(folder, e.meta, e.vectors, centers=e.centers, classes=e.classes)
    result.scores.to_csv(folder / "scores.csv", index=False)
    result.train_scores.to_csv(folder / "train_scores.csv", index=False)
    write_submission(result.scores, folder / "submission")
    if result.skipped:
        pd.DataFrame(result.skipped, columns=["path", "reason"]).to_csv(folder / "skipped.csv", index=False)
    if result.scores["label"].isna().any():
        warnings.warn(f"{folder.name}: some test labels are unknown (evaluation data): "
                      "submission written, metrics not computed")
        return
    sections = section_metrics(result.scores)
    sections.to_csv(folder / "metrics.csv", index=False)
    metrics_table(sections).to_csv(folder / "table.csv")
    score = official_score(sections)
    try:
        interval = official_jackknife(result.scores, score)
    except MetricsError as err:  # fewer than 2 clips of a label: no interval, the run stands
        interval = {"official_ci95": None, "official_ci95_evaluator": None, "official_interval": None,
                    "official_ci95_note": str(err)}
    write_json(folder / "summary.json", {"official_score": score, **interval,
                                         "n_test_clips": len(result.scores),
                                         "n_skipped": len(result.skipped)})


def promote(partial: Path, out: Path) -> None:
    """Rename the finished ``partial`` folder to ``out``, replacing an older run only now."""
    if out.exists():
        trash = out.with_name(out.name + ".old")
        shutil.rmtree(trash, ignore_errors=True)
        out.rename(trash)
        partial.rename(out)
        shutil.rmtree(trash)
    else:
        partial.rename(out)


def load_run(folder: str | os.PathLike) -> dict:
    """A finished run folder as a dict: ``config``, ``scores``, ``train_scores`` and, when
    present, ``metrics`` (per section), ``table`` (Table 1 form) and ``summary``."""
    folder = Path(folder)
    config = read_config(folder)
    if config is None:
        raise AsdlabError(f"{folder}: not an asdlab run folder (no config.json)")
    dtypes = {"section": str}
    run = {"config": config,
           "scores": pd.read_csv(folder / "scores.csv", dtype=dtypes),
           "train_scores": pd.read_csv(folder / "train_scores.csv", dtype=dtypes)}
    if (folder / "metrics.csv").exists():
        run["metrics"] = pd.read_csv(folder / "metrics.csv", dtype=dtypes)
        run["table"] = read_metrics_table(folder / "table.csv")
        run["summary"] = json.loads((folder / "summary.json").read_text())
    return run
