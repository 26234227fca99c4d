"""Readers of a guided-clustering run's pseudo-label files, for notebook 05: pseudo labels, the
silhouette choice of k, cluster quality against the factory's hidden attributes, contingency tables
and the ASD score with vs without pseudo labels. The clustering itself (and the file names) is
:mod:`asdlab.backends.clustering`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from asdlab.backends.clustering import (CONTINGENCY_FILE, GAIN_CSV, GAIN_JSON, PSEUDO_FILE, PSEUDO_K_FILE,
                                       PSEUDO_LABEL_METHODS, QUALITY_FILE, TABLE_MACHINE_ONLY)
from asdlab.core.errors import AsdlabError, ConfigError


# --------------------------------------------------------------------------------------------
# loaders for a run folder


def _read(run_dir, name: str, what: str) -> pd.DataFrame:
    f = Path(run_dir) / name
    if not f.exists():
        raise AsdlabError(f"{run_dir}: no {name} ({what})")
    return pd.read_csv(f, dtype={"section": str, "true_attributes": str}, keep_default_na=False,
                       na_values={"domain": [""]})


def load_pseudo_labels(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_labels.csv`` of a guided-clustering run: one row per training clip of a machine
    without attributes (file, machine, section, domain, pseudo_label)."""
    return _read(run_dir, PSEUDO_FILE, "not a guided_clustering run")


def cluster_quality(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``cluster_quality.csv``: per machine without attributes, ARI, NMI and friends of its pseudo
    labels against the factory's hidden attributes (see :func:`quality_tables`)."""
    return _read(run_dir, QUALITY_FILE, "the run had no ground truth of the hidden attributes: "
                 "only factory data has one")


def contingency(run_dir: str | os.PathLike, machine: str) -> pd.DataFrame:
    """The contingency table of ``machine``: true attribute strings (rows) x pseudo labels
    (columns), clip counts."""
    t = _read(run_dir, CONTINGENCY_FILE, "the run had no ground truth of the hidden attributes")
    sel = t[t["machine"] == machine]
    if sel.empty:
        known = ", ".join(sorted(t["machine"].unique()))
        raise AsdlabError(f"{run_dir}: no contingency table for {machine!r} (machines: {known})")
    return sel.pivot(index="true_attributes", columns="pseudo_label", values="count").fillna(0).astype(int)


def gain_table(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_label_gain.csv``: per machine (and ``All (official)``) the harmonic mean of its
    AUCs and pAUC with pseudo labels, with machine-only labels, and the gain; ``hidden`` marks
    the machines without attributes."""
    return _read(run_dir, GAIN_CSV, "the run trained no machine-only baseline or had no test labels")


def has_gain(run_dir: str | os.PathLike) -> bool:
    """Whether the run wrote the with / without pseudo labels comparison (:func:`gain_table`): not
    when it trained no machine-only baseline or no section's test labels are all known."""
    return all((Path(run_dir) / f).is_file() for f in (GAIN_CSV, GAIN_JSON, TABLE_MACHINE_ONLY))


def gain_summary(run_dir: str | os.PathLike) -> dict:
    """``pseudo_label_gain.json`` as a dict."""
    f = Path(run_dir) / GAIN_JSON
    if not f.exists():
        raise AsdlabError(f"{run_dir}: no {GAIN_JSON} (no machine-only baseline or no test labels)")
    return json.loads(f.read_text())


def silhouettes(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``pseudo_k.csv``: per machine without attributes and candidate k, the silhouette
    coefficient and whether k was chosen (empty when ``n_pseudo`` was fixed)."""
    return _read(run_dir, PSEUDO_K_FILE, "not a guided_clustering run")


def with_without_table(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Table 1 of the run with pseudo labels next to the same scorer with machine-only labels,
    in :func:`asdlab.analysis.compare.compare_table`'s form (columns ``("pseudo labels", metric)`` and
    ``("machine-only labels", metric)``), for :func:`asdlab.analysis.compare.style_best`. When the
    run's metrics follow another protocol than the machine-only table (a DCASE 2020 or 2021 run),
    the machine-only table and score are recomputed from ``machine_only/scores.csv`` under the run's."""
    from asdlab.analysis.compare import side_by_side
    from asdlab.metrics import metrics_table, official_score, read_metrics_table, section_metrics
    from asdlab.metrics.protocols import DEFAULT_PROTOCOL, protocol_rule

    run_dir = Path(run_dir)
    for name in ("table.csv", TABLE_MACHINE_ONLY):
        if not (run_dir / name).exists():
            raise AsdlabError(f"{run_dir}: no {name} (no machine-only baseline or no test labels)")
    scores = gain_summary(run_dir)["official_score"]
    summary = run_dir / "summary.json"
    run_summary = json.loads(summary.read_text()) if summary.is_file() else {}
    protocol = run_summary.get("protocol")
    pseudo = read_metrics_table(run_dir / "table.csv", protocol)
    base = read_metrics_table(run_dir / TABLE_MACHINE_ONLY)
    official = {"pseudo labels": scores["pseudo"], "machine-only labels": scores["machine_only"]}
    base_rule = protocol_rule(base.attrs.get("protocol") or DEFAULT_PROTOCOL)
    if protocol is not None and base_rule != protocol_rule(protocol):
        frame = pd.read_csv(run_dir / "machine_only" / "scores.csv", dtype={"section": str})
        sections = section_metrics(frame, protocol)
        base = metrics_table(sections, protocol)
        official = {"pseudo labels": run_summary["official_score"],
                    "machine-only labels": official_score(sections, protocol)}
    return side_by_side({"pseudo labels": pseudo, "machine-only labels": base}, official)


def machine_points(run_dir: str | os.PathLike, machine: str, split: str | None = "train", seed: int = 0,
                   ground_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """A UMAP of one machine's embeddings in a guided-clustering run: the clips of ``split``
    (None: train and test) of ``machine`` from ``embeddings.npy`` projected on their own
    (seeded, cosine metric), with the ``embeddings.csv`` metadata (``pseudo_label``: -1 where
    none), columns ``x``, ``y`` and the ``ground_truth`` columns joined on file and machine."""
    from asdlab.analysis import umap_coords
    from asdlab.artifacts.embeddings import load_embeddings

    emb = load_embeddings(run_dir)
    meta = emb["meta"]
    keep = (meta["machine"] == machine).to_numpy()
    if split is not None:
        keep = keep & (meta["split"] == split).to_numpy()
    if not keep.any():
        raise AsdlabError(f"{run_dir}: no {split or ''} embeddings of machine {machine!r}".replace("  ", " "))
    coords = umap_coords(emb["embeddings"][keep], seed=seed, metric="cosine")
    out = meta[keep].reset_index(drop=True).assign(x=coords[:, 0], y=coords[:, 1])
    if ground_truth is not None:
        out = out.merge(ground_truth, on=["file", "machine"], how="left")
    return out


def check_pseudo_label_method(methods) -> str:
    """Notebook parameter check: ``methods`` must be a list of one method that writes pseudo
    labels (:data:`PSEUDO_LABEL_METHODS`); returns it."""
    if not isinstance(methods, (list, tuple)) or len(methods) != 1 or methods[0] not in PSEUDO_LABEL_METHODS:
        raise ConfigError(f"methods={methods!r}: this notebook shows one pseudo-label run; choose one of "
                          f"{list(PSEUDO_LABEL_METHODS)}, e.g. methods={[PSEUDO_LABEL_METHODS[0]]!r}")
    return methods[0]


def pretraining_rounds(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The DeepCluster rounds of a guided-clustering run's ``history.csv``: per round, the NMI
    with the previous round's assignment (``nmi_prev``, NaN for the first) and with the machine
    types (``nmi_machine``), the non-empty clusters, the largest cluster's size and the loss."""
    h = _read(run_dir, "history.csv", "not a guided_clustering run")
    cols = ["round", "nmi_prev", "nmi_machine", "n_nonempty", "largest_cluster", "train_loss"]
    rounds = h[h["stage"] == "pretrain"]
    missing = [c for c in cols if c not in rounds.columns]
    if missing:
        raise AsdlabError(f"{run_dir}: history.csv lacks {', '.join(missing)}")
    out = rounds[cols].apply(pd.to_numeric, errors="coerce").astype({"round": int})
    return out.groupby("round").last().reset_index()
