"""The data of the angle explorer (:mod:`asdlab.viz.explorer`): a run folder's embeddings split
into what the toy head trains on and what it draws, the factory's ground truth joined to the
test clips, and the test clips' angles in a fitted head.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.analysis.toyhead import HeadFit
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.data.groundtruth import factory_ground_truth
from asdlab.runs.folder import read_config
from asdlab.viz.explorer_figures import LABEL_COLORS

TRUTH_COLUMNS = ("anomaly_kind", "severity")
"""The factory's ground truth the explorer joins to the test clips (absent for real data)."""


def explorer_data(emb: dict) -> dict:
    """Split :func:`asdlab.artifacts.embeddings.load_embeddings` output into what the explorer trains on
    and draws: ``{"train_x": (N, D), "train_y": (N,), "train_meta", "test_x": (M, D),
    "test_y": (M,), "test_candidates": [M arrays], "test_meta", "classes": [C names],
    "machines": [...], "note": str}``. Class indices are renumbered 0..C-1 over the training
    classes. A labelled test clip of a class unseen in training (DCASE 2021 test names carry no
    attributes; a DCASE 2020 ID without training clips) gets ``test_y`` -1 and is measured to the
    nearest of ``test_candidates`` (its machine type and section's classes); it is left out when
    its section has none, as are clips without a label. ``note``: one line saying so ("" if not)."""
    meta, x = emb["meta"], np.asarray(emb["embeddings"])
    idx = meta["class_index"].to_numpy()
    train = (meta["split"] == "train").to_numpy() & (idx >= 0)
    if train.sum() < 2:
        raise AsdlabError("the run has fewer than 2 training embeddings with a class")
    known = np.unique(idx[train])
    remap = np.full(max(idx.max(), 0) + 1, -1)
    remap[known] = np.arange(len(known))
    names = emb.get("classes")
    by_index = meta.loc[train].drop_duplicates("class_index").set_index("class_index")["class"]
    classes = [str(names[k]) if names is not None else str(by_index[k]) for k in known]
    section_of = [tuple(c.split("/", 2)[:2]) for c in classes]
    own = np.where(idx >= 0, remap[np.maximum(idx, 0)], -1)
    test = (meta["split"] == "test").to_numpy() & meta["label"].isin(list(LABEL_COLORS)).to_numpy()
    candidates = [np.array([k for k, sec in enumerate(section_of) if sec == (str(m), str(s_))], int) if o < 0
                  else np.array([o]) for m, s_, o in zip(meta["machine"], meta["section"], own)]
    reachable = np.array([len(c) > 0 for c in candidates], bool)
    unseen = test & (own < 0) & reachable
    notes = []
    if unseen.any():
        notes.append(f"{int(unseen.sum())} test clip(s) of classes unseen in training measured to the nearest "
                     f"class center of their section")
    if (test & ~reachable).any():
        notes.append(f"{int((test & ~reachable).sum())} test clip(s) left out: their section has no class in training")
    unlabelled = (meta["split"] == "test").to_numpy() & ~meta["label"].isin(list(LABEL_COLORS)).to_numpy()
    if unlabelled.any():
        notes.append(f"{int(unlabelled.sum())} test clip(s) without a label (evaluation data) left out")
    test &= reachable
    return {"train_x": x[train], "train_y": remap[idx[train]],
            "train_meta": meta.loc[train].reset_index(drop=True),
            "test_x": x[test], "test_y": own[test], "test_candidates": [candidates[i] for i in np.flatnonzero(test)],
            "test_meta": meta.loc[test].reset_index(drop=True),
            "classes": classes, "machines": sorted(meta.loc[train, "machine"].unique()), "note": "; ".join(notes)}


def clip_angle_table(fit: HeadFit, data: dict) -> pd.DataFrame:
    """The test clips of ``data`` (:func:`explorer_data`) with ``angle`` (degrees to their class
    center in the fitted head's space, or to the nearest center of their section's classes for
    a class unseen in training) and ``head_class`` (the class measured to), in
    :func:`asdlab.analysis.angle_table` form (``attrs["note"]``: ``data["note"]``); with the
    factory's anomaly_kind and severity when ``data["test_meta"]`` has them."""
    cols = [c for c in ("file", "machine", "section", "domain", "label", "split", "class", *TRUTH_COLUMNS)
            if c in data["test_meta"].columns]
    out = data["test_meta"][cols].copy()
    candidates = data.get("test_candidates") or [np.array([k]) for k in data["test_y"]]
    flat = np.concatenate(candidates) if candidates else np.zeros(0, int)
    owner = np.repeat(np.arange(len(candidates)), [len(c) for c in candidates])
    angles = fit.angles_to_centers(data["test_x"][owner], flat) if len(flat) else np.zeros(0)
    best_angle, best_class = np.full(len(out), np.inf), np.zeros(len(out), int)
    for i, a, k in zip(owner, angles, flat):
        if a < best_angle[i]:
            best_angle[i], best_class[i] = a, k
    out["angle"] = best_angle
    out["head_class"] = best_class
    out.attrs["note"] = data.get("note", "")
    return out


def load_explorer_run(run_dir: str | os.PathLike, ground_truth="auto") -> dict:
    """:func:`explorer_data` of the run folder ``run_dir`` plus where its clips live:
    ``"root"`` (the dataset root recorded in its ``config.json``, None without one), ``"channel"``
    (0 default) and ``"has_truth"``. ``ground_truth``: ``"auto"`` reads
    :func:`asdlab.data.groundtruth.factory_ground_truth` of that root (None for real DCASE data),
    or a table of the same form, or None; its anomaly_kind and severity join the test clips on
    file and machine."""
    folder = Path(run_dir)
    data = explorer_data(load_embeddings(folder))
    config = read_config(folder) or {}
    root = Path(config["data"]) if config.get("data") else None
    data["root"], data["channel"] = root, config.get("channel", 0)
    if isinstance(ground_truth, str):
        if ground_truth != "auto":
            raise ConfigError(f"ground_truth={ground_truth!r}: 'auto', a table or None")
        ground_truth = factory_ground_truth(root) if root is not None and root.is_dir() else None
    cols = [c for c in TRUTH_COLUMNS if ground_truth is not None and c in ground_truth.columns]
    data["has_truth"] = bool(cols)
    if cols:
        truth = ground_truth[["file", "machine", *cols]].drop_duplicates(["file", "machine"])
        meta = data["test_meta"].drop(columns=[c for c in cols if c in data["test_meta"].columns])
        data["test_meta"] = meta.merge(truth.astype({"file": str, "machine": str}), on=["file", "machine"],
                                       how="left", validate="many_to_one")
    return data
