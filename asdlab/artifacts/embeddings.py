"""Embeddings and class centers saved in a run folder.

Files: ``embeddings.npy`` ``(N, D)`` float32 and ``embeddings.csv`` (one row per embedding:
file, machine, section, domain, label, split, attributes, class, class_index with -1 where the
class is unknown), and for methods with a class head ``centers.npy`` ``(C, D)`` (row ``k`` is
the center of class ``k``) and ``classes.csv`` (class_index, class).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import AsdlabError

EMBEDDING_COLUMNS = ["file", "machine", "section", "domain", "label", "split", "attributes", "class",
                     "class_index"]
"""The metadata columns every ``embeddings.csv`` has, in order (methods may add more after them)."""


def save_embeddings(folder: str | os.PathLike, meta: pd.DataFrame, embeddings: np.ndarray,
                    centers: np.ndarray | None = None, classes: list[str] | None = None) -> list[str]:
    """Write embeddings ``(N, D)`` with their row-aligned ``meta`` and optional ``centers``
    ``(C, D)`` with class names; returns the file names written."""
    folder = Path(folder)
    if len(meta) != len(embeddings):
        raise ValueError(f"{len(meta)} metadata rows for {len(embeddings)} embeddings")
    atomic_write(folder / "embeddings.npy", lambda fh: np.save(fh, embeddings.astype(np.float32)))
    atomic_write(folder / "embeddings.csv", lambda fh: meta.to_csv(fh, index=False), text=True)
    names = ["embeddings.npy", "embeddings.csv"]
    if centers is not None:
        if classes is None or len(classes) != len(centers):
            raise ValueError("centers need one class name per row")
        atomic_write(folder / "centers.npy", lambda fh: np.save(fh, centers.astype(np.float32)))
        table = pd.DataFrame({"class_index": range(len(classes)), "class": classes})
        atomic_write(folder / "classes.csv", lambda fh: table.to_csv(fh, index=False), text=True)
        names += ["centers.npy", "classes.csv"]
    return names


def load_embeddings(folder: str | os.PathLike) -> dict:
    """``{"embeddings": (N, D), "meta": DataFrame, "centers": (C, D) or None, "classes": list or None}``."""
    folder = Path(folder)
    if not (folder / "embeddings.npy").exists():
        raise AsdlabError(f"{folder}: no embeddings.npy (this method does not save embeddings)")
    meta = pd.read_csv(folder / "embeddings.csv", dtype={"section": str, "attributes": str},
                       keep_default_na=False, na_values={"domain": [""], "label": [""]})
    out = {"embeddings": np.load(folder / "embeddings.npy"), "meta": meta, "centers": None, "classes": None}
    if (folder / "centers.npy").exists():
        out["centers"] = np.load(folder / "centers.npy")
        out["classes"] = list(pd.read_csv(folder / "classes.csv")["class"])
    return out
