"""``raw_spec``: the no-learning reference (ASDKit's raw-feature recipes). Each clip's embedding is
its time-averaged log-mel ``(n_mels,)`` in dB; a registered back end scores it (default: k-means
cosine, 16 source centroids + every target clip per section, chosen on factory data of seeds 1 and
2). It shows what training adds. Parameters and the choice: ``docs/methods/raw_spec.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from asdlab.backends import backend_class, get_backend
from asdlab.core.schema import Choice, Int, Schema
from asdlab.methods import (Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, log_mels,
                            readable_split, register)

NAME = "raw_spec"
BACKENDS = ("kmeans", "knn", "gmm", "mahalanobis")
"""The registered back ends that score plain embeddings (no class head, no residuals)."""

_BASE = dict(n_mels=128, n_fft=1024, hop=512, backend="kmeans")
PRESETS = {"smoke": dict(_BASE), "course": dict(_BASE), "paper": dict(_BASE)}  # nothing to train
SCHEMA = Schema({"n_mels": Int(1), "n_fft": Int(1), "hop": Int(1), "backend": Choice(*BACKENDS)})


def time_average(mel: np.ndarray) -> np.ndarray:
    """``(n_mels,)`` float64: the mean over frames of a log-mel ``(n_mels, T)``."""
    return mel.mean(axis=1, dtype=np.float64)


def default_backend(p: dict, seed: int = 0) -> tuple[str, dict]:
    """``p["backend"]`` with its default parameters (and the run's seed where it has one)."""
    return p["backend"], ({"seed": seed} if "seed" in backend_class(p["backend"]).params else {})


def _run(ctx: RunContext) -> MethodOutput:
    feats, skipped = log_mels(ctx.table, ctx, reduce=time_average)  # each clip's average, as it is loaded
    rows, feats, is_train = readable_split(ctx.table, feats, NAME)
    emb = np.stack(feats).astype(np.float32)
    meta = clip_meta(rows)
    name, kwargs = default_backend(ctx.params, ctx.seed)
    scorer = get_backend(name, **kwargs).fit(emb[is_train], meta[is_train])
    s_train, s_test = scorer.score(emb[is_train], meta[is_train]), scorer.score(emb[~is_train], meta[~is_train])
    return finish(rows[is_train], rows[~is_train], s_train, s_test,
                  embeddings=Embeddings(pd.concat([meta[is_train], meta[~is_train]], ignore_index=True),
                                        np.concatenate([emb[is_train], emb[~is_train]])),
                  skipped=skipped)


register(Method(NAME, "no learning: each clip's time-averaged log-mel scored by a back end (default: k-means "
                      "cosine)", PRESETS, _run, SCHEMA, default_backend))
