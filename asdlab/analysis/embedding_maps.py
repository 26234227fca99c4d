"""UMAP maps of a run's train and test embeddings (seeded, cached in the run folder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import AsdlabError


UMAP_CACHE_VERSION = 2
"""Bumped when :func:`run_umap`'s computation changes, so old cache files are not reused."""


def _cache_umap_compilations() -> None:
    """Let numba keep umap-learn's and pynndescent's compiled functions on disk.

    Most of them are jitted without ``cache=True``, so every new process (each notebook kernel)
    spent 15-35 s of CPU compiling them before its first map; with the cache only the first
    process does, and later ones load the machine code (same coordinates bit for bit). numba
    stores it next to the package (``__pycache__``) or, where that is read-only, in its user-wide
    folder (``$NUMBA_CACHE_DIR`` overrides both); a function it cannot cache is left as it is.
    Call after importing umap; idempotent.
    """
    import sys

    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # a numba without this layout: compile in every process, as before
        return
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("umap", "pynndescent"):
            continue
        for value in list(vars(module).values()):
            if (isinstance(value, Dispatcher) and hasattr(value, "enable_caching")
                    and type(getattr(value, "_cache", None)).__name__ == "NullCache"):
                try:
                    value.enable_caching()
                except RuntimeError:  # no writable cache folder for this file
                    pass


def umap_coords(embeddings: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                metric: str = "cosine") -> np.ndarray:
    """2-D UMAP coordinates ``(N, 2)`` float32 of ``embeddings`` ``(N, D)``.

    Seeded and deterministic (umap-learn then runs on one thread). ``n_neighbors`` is clipped
    to ``N - 1`` so small sets work; fewer than 4 rows is an :class:`AsdlabError`. umap-learn is
    imported here, not at module import, because its first import compiles with numba.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise AsdlabError(f"umap_coords: embeddings must be a 2-D array (N, D), got shape {x.shape}")
    if len(x) < 4:
        raise AsdlabError(f"umap_coords: UMAP needs at least 4 embeddings, got {len(x)}")
    if not np.isfinite(x).all():
        raise AsdlabError(f"umap_coords: {int((~np.isfinite(x)).any(axis=1).sum())} embedding(s) "
                          "hold NaN or infinite values")
    if n_neighbors < 2:
        raise AsdlabError(f"umap_coords: n_neighbors={n_neighbors} must be at least 2")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state", small-graph notes
        import umap

        _cache_umap_compilations()
        distances = pairwise(x, metric) if len(x) < EXACT_KNN_ROWS else None
        reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(x) - 1),
                            min_dist=min_dist, metric=metric if distances is None else "precomputed",
                            random_state=seed,
                            # spectral initialisation needs a graph larger than the target dimension
                            init="spectral" if len(x) > 10 else "random")
        return reducer.fit_transform(x if distances is None else distances).astype(np.float32)


EXACT_KNN_ROWS = 4096
"""Below this many rows umap-learn finds neighbours exactly from all pairwise distances, with its
numba metric called once per pair from Python (about 80 % of a 1600-point map's time);
:func:`umap_coords` hands it the same distances computed with numpy instead."""


def pairwise(x: np.ndarray, metric: str) -> np.ndarray | None:
    """All pairwise distances ``(N, N)`` float32 of ``x`` ``(N, D)`` for ``metric``
    ``"cosine"`` (1 - cosine similarity; a zero row is at 0 from another zero row and at 1 from
    the rest, as umap-learn's) or ``"euclidean"``; None for other metrics."""
    x = np.asarray(x, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1)
        unit = x / np.where(norms > 0, norms, 1.0)[:, None]
        d = 1.0 - unit @ unit.T
        zero = norms == 0
        d[zero, :] = d[:, zero] = 1.0
        d[np.ix_(zero, zero)] = 0.0
    elif metric == "euclidean":
        sq = np.einsum("ij,ij->i", x, x)
        d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0))
    else:
        return None
    np.fill_diagonal(d, 0.0)
    return np.maximum(d, 0.0).astype(np.float32)


def _umap_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("umap-learn")
    except PackageNotFoundError:
        return "absent"


def run_umap(run_dir: str | os.PathLike, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
             metric: str | None = None, ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """UMAP map of every train and test embedding of the run in ``run_dir``, computed once.

    Returns the embeddings' metadata (file, machine, section, domain, label, split, attributes,
    class, ...) with columns ``x`` and ``y``, one row per embedding, in file order; with
    ``ground_truth`` (:func:`factory_ground_truth`) its columns joined on file and machine.
    ``metric=None`` picks ``"cosine"`` for runs with class centers (margin losses shape angles)
    and ``"euclidean"`` otherwise (the AE's bottleneck codes). The coordinates are cached in
    ``<run_dir>/umap-<key>.npz``, the key hashing the parameters, the umap-learn version and
    the bytes of ``embeddings.npy``; an unwritable run folder only costs the recomputation.
    """
    import hashlib
    import json
    import warnings

    from asdlab.core.atomic import atomic_write

    run_dir = Path(run_dir)
    emb = load_embeddings(run_dir)
    if metric is None:
        metric = "cosine" if emb["centers"] is not None else "euclidean"
    params = {"seed": seed, "n_neighbors": n_neighbors, "min_dist": min_dist, "metric": metric,
              "umap": _umap_version(), "version": UMAP_CACHE_VERSION}
    h = hashlib.sha1(json.dumps(params, sort_keys=True).encode())
    h.update((run_dir / "embeddings.npy").read_bytes())
    cache = run_dir / f"umap-{h.hexdigest()[:16]}.npz"
    coords = None
    if cache.exists():
        with np.load(cache) as f:
            coords = f["coords"] if f["coords"].shape == (len(emb["meta"]), 2) else None
    if coords is None:
        coords = umap_coords(emb["embeddings"], seed=seed, n_neighbors=n_neighbors, min_dist=min_dist,
                             metric=metric)
        try:
            atomic_write(cache, lambda fh: np.savez(fh, coords=coords, params=json.dumps(params)))
        except OSError as e:
            warnings.warn(f"{cache}: UMAP coordinates not cached ({e})")
    out = emb["meta"].assign(x=coords[:, 0], y=coords[:, 1])
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    return out
