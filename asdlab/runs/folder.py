"""Run folders: train and score one method on one dataset, write everything it produced.

A run folder ``OUT`` holds ``config.json`` (every parameter, the seed, the data, versions),
``checkpoints/``, ``scores.csv`` and ``train_scores.csv`` (file, machine, section, domain, label,
score, decision), ``submission/`` (the official headerless CSVs), ``skipped.csv`` (clips left out:
unreadable, or test clips of a machine type and section without training clips), and, over the
sections whose test labels are known (:func:`labelled_sections`), ``metrics.csv`` (one row per
machine and section, every official metric), ``table.csv`` (the seeds' Table 1 form with ``All
(hmean)``, or ``All (mean)`` under the 2020 protocol) and ``summary.json`` (official score, the
``protocol`` it was computed under, and its jackknife 95 % interval,
:func:`asdlab.metrics.jackknife.official_jackknife`). The protocol
(:mod:`asdlab.metrics.protocols`) is detected from the data unless given; it is recorded in
``config.json`` too but is not part of what identifies a run: asking for another protocol reuses
the run and recomputes only its metrics. ``channel`` (which channel of multi-channel clips is read,
:mod:`asdlab.data.audio`) is part of a run's identity; configs without it mean 0.

Safety: the run is built in ``OUT.partial`` and renamed to ``OUT`` only when complete, so
``OUT`` never holds half a run. An interrupted run resumes from ``OUT.partial`` (training
checkpoints included) when the configuration is the same. An existing ``OUT`` with the same
configuration is reused as it is; one with a different configuration is an error unless
``force``, which replaces it only after the new run has completed.

Integrity: a finished run carries ``manifest.json`` (every file's size and SHA-256,
:mod:`asdlab.core.manifest`), written last, just before the rename. Every reader checks it:
:func:`load_run` and :func:`asdlab.runs.rescore.rescore` stop with one line naming the file
that differs (:class:`~asdlab.core.manifest.ManifestError`), and :func:`run_method` asked for the
same configuration again warns with that line and retrains into a fresh ``OUT.partial`` (the
damaged folder is never reused, and is replaced only when the new run is complete); a damaged
``config.json`` that cannot be read stops it in one line unless ``force``. Run folders made before
manifests existed are reused after the configuration check alone, as before.
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
from asdlab.core.lock import folder_lock
from asdlab.core.procs import remove_leftovers
from asdlab.core.manifest import ManifestError, verify_manifest, write_manifest
from asdlab.core.schema import check_out_folder, check_seed
from asdlab.train.loop import autocast, resolve_device, use_precision
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.data import build_clip_table, check_channel
from asdlab.features.cache import default_cache_dir, file_key
from asdlab.core.errors import AsdlabError
from asdlab.methods import MethodOutput, RunContext, get_method
from asdlab.core.errors import MetricsError
from asdlab.metrics.official import labelled_sections  # noqa: F401  (re-exported)
from asdlab.metrics import (DEFAULT_PROTOCOL, detect_protocol, metrics_table, official_score,
                            read_metrics_table, resolve_protocol, section_metrics)
from asdlab.metrics.jackknife import official_jackknife
from asdlab.metrics.submission import write_submission
from asdlab.runs.preflight import measurable_sections, preflight, score_missing, undecided_sections

# Keys that identify what a run computed; the rest of config.json is provenance.
_IDENTITY = ("method", "preset", "params", "seed", "data", "data_fingerprint", "machines", "channel",
             "precision")
_DEFAULTS = {"channel": 0, "precision": "fp32"}  # what a config written before the key existed meant


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
    return {k: config.get(k, _DEFAULTS.get(k)) for k in _IDENTITY}


def without_untrained_sections(table: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """``(table, skipped)``: the clip table less the test clips of a (machine, section) that has no
    training clip (e.g. DCASE 2020 evaluation IDs without the additional training set): no
    method has a normal reference for them. ``skipped``: ``(path, reason)`` of each."""
    trained = set(zip(*(table.loc[table["split"] == "train", c] for c in ("machine", "section"))))
    keep = [(m, s) in trained for m, s in zip(table["machine"], table["section"])]
    keep = pd.Series(keep, index=table.index) | (table["split"] == "train")
    gone = table[~keep]
    skipped = [(p, f"{m}/{s}: no training clips in this machine type and section, so no normal reference "
                   f"to score against") for p, m, s in zip(gone["path"], gone["machine"], gone["section"])]
    return table[keep].reset_index(drop=True), skipped


def read_config(folder: Path) -> dict | None:
    """``folder/config.json`` as a dict, or None when there is none."""
    f = folder / "config.json"
    return _read_json(f) if f.exists() else None


def _read_json(path: Path) -> dict:
    """A run folder's JSON file; an unparsable one is one line naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AsdlabError(f"{path}: not valid JSON ({err}); the run folder is damaged") from None


def run_method(method: str, data: str | os.PathLike, out: str | os.PathLike, preset: str = "course",
               seed: int = 0, overrides: dict | None = None, machines: list[str] | None = None,
               device: str = "auto", cache_dir: str | os.PathLike | None = None,
               force: bool = False, progress: bool = True, skip_unreadable: bool = False,
               protocol: str | None = None, channel: int | str = 0, precision: str = "fp32") -> Path:
    """Train and score ``method`` on the dataset at ``data`` into the run folder ``out``.

    ``preset``: smoke / course / paper; ``overrides``: parameter values replacing the preset's;
    ``machines``: restrict to these machine types; ``protocol``: the metrics' DCASE protocol
    (None or ``"auto"``: detected from the clip table); ``channel``: which channel of multi-channel
    files is read (0, 1 or ``"mean"``; :mod:`asdlab.data.audio`); ``precision``: the forward passes'
    "fp32" (default) or "bf16" (:func:`asdlab.train.loop.use_precision`; part of the run's identity,
    configs without it mean fp32). Test clips of a machine type and
    section without training clips are left out (``skipped.csv`` says why). Returns the run folder.
    Holds the lock of ``out`` (:func:`asdlab.core.lock.folder_lock`) throughout: a second
    process writing the same folder stops at once with a :class:`LockedError` naming the holder.
    """
    m = get_method(method)
    out = Path(out)
    # parameters first: a bad one stops here, before the lock file and OUT.partial exist
    params = m.params(preset, overrides)
    check_seed(seed)
    channel = check_channel(channel)
    autocast(resolve_device(device), precision)  # an unknown precision, or bf16 without autocast there
    check_out_folder(out, "run folder")
    with folder_lock(out, "run folder"):  # a second process into the same --out fails here
        table = build_clip_table(data, machines=machines)
        config = {"method": method, "preset": preset, "params": params,
                  "seed": seed, "data": str(Path(data).resolve()),
                  "data_fingerprint": data_fingerprint(table["path"]),
                  "machines": sorted(machines) if machines else None,
                  "asdlab_version": asdlab.__version__, "torch_version": torch.__version__,
                  "python": platform.python_version(), "device": device, "precision": precision,
                  "protocol": resolve_protocol(protocol, table), "channel": channel}
        damaged = False
        if out.exists():
            try:
                old = read_config(out)
            except AsdlabError:
                if not force:
                    raise
                old = None
            if old is not None and _identity(old) == _identity(config) and not force:
                try:
                    verify_manifest(out)  # False (unchecked) for runs made before manifests
                except ManifestError as err:
                    warnings.warn(f"{err}; retraining it", stacklevel=2)
                    damaged = True
                else:
                    apply_protocol(out, config["protocol"])
                    return out
            if not force and not damaged:
                what = "a different configuration" if old is not None else "no asdlab run"
                raise RunExistsError(f"{out} already exists and holds {what}; pass --force to replace "
                                     f"it or choose another output folder")
        plan = preflight(table, method, config)  # before any training; a machine with nothing to compute stops here
        if plan.lines():
            warnings.warn(f"{method}: " + "; ".join(plan.lines()), stacklevel=2)
        partial = out.with_name(out.name + ".partial")
        try:
            old_partial = read_config(partial) if partial.exists() else None
        except AsdlabError:
            old_partial = None
        if partial.exists() and (damaged or old_partial is None or _identity(old_partial) != _identity(config)):
            shutil.rmtree(partial)
        partial.mkdir(parents=True, exist_ok=True)
        remove_leftovers(partial, recursive=True)  # temporary files of a killed run (issue 16)
        write_json(partial / "config.json", config)

        ctx = RunContext(table=table, params=config["params"], seed=seed, workdir=partial,
                         cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                         device=device, progress=progress, skip_unreadable=skip_unreadable,
                         data_root=Path(data), channel=config["channel"])
        ctx.table, untrained = without_untrained_sections(table)
        if untrained:
            warnings.warn(f"{method}: {len(untrained)} test clip(s) left out: {untrained[0][1]} (see skipped.csv)",
                          stacklevel=2)
        torch.manual_seed(seed)
        with use_precision(precision):
            result = m.run(ctx)
        score_missing(result, ctx.table)  # unreadable test clips: rows the evaluator needs
        result.skipped = list(result.skipped) + untrained
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


def write_outputs(folder: Path, result: MethodOutput, protocol: str | None = None) -> None:
    """Embeddings, scores, submission files and (when labels are known) metrics of ``result``
    into ``folder``. ``protocol``: default the one in ``folder/config.json``, else the re-scored
    run's, else detected from the scores (:func:`run_protocol`)."""
    if result.embeddings is not None:
        e = result.embeddings
        save_embeddings(folder, e.meta, e.vectors, centers=e.centers, classes=e.classes)
    result.scores.to_csv(folder / "scores.csv", index=False)
    result.train_scores.to_csv(folder / "train_scores.csv", index=False)
    write_submission(result.scores, folder / "submission")
    if result.skipped:
        pd.DataFrame(result.skipped, columns=["path", "reason"]).to_csv(folder / "skipped.csv", index=False)
    if result.scores["label"].isna().any():
        if labelled_sections(result.scores).empty:
            warnings.warn(f"{folder.name}: the test labels are unknown (evaluation data): "
                          "submission written, metrics not computed")
            return
        warnings.warn(f"{folder.name}: some sections' test labels are unknown (evaluation data): "
                      "metrics computed on the labelled sections only")
    write_metrics(folder, result.scores, protocol or run_protocol(folder, result.scores), len(result.skipped))


def write_metrics(folder: Path, scores: pd.DataFrame, protocol: str, n_skipped: int = 0) -> None:
    """``metrics.csv``, ``table.csv`` and ``summary.json`` of ``scores`` under ``protocol``, on the
    sections whose test labels are all known (:func:`labelled_sections`)."""
    not_computed = undecided_sections(scores)
    scores, unmeasured = measurable_sections(labelled_sections(scores), protocol)
    not_computed += unmeasured
    if unmeasured:
        warnings.warn(f"{folder.name}: " + "; ".join(unmeasured), stacklevel=2)
    if scores.empty:
        return
    sections = section_metrics(scores, protocol)
    atomic_write_text(folder / "metrics.csv", sections.to_csv(index=False))
    atomic_write_text(folder / "table.csv", metrics_table(sections).to_csv())
    score = official_score(sections)
    try:
        interval = official_jackknife(scores, score, protocol)
    except MetricsError as err:  # fewer than 2 clips of a label: no interval, the run stands
        interval = {"official_ci95": None, "official_ci95_evaluator": None, "official_interval": None,
                    "official_ci95_note": str(err)}
    write_json(folder / "summary.json", {"official_score": score, "protocol": protocol, **interval,
                                         "n_test_clips": len(scores), "n_skipped": n_skipped,
                                         **({"not_computed": not_computed} if not_computed else {})})


def run_protocol(folder: Path, scores: pd.DataFrame) -> str:
    """The protocol of the run being written in ``folder``: its ``config.json``'s, else (a re-scored
    run) the source run's, else :func:`asdlab.metrics.detect_protocol` of ``scores``."""
    config = read_config(folder) or {}
    if config.get("protocol"):
        return config["protocol"]
    source = Path(config["rescored_from"]) if config.get("rescored_from") else None
    for f in ((source / "summary.json", source / "config.json") if source else ()):
        if f.is_file():
            found = json.loads(f.read_text()).get("protocol")
            if found:
                return found
    return detect_protocol(scores)


def apply_protocol(folder: Path, protocol: str) -> bool:
    """Recompute a finished run's metrics when they were computed under another protocol (runs made
    before protocols were recorded count as :data:`~asdlab.metrics.DEFAULT_PROTOCOL` when the
    data called for it). Records ``protocol`` in ``config.json``. True when it rewrote them."""
    config = read_config(folder)
    summary_path = folder / "summary.json"
    if config is None:
        return False
    checked = (folder / "manifest.json").is_file()  # rewritten after any change (verified before)
    if config.get("protocol") != protocol:
        write_json(folder / "config.json", {**config, "protocol": protocol})
        if checked:
            write_manifest(folder)
    if not summary_path.is_file():
        return False
    summary = json.loads(summary_path.read_text())
    if summary.get("protocol", DEFAULT_PROTOCOL if protocol == DEFAULT_PROTOCOL else None) == protocol:
        return False
    scores = pd.read_csv(folder / "scores.csv", dtype={"section": str})
    write_metrics(folder, scores, protocol, int(summary.get("n_skipped", 0)))
    if checked:
        write_manifest(folder)
    return True


def promote(partial: Path, out: Path) -> None:
    """Write the manifest of the finished ``partial`` folder (:func:`asdlab.core.manifest.write_manifest`),
    then rename it to ``out``, replacing an older run only now."""
    write_manifest(partial)
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
    present, ``metrics`` (per section), ``table`` (Table 1 form) and ``summary``. The folder's
    manifest is checked first (:class:`~asdlab.core.manifest.ManifestError` naming the file that
    differs); a file that cannot be parsed is an :class:`AsdlabError` naming it."""
    folder = Path(folder)
    config = read_config(folder)
    if config is None:
        raise AsdlabError(f"{folder}: not an asdlab run folder (no config.json)")
    verify_manifest(folder)
    dtypes = {"section": str}
    run = {"config": config,
           "scores": _read_csv(folder / "scores.csv", dtype=dtypes),
           "train_scores": _read_csv(folder / "train_scores.csv", dtype=dtypes)}
    if (folder / "metrics.csv").exists():
        run["summary"] = _read_json(folder / "summary.json")
        protocol = run["summary"].get("protocol")
        run["metrics"] = _read_csv(folder / "metrics.csv", dtype=dtypes)
        run["metrics"].attrs["protocol"] = protocol
        run["table"] = read_metrics_table(folder / "table.csv", protocol)
    return run


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    """``pd.read_csv`` of a run folder's table; an empty or unparsable one is one line naming it."""
    try:
        return pd.read_csv(path, **kw)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise AsdlabError(f"{path}: cannot be read as a CSV table ({str(err).splitlines()[0]}); "
                          "the run folder is damaged") from None
