"""Method registry: each method is a recipe with presets, run by :func:`asdlab.runs.run_method`.

A method's ``run(ctx)`` receives a :class:`RunContext` and returns a :class:`MethodOutput`;
everything else (run folder, submission files, metrics) is shared.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from asdlab.core.errors import ConfigError, DataError

PRESETS = ("smoke", "course", "paper")
SCORE_COLUMNS = ["file", "machine", "section", "domain", "label", "score", "decision"]
"""The columns of :attr:`MethodOutput.scores` and ``train_scores``, in order."""


def score_frame(rows: pd.DataFrame, scores) -> pd.DataFrame:
    """Clip-table ``rows`` with their ``scores`` as a scores frame (every column of
    :data:`SCORE_COLUMNS` but ``decision``, which :func:`asdlab.backends.thresholds.add_decisions` adds)."""
    out = rows[SCORE_COLUMNS[:5]].reset_index(drop=True)
    return out.assign(score=scores)


@dataclasses.dataclass
class RunContext:
    """What a method needs: the clip ``table`` (train and test rows), resolved ``params``,
    ``seed``, ``workdir`` (the run folder being written: checkpoints go here), ``cache_dir``,
    ``device`` ("auto", "cpu", "cuda"), ``progress`` bars on/off, ``skip_unreadable``, and
    ``data_root``: the dataset folder the table was read from (None when built in memory), where
    methods that measure against the factory's ground truth find it."""

    table: pd.DataFrame
    params: dict
    seed: int
    workdir: Path
    cache_dir: Path
    device: str = "auto"
    progress: bool = True
    skip_unreadable: bool = False
    data_root: Path | None = None


@dataclasses.dataclass
class MethodOutput:
    """``scores``: one row per scored test clip with columns file, machine, section, domain,
    label, score (higher = more anomalous), decision (0/1); ``train_scores``: the same for
    training clips (used for thresholds); ``skipped``: ``(path, reason)`` of unreadable clips;
    ``artifacts``: names of extra files the method wrote into the run folder."""

    scores: pd.DataFrame
    train_scores: pd.DataFrame
    skipped: list = dataclasses.field(default_factory=list)
    artifacts: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Method:
    """A registered method: ``name``, one-line ``summary``, ``presets`` name -> params dict,
    ``run(ctx) -> MethodOutput`` and ``check(params) -> params``, which validates (and may
    normalise) a parameter set before any work."""

    name: str
    summary: str
    presets: dict[str, dict]
    run: Callable[[RunContext], MethodOutput]
    check: Callable[[dict], dict] | None = None

    def params(self, preset: str, overrides: dict | None = None) -> dict:
        """The preset's parameters with ``overrides`` applied; unknown keys are an error."""
        if preset not in self.presets:
            raise ConfigError(f"method {self.name!r} has no preset {preset!r} (choose from {sorted(self.presets)})")
        params = dict(self.presets[preset])
        for key, value in (overrides or {}).items():
            if key not in params:
                raise ConfigError(f"method {self.name!r} has no parameter {key!r} (known: {sorted(params)})")
            params[key] = value
        return self.check(params) if self.check else params


def log_mels(rows: pd.DataFrame, ctx: RunContext) -> tuple[list, list]:
    """Log-mels ``(n_mels, frames)`` (dB) of the clips of ``rows`` from the feature cache, with
    ``ctx.params``' ``n_fft``, ``hop`` and ``n_mels``: ``(features, skipped)``, None in
    ``features`` for each unreadable clip skipped with ``ctx.skip_unreadable``."""
    import functools

    from asdlab.data.audio import read_many
    from asdlab.features.cache import FeatureCache
    from asdlab.features import LogMelParams
    from asdlab.train import resolve_device

    p = ctx.params
    cache = FeatureCache(ctx.cache_dir, LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"]),
                         device=str(resolve_device(ctx.device)))
    return cache.get_many(list(rows["path"]), functools.partial(read_many, skip_unreadable=ctx.skip_unreadable))


def readable_split(table: pd.DataFrame, feats: list, method: str) -> tuple[pd.DataFrame, list, np.ndarray]:
    """The rows of ``table`` whose ``feats`` entry is not None (re-indexed), their features and
    a boolean ``is_train`` per row; a :class:`DataError` naming ``method`` when no training
    clip is left."""
    keep = np.array([f is not None for f in feats], dtype=bool)
    rows = table[keep].reset_index(drop=True)
    is_train = (rows["split"] == "train").to_numpy()
    if not is_train.any():
        raise DataError(f"no readable training clips: {method} needs normal training clips")
    return rows, [f for f in feats if f is not None], is_train


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (names are unique)."""
    if method.name in REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    missing = set(PRESETS) - set(method.presets)
    if missing:
        raise ValueError(f"method {method.name!r} lacks presets {sorted(missing)}")
    REGISTRY[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method ``name``; a clear error lists the known ones."""
    _load_builtin()
    if name not in REGISTRY:
        raise ConfigError(f"unknown method {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def list_methods() -> list[Method]:
    """All registered methods, by name."""
    _load_builtin()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def _load_builtin() -> None:
    # the method modules register themselves on import
    from asdlab.methods import (autoencoder, contrastive_ae_cnn, guided_clustering, noisy_arcmix,  # noqa: F401
                                sc_adacos, sc_noisy_arcmix)
