"""AutoEncoder residual statistics saved in a run folder, so that the ``mse`` and residual
``mahalanobis`` back ends re-score an AE run exactly, without its model.

Files: ``residuals.npz`` with, per clip (row-aligned with ``residuals.csv``), ``mse`` ``(N,)``
float64 (mean squared residual over all vectors and dims) and ``mean`` ``(N, F)`` float32 (the
mean per-frame residual, F = n_mels); and per (machine, section, domain) of the training clips
``group_machine`` / ``group_section`` / ``group_domain`` ``(G,)``, ``group_count`` ``(G,)`` (number
of frames), ``group_sum`` ``(G, F)`` and ``group_scatter`` ``(G, F, F)`` float64 (the sum of outer
products of the frames centred at their mean, see :func:`asdlab.backends.residual.residual_stats`).
``residuals.csv``: the clip metadata (the columns of :data:`EMBEDDING_COLUMNS`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.artifacts.embeddings import EMBEDDING_COLUMNS
from asdlab.core.atomic import atomic_write
from asdlab.core.errors import AsdlabError

RESIDUAL_FILES = ("residuals.npz", "residuals.csv")


def save_residuals(folder: str | os.PathLike, meta: pd.DataFrame, mse: np.ndarray, mean: np.ndarray,
                   stats: dict) -> list[str]:
    """Write the per-clip ``mse`` ``(N,)`` and ``mean`` ``(N, F)`` with their row-aligned ``meta``
    and ``stats`` ``{(machine, section, domain): (count, sum (F,), scatter (F, F))}``; returns
    the file names written."""
    folder = Path(folder)
    if not len(meta) == len(mse) == len(mean):
        raise ValueError(f"{len(meta)} metadata rows, {len(mse)} MSEs and {len(mean)} mean residuals")
    keys = sorted(stats)
    dim = np.asarray(mean).shape[1]
    arrays = {
        "mse": np.asarray(mse, dtype=np.float64), "mean": np.asarray(mean, dtype=np.float32),
        "group_machine": np.array([k[0] for k in keys], dtype=str),
        "group_section": np.array([k[1] for k in keys], dtype=str),
        "group_domain": np.array([k[2] for k in keys], dtype=str),
        "group_count": np.array([stats[k][0] for k in keys], dtype=np.int64),
        "group_sum": np.array([stats[k][1] for k in keys], dtype=np.float64).reshape(len(keys), dim),
        "group_scatter": np.array([stats[k][2] for k in keys], dtype=np.float64).reshape(len(keys), dim, dim)}
    atomic_write(folder / "residuals.npz", lambda fh: np.savez(fh, **arrays))
    atomic_write(folder / "residuals.csv", lambda fh: meta[EMBEDDING_COLUMNS].to_csv(fh, index=False), text=True)
    return list(RESIDUAL_FILES)


def load_residuals(folder: str | os.PathLike) -> dict:
    """``{"meta": DataFrame, "mse": (N,), "mean": (N, F), "stats": {(machine, section, domain):
    (count, sum, scatter)}}`` of a run folder; an :class:`AsdlabError` naming the folder when it
    has none."""
    folder = Path(folder)
    if not (folder / "residuals.npz").exists():
        raise AsdlabError(f"{folder}: no residuals.npz (only AutoEncoder runs save residual statistics)")
    with np.load(folder / "residuals.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    meta = pd.read_csv(folder / "residuals.csv", dtype={"section": str, "attributes": str},
                       keep_default_na=False, na_values={"domain": [""], "label": [""]})
    stats = {(str(m), str(s), str(d)): (int(c), a["group_sum"][i], a["group_scatter"][i])
             for i, (m, s, d, c) in enumerate(zip(a["group_machine"], a["group_section"], a["group_domain"],
                                                  a["group_count"]))}
    return {"meta": meta, "mse": a["mse"], "mean": a["mean"], "stats": stats}
