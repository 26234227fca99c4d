"""Angles between clips and their class centers (the Noisy-ArcMix paper's Figure 1).

For a run that saved embeddings and class centers, the angle of a clip is
``arccos(<e / |e|, w / |w|>)`` in degrees, with ``w`` the center of the clip's own class.
Small angles mean the clip sits close to what the classifier learned for its class: a good
loss puts normal clips near 0 and anomalies further out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.data.groundtruth import factory_ground_truth  # noqa: F401  (re-exported)
from asdlab.core.errors import AsdlabError
from asdlab.artifacts.embeddings import load_embeddings

META = ["file", "machine", "section", "domain", "label", "split", "class"]


def angles_deg(embeddings: np.ndarray, centers: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Angle in degrees between each embedding ``(N, D)`` and its class center.

    ``centers``: ``(C, D)``; ``class_index``: ``(N,)`` ints in ``[0, C)``. Neither input needs
    to be normalised. Returns ``(N,)`` in ``[0, 180]``.
    """
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = centers / np.linalg.norm(centers, axis=1, keepdims=True)
    cos = np.einsum("nd,nd->n", e, w[np.asarray(class_index)])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_table(run_dir: str | os.PathLike, split: str = "test",
                ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy table of the angle of every clip of ``split`` to its class center in run ``run_dir``.

    Columns: file, machine, section, domain, label, split, class, angle (degrees), plus the
    columns of ``ground_truth`` (e.g. anomaly_kind, severity) joined on ``file`` and
    ``machine`` when given. Clips whose class is unknown (anonymised evaluation files) are left
    out.
    """
    emb = load_embeddings(run_dir)
    if emb.get("centers") is None:
        raise AsdlabError(f"{run_dir}: this run has no class centers (method without a class head)")
    meta = emb["meta"]
    sel = (meta["split"] == split).to_numpy() & (meta["class_index"] >= 0).to_numpy()
    out = meta.loc[sel, [c for c in META if c in meta.columns]].reset_index(drop=True)
    out["angle"] = angles_deg(emb["embeddings"][sel], emb["centers"], meta.loc[sel, "class_index"].to_numpy())
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    return out


def angle_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Figure 1 made testable: one row per name (e.g. per loss) with the median angle of normal
    and of anomalous test clips (degrees) and ``angle_auc``, the ROC AUC of the angle used as an
    anomaly score (0.5 = no separation, 1 = every anomaly further out than every normal)."""
    rows = []
    for name, t in tables.items():
        y = (t["label"] == "anomaly").to_numpy()
        rows.append({"name": name,
                     "median_normal_angle": float(np.median(t.loc[~y, "angle"])) if (~y).any() else np.nan,
                     "median_anomaly_angle": float(np.median(t.loc[y, "angle"])) if y.any() else np.nan,
                     "angle_auc": roc_auc_score(y, t["angle"]) if 0 < y.sum() < len(y) else np.nan,
                     "n_clips": len(t)})
    return pd.DataFrame(rows).set_index("name")


def angle_summary_by_domain(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`angle_summary` for all test clips, then per domain, with
    ``separation_deg`` = median anomaly angle - median normal angle (degrees; larger = anomalies
    further out). Index: (domain, name) with domain "all", "source", "target"."""
    parts = {"all": angle_summary(tables)}
    domains = sorted(set().union(*(t["domain"].dropna().unique() for t in tables.values())))
    for d in domains:
        parts[d] = angle_summary({k: t[t["domain"] == d] for k, t in tables.items()})
    out = pd.concat(parts, names=["domain", "name"])
    out.insert(2, "separation_deg", out["median_anomaly_angle"] - out["median_normal_angle"])
    return out


# --------------------------------------------------------------------------------------------
# UMAP maps of a run's embeddings

UMAP_CACHE_VERSION = 1
"""Bumped when :func:`run_umap`'s computation changes, so old cache files are not reused."""


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

        reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(x) - 1),
                            min_dist=min_dist, metric=metric, random_state=seed,
                            # spectral initialisation needs a graph larger than the target dimension
                            init="spectral" if len(x) > 10 else "random")
        return reducer.fit_transform(x).astype(np.float32)


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


# --------------------------------------------------------------------------------------------
# Detection per anomaly kind and severity (factory data)

ALL_KINDS = "all kinds"
ALL_SEVERITIES = "all"
DOMAIN_ALL = "all"
DETECTION_COLUMNS = ["machine", "domain", "group", "auc", "n_anomaly", "n_normal"]


def _with_truth(scores: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("file", "machine", "label", "score") if c not in scores.columns]
    if missing:
        raise AsdlabError(f"scores table lacks column(s) {', '.join(missing)}")
    for c in ("file", "machine", "anomaly_kind", "severity"):
        if c not in ground_truth.columns:
            raise AsdlabError(f"ground truth table lacks column {c!r} (use factory_ground_truth)")
    t = scores[scores["label"].isin(["normal", "anomaly"])]
    t = t.merge(ground_truth[["file", "machine", "anomaly_kind", "severity"]], on=["file", "machine"],
                how="left", validate="many_to_one")
    unknown = (t["label"] == "anomaly") & t["anomaly_kind"].isna()
    if unknown.any():
        raise AsdlabError(f"{int(unknown.sum())} anomalous clip(s) are not in the ground truth, first "
                          f"{t.loc[unknown, 'machine'].iloc[0]}/{t.loc[unknown, 'file'].iloc[0]}: "
                          "was the ground truth read from the same dataset?")
    return t


def _detection(t: pd.DataFrame, group: pd.Series, order: list, all_name: str) -> pd.DataFrame:
    """AUC of every group's anomalies against the normals, per machine and domain."""
    rows = []
    domains = [d for d in ("source", "target") if "domain" in t.columns and (t["domain"] == d).any()]
    for machine, g in t.groupby("machine", sort=True):
        grp = group.loc[g.index]
        for domain in [DOMAIN_ALL, *domains]:
            in_dom = np.ones(len(g), bool) if domain == DOMAIN_ALL else (g["domain"] == domain).to_numpy()
            normal = in_dom & (g["label"] == "normal").to_numpy()
            anomalous = in_dom & (g["label"] == "anomaly").to_numpy()
            s = g["score"].to_numpy(dtype=float)
            for name in [*[o for o in order if (grp[anomalous] == o).any()], all_name]:
                pos = anomalous if name == all_name else anomalous & (grp == name).to_numpy()
                if not pos.any():
                    continue
                keep = pos | normal
                auc = roc_auc_score(pos[keep], s[keep]) if normal.any() else np.nan
                rows.append({"machine": machine, "domain": domain, "group": name, "auc": auc,
                             "n_anomaly": int(pos.sum()), "n_normal": int(normal.sum())})
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def detection_by_kind(scores: pd.DataFrame, ground_truth: pd.DataFrame | None) -> pd.DataFrame:
    """How well each anomaly kind is detected: ROC AUC of the scores of one kind's anomalous
    clips against the normal clips, per machine and domain.

    ``scores``: test scores (file, machine, domain, label, score; higher = more anomalous);
    ``ground_truth``: :func:`factory_ground_truth`. Columns: machine, domain (``"all"``,
    ``"source"``, ``"target"``: normals and anomalies of that domain only), kind (the anomaly
    kind, or ``"all kinds"``: every anomaly of the machine and domain), auc, n_anomaly,
    n_normal. Sections of a machine are pooled. ``ground_truth=None`` (real DCASE data, where
    kinds are unknown) gives an empty table with these columns.
    """
    if ground_truth is None:
        return pd.DataFrame(columns=[c if c != "group" else "kind" for c in DETECTION_COLUMNS])
    t = _with_truth(scores, ground_truth)
    kinds = sorted(k for k in t["anomaly_kind"].dropna().unique() if k)
    return _detection(t, t["anomaly_kind"], kinds, ALL_KINDS).rename(columns={"group": "kind"})


def detection_by_severity(scores: pd.DataFrame, ground_truth: pd.DataFrame | None,
                          bins=(0, 0.25, 0.5, 0.75, 1.0)) -> pd.DataFrame:
    """Like :func:`detection_by_kind`, with the anomalies grouped by severity bin instead of
    kind. ``bins``: increasing edges; anomalies fall in ``(lo, hi]`` (the first bin also takes
    ``lo``) and the bin is named ``"lo-hi"`` (e.g. ``"0.25-0.5"``); severities outside the
    edges are left out. Column ``severity`` holds the bin name or ``"all"``."""
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        raise AsdlabError(f"detection_by_severity: bins={bins!r} must be at least 2 increasing edges")
    if ground_truth is None:
        return pd.DataFrame(columns=[c if c != "group" else "severity" for c in DETECTION_COLUMNS])
    t = _with_truth(scores, ground_truth)
    names = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    binned = pd.cut(t["severity"].where(t["label"] == "anomaly"), edges, labels=names,
                    include_lowest=True).astype(object)
    outside = (t["label"] == "anomaly") & binned.isna()
    t = t[~outside]
    return _detection(t, binned[~outside], names, ALL_SEVERITIES).rename(columns={"group": "severity"})


# --------------------------------------------------------------------------------------------
# Tables for reports


def styled_metrics(table: pd.DataFrame, caption: str | None = None):
    """A :func:`asdlab.metrics.metrics_table` (Table 1 form) as a pandas Styler: cells in
    percent with two decimals, ``-`` for NaN, the ``All (hmean)`` row in bold and the official
    score in the caption (``caption`` is put before it)."""
    from asdlab.metrics import ALL_ROW

    score = table.attrs.get("official_score")
    parts = [caption] if caption else []
    if score is not None:
        parts.append(f"Official score (hmean of every AUC and pAUC): {100 * score:.2f} %")
    styler = table.style.format(lambda v: "-" if pd.isna(v) else f"{100 * v:.2f} %")
    styler = styler.apply(lambda row: ["font-weight: bold" if row.name == ALL_ROW else ""] * len(row), axis=1)
    return styler.set_caption(" | ".join(parts)) if parts else styler


def embedding_status(run_dir: str | os.PathLike) -> dict:
    """What a run folder offers for embedding figures, without loading the arrays.

    Returns ``{"embeddings": bool, "centers": bool, "note": str}``; ``note`` says, in one
    sentence for a report, why the angle histograms (no centers) or the map (no embeddings)
    cannot be drawn, and is empty when both can.
    """
    run_dir = Path(run_dir)
    has_emb = (run_dir / "embeddings.npy").is_file() and (run_dir / "embeddings.csv").is_file()
    has_centers = has_emb and (run_dir / "centers.npy").is_file()
    method = "this method"
    cfg = run_dir / "config.json"
    if cfg.is_file():
        import json

        method = json.loads(cfg.read_text()).get("method", method)
    if not has_emb:
        note = (f"The run folder {run_dir} holds no embeddings (`embeddings.npy`): {method} saves "
                "none, or the run was made by an older asdlab; run it again with `force=True` "
                "(`asdlab run ... --force`) to get them.")
    elif not has_centers:
        note = (f"{method} has no class head, so there are no class centers to measure angles to "
                "(its embeddings are still mapped below).")
    else:
        note = ""
    return {"embeddings": has_emb, "centers": has_centers, "note": note}
