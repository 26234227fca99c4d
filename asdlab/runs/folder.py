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

# Keys that identify what a run computed; the rest of config.json is provenance.
_IDENTITY = ("method", "preset", "params", "seed", "data", "data_fingerprint", "machines", "channel")
_DEFAULTS = {"channel": 0}  # what a config written before the key existed meant


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
    return json.loads(f.read_text()) if f.exists() else None


def run_method(method: str, data: str | os.PathLike, out: str | os.PathLike, preset: str = "course",
               seed: int = 0, overrides: dict | None = None, machines: list[str] | None = None,
               device: str = "auto", cache_dir: str | os.PathLike | None = None,
               force: bool = False, progress: bool = True, skip_unreadable: bool = False,
               protocol: str | None = None, channel: int | str = 0) -> Path:
    """Train and score ``method`` on the dataset at ``data`` into the run folder ``out``.

    ``preset``: smoke / course / paper; ``overrides``: parameter values replacing the preset's;
    ``machines``: restrict to these machine types; ``protocol``: the metrics' DCASE protocol
    (None or ``"auto"``: detected from the clip table); ``channel``: which channel of multi-channel
    files is read (0, 1 or ``"mean"``; :mod:`asdlab.data.audio`). Test clips of a machine type and
    section without training clips are left out (``skipped.csv`` says why). Returns the run folder.
    Holds the lock of ``out`` (:func:`asdlab.core.lock.folder_lock`) throughout: a second
    process writing the same folder stops at once with a :class:`LockedError` naming the holder.
    """
    m = get_method(method)
    out = Path(out)
    with folder_lock(out, "run folder"):  # a second process into the same --out fails here
        table = build_clip_table(data, machines=machines)
        config = {"method": method, "preset": preset, "params": m.params(preset, overrides),
                  "seed": seed, "data": str(Path(data).resolve()),
                  "data_fingerprint": data_fingerprint(table["path"]),
                  "machines": sorted(machines) if machines else None,
                  "asdlab_version": asdlab.__version__, "torch_version": torch.__version__,
                  "python": platform.python_version(), "device": device,
                  "protocol": resolve_protocol(protocol, table), "channel": check_channel(channel)}
        if out.exists():
            old = read_config(out)
            if old is not None and _identity(old) == _identity(config) and not force:
                apply_protocol(out, config["protocol"])
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
                         data_root=Path(data), channel=config["channel"])
        ctx.table, untrained = without_untrained_sections(table)
        if untrained:
            warnings.warn(f"{method}: {len(untrained)} test clip(s) left out: {untrained[0][1]} (see skipped.csv)",
                          stacklevel=2)
        torch.manual_seed(seed)
        result = m.run(ctx)
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
    scores = labelled_sections(scores)
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
                                         "n_test_clips": len(scores), "n_skipped": n_skipped})


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
    if config.get("protocol") != protocol:
        write_json(folder / "config.json", {**config, "protocol": protocol})
    if not summary_path.is_file():
        return False
    summary = json.loads(summary_path.read_text())
    if summary.get("protocol", DEFAULT_PROTOCOL if protocol == DEFAULT_PROTOCOL else None) == protocol:
        return False
    scores = pd.read_csv(folder / "scores.csv", dtype={"section": str})
    write_metrics(folder, scores, protocol, int(summary.get("n_skipped", 0)))
    return True


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
        run["summary"] = json.loads((folder / "summary.json").read_text())
        protocol = run["summary"].get("protocol")
        run["metrics"] = pd.read_csv(folder / "metrics.csv", dtype=dtypes)
        run["metrics"].attrs["protocol"] = protocol
        run["table"] = read_metrics_table(folder / "table.csv", protocol)
    return run
