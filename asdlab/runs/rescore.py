"""Re-scoring a run folder with another back end, without retraining.

:func:`rescore` reads what a run saved (``embeddings.npy`` / ``.csv``, ``centers.npy``,
``subcluster_centers.npy``, the AE's ``residuals.npz``), fits a registered back end
(:mod:`asdlab.backends.registry`) on the training clips, scores training and test clips, and
writes a complete run folder through the same path as :func:`~asdlab.runs.folder.run_method`
(built in ``OUT.partial``, renamed when complete). Its ``config.json`` names the source run, the
back end and its parameters. A run's own back end (:func:`default_backend`) with the run's
parameters reproduces its scores exactly. The source run's manifest is checked before it is read
(:mod:`asdlab.core.manifest`), and the output folder is written under its lock
(:func:`asdlab.core.lock.folder_lock`), like a run's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import asdlab
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.artifacts.residuals import RESIDUAL_FILES, load_residuals
from asdlab.backends.registry import NEED_FILES, backend_class, check_params, list_backends
from asdlab.backends.thresholds import DECISION_RULES
from asdlab.core.errors import AsdlabError, ConfigError, DataError
from asdlab.core.lock import folder_lock
from asdlab.core.manifest import ManifestError, verify_manifest
from asdlab.methods import MethodOutput, finish, get_method, score_frame
from asdlab.runs.folder import RunExistsError, promote, read_config, data_fingerprint, write_json, write_outputs

COPIED = ("embeddings.npy", "embeddings.csv", "centers.npy", "classes.csv", "subcluster_centers.npy",
          "linear_head.npz", *RESIDUAL_FILES)
"""Files of the source run copied into a re-scored run (so that it can be re-scored in turn)."""

_IDENTITY = ("rescored_from", "source_fingerprint", "backend", "backend_params", "decisions")
_SOURCE_DEFAULTS = {"channel": 0, "precision": "fp32"}  # copied from the source run (what its absence meant)


@dataclasses.dataclass
class RunInputs:
    """What a run folder holds for back ends: its ``config``, ``available`` needs (see
    :data:`~asdlab.backends.registry.NEED_FILES`), ``embeddings`` ``(N, D)`` with ``meta``,
    ``centers`` ``(C, D)``, ``subcluster_centers`` ``(C, K, D)``, ``residuals``
    (:func:`~asdlab.artifacts.residuals.load_residuals`) and ``linear_head`` (``{"weight": (C, D),
    "bias": (C,)}`` of ``linear_head.npz``), each None when absent."""

    folder: Path
    config: dict
    available: frozenset
    embeddings: np.ndarray | None = None
    meta: pd.DataFrame | None = None
    centers: np.ndarray | None = None
    subcluster_centers: np.ndarray | None = None
    residuals: dict | None = None
    linear_head: dict | None = None

    def arrays(self, kind: str) -> tuple[np.ndarray, pd.DataFrame]:
        """``(X, meta)`` of every clip for a back end whose input is ``kind``."""
        if kind == "embeddings":
            return self.embeddings, self.meta
        if kind == "residual_mean":
            return self.residuals["mean"], self.residuals["meta"]
        return self.residuals["mse"][:, None], self.residuals["meta"]


def load_inputs(run_dir: str | os.PathLike) -> RunInputs:
    """The back-end inputs of the run folder ``run_dir`` (an :class:`AsdlabError` if it is none,
    a :class:`~asdlab.core.manifest.ManifestError` naming the file if it differs from its manifest)."""
    folder = Path(run_dir)
    config = read_config(folder)
    if config is None:
        raise AsdlabError(f"{folder}: not an asdlab run folder (no config.json)")
    verify_manifest(folder)
    available = frozenset(k for k, f in NEED_FILES.items() if (folder / f).exists())
    out = RunInputs(folder, config, available)
    if "embeddings" in available:
        e = load_embeddings(folder)
        out.embeddings, out.meta, out.centers = e["embeddings"], e["meta"], e["centers"]
        if (folder / "subcluster_centers.npy").exists():
            out.subcluster_centers = np.load(folder / "subcluster_centers.npy")
    if "residuals" in available:
        out.residuals = load_residuals(folder)
    if "linear_head" in available:
        with np.load(folder / NEED_FILES["linear_head"]) as f:
            out.linear_head = {k: f[k] for k in f.files}
    return out


def default_backend(config: dict) -> tuple[str, dict] | None:
    """The registered back end and parameters with which the method of a run's ``config`` scored
    its clips (:meth:`asdlab.methods.Method.default_backend`), or None when no registered back end
    reproduces it (ensembles, per-machine models)."""
    return get_method(config["method"]).default_backend(config.get("params") or {}, config.get("seed", 0))


def backend_params(name: str, inputs: RunInputs, params: dict | None = None) -> dict:
    """The checked parameters of back end ``name`` for the run: its defaults, the run's own
    parameters when ``name`` is the run's back end, the run's seed for a ``seed`` parameter,
    then ``params``."""
    cls = backend_class(name)
    base = {}
    if "seed" in cls.params:
        base["seed"] = int(inputs.config.get("seed", 0))
    own = default_backend(inputs.config)
    if own is not None and own[0] == name and cls.requires(own[1]) <= inputs.available:
        base.update(own[1])  # (a run saved before its back end's files were kept: the defaults)
    return check_params(name, {**base, **(params or {})})


def refuse_missing(name: str, params: dict, inputs: RunInputs) -> None:
    """An :class:`AsdlabError` naming the run folder and the file back end ``name`` needs that
    the run lacks."""
    missing = sorted(backend_class(name).requires(params) - inputs.available)
    if missing:
        files = ", ".join(NEED_FILES[m] for m in missing)
        raise AsdlabError(f"{inputs.folder}: back end {name!r} needs {files}, which this run folder lacks")


def fit_score(name: str, params: dict, inputs: RunInputs) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Fit back end ``name`` with checked ``params`` on the run's training clips and score them
    and the test clips: ``(train_meta, test_meta, train_scores, test_scores)``."""
    refuse_missing(name, params, inputs)
    cls = backend_class(name)
    arrays = {"centers": inputs.centers, "subcluster_centers": inputs.subcluster_centers,
              "residual_stats": None if inputs.residuals is None else inputs.residuals["stats"],
              "linear_head": inputs.linear_head}
    scorer = cls(**params, **{a: arrays[a] for a in cls.artifacts if arrays.get(a) is not None})
    x, meta = inputs.arrays(scorer.input_kind())
    tr = (meta["split"] == "train").to_numpy()
    if not tr.any():
        raise DataError(f"{inputs.folder}: the run has no training clips to fit back end {name!r} on")
    train_meta, test_meta = meta[tr].reset_index(drop=True), meta[~tr].reset_index(drop=True)
    scorer.fit(x[tr], train_meta)
    return train_meta, test_meta, scorer.score(x[tr], train_meta), scorer.score(x[~tr], test_meta)


def applicable_backends(run_dir: str | os.PathLike) -> list[str]:
    """The registered back ends whose needs the run folder ``run_dir`` meets, in registry order."""
    inputs = run_dir if isinstance(run_dir, RunInputs) else load_inputs(run_dir)
    return [cls.name for cls in list_backends() if cls.requires(cls.defaults()) <= inputs.available]


def _skipped(folder: Path) -> list:
    f = folder / "skipped.csv"
    return list(pd.read_csv(f).itertuples(index=False, name=None)) if f.exists() else []


def rescore(run_dir: str | os.PathLike, backend: str, out: str | os.PathLike, params: dict | None = None,
            decisions: str = "gamma", force: bool = False) -> Path:
    """Re-score the run folder ``run_dir`` with back end ``backend`` (``params`` override its
    defaults; see :func:`backend_params`) into a complete run folder ``out``: scores, training
    scores, submission, metrics, table, summary, the source's embeddings / centers / residuals
    copied, and ``config.json`` naming the source run, the back end and its parameters.

    ``decisions``: a rule of :data:`asdlab.backends.thresholds.DECISION_RULES`. An existing
    ``out`` made the same way from the same files is reused (re-made, with a warning, when it
    differs from its manifest); one made otherwise is an error unless ``force``. Holds the lock of
    ``out`` while it reads and writes (a second writer stops with a
    :class:`~asdlab.core.lock.LockedError` naming the holder). Returns ``out``.
    """
    run_dir, out = Path(run_dir), Path(out)
    if out.resolve() == run_dir.resolve():
        raise ConfigError(f"{out}: the output folder must differ from the run folder it re-scores")
    if decisions not in DECISION_RULES:
        raise ConfigError(f"unknown decision rule {decisions!r}; choose from {', '.join(DECISION_RULES)}")
    backend_class(backend)
    with folder_lock(out, "run folder"):
        return _rescore(run_dir, backend, out, params, decisions, force)


def _rescore(run_dir: Path, backend: str, out: Path, params: dict | None, decisions: str, force: bool) -> Path:
    inputs = load_inputs(run_dir)
    params = backend_params(backend, inputs, params)
    refuse_missing(backend, params, inputs)
    src = inputs.config
    config = {**{k: src.get(k) for k in ("method", "preset", "params", "seed", "data", "data_fingerprint",
                                          "machines")},
              **{k: src.get(k, default) for k, default in _SOURCE_DEFAULTS.items()},
              "rescored_from": str(run_dir.resolve()),
              "source_fingerprint": data_fingerprint([run_dir / f for f in COPIED if (run_dir / f).exists()]),
              "backend": backend, "backend_params": params, "decisions": decisions,
              "asdlab_version": asdlab.__version__, "torch_version": torch.__version__,
              "python": platform.python_version()}
    if out.exists():
        try:
            old = read_config(out)
        except AsdlabError:  # an unreadable config.json: replaced only with force
            if not force:
                raise
            old = None
        same = old is not None and all(old.get(k) == json.loads(json.dumps(config[k])) for k in _IDENTITY)
        if same and not force:
            try:
                verify_manifest(out)
                return out
            except ManifestError as err:
                warnings.warn(f"{err}; re-scoring it", stacklevel=3)
                force = True
        if not force:
            what = "a different configuration" if old is not None else "no asdlab run"
            raise RunExistsError(f"{out} already exists and holds {what}; pass --force to replace "
                                 f"it or choose another output folder")
    train_meta, test_meta, s_train, s_test = fit_score(backend, params, inputs)
    result: MethodOutput = finish(train_meta, test_meta, s_train, s_test, decisions=decisions,
                                  skipped=_skipped(run_dir))
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write_json(partial / "config.json", config)
    for f in COPIED:
        if (run_dir / f).exists():
            shutil.copyfile(run_dir / f, partial / f)
    write_outputs(partial, result)
    promote(partial, out)
    return out


def score_table(name: str, inputs: RunInputs, params: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """The test-clip score frame (file, machine, section, domain, label, score) of back end
    ``name`` on the run, in memory, with the parameters used."""
    p = backend_params(name, inputs, params)
    _, test_meta, _, s_test = fit_score(name, p, inputs)
    return score_frame(test_meta, s_test), p
