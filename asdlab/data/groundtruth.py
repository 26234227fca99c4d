"""The factory's per-clip ground truth, read from a dataset folder (real DCASE data have none)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def factory_ground_truth(data_root: str | os.PathLike) -> pd.DataFrame | None:
    """What the built-in factory knows about every clip, from ``<data_root>/ground_truth/clips/``:
    one row per clip with file, machine, anomaly_kind ("" for normal clips), severity (0 for
    normal clips), true_attributes (also for machines whose names say ``noAttribute``) and
    ``true_attr_<key>`` columns. None for data without such files (real DCASE data).

    In the ``dcase2020`` style a train and a test normal clip of one ID can share a name (as in
    the 2020 files); their rows here are identical, so each (machine, file) is kept once."""
    folder = Path(data_root) / "ground_truth" / "clips"
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return None
    frames = []
    for f in files:
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        attrs = {c: "true_" + c for c in t.columns if c.startswith("attr_")}
        frames.append(pd.DataFrame({"file": t["file_name"], "machine": f.stem,
                                    "anomaly_kind": t["anomaly"],
                                    "severity": pd.to_numeric(t["severity"]),
                                    "true_attributes": t["attributes"]})
                      .join(t[list(attrs)].rename(columns=attrs)))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["machine", "file"], ignore_index=True)
