"""The files that describe a machine's clips: public attributes and the hidden ground truth.

Per machine type, under the dataset root:

- ``dev_data/raw/<machine>/attributes_00.csv`` (public machines only): header
  ``file_name,d1p,d1v[,d2p,d2v,...]``, one row per clip, ``file_name`` like
  ``fan/train/section_00_source_train_normal_0001_spd_20_blade_5.wav``;
- ``ground_truth/ground_truth_data/ground_truth_<machine>_section_00_test.csv``: evaluator
  style, no header, rows ``<file>,<0 normal | 1 anomaly>`` sorted by file name;
- ``ground_truth/ground_truth_domain/ground_truth_<machine>_section_00_test.csv``: rows
  ``<file>,<0 source | 1 target>``;
- ``ground_truth/ground_truth_attributes/<machine>/attributes_00_{train,test}_correspondence.csv``:
  header ``source_file_name,target_file_name`` = file name with the true attributes, published
  file name (as the official files for the hidden machines; identical names for public ones);
- ``ground_truth/clips/<machine>.csv``: one row per clip with everything the factory knows:
  ``file_name, split, domain, label, anomaly, severity, attributes, attr_<key>...,
  environment, snr_db, gain_db``.

``dcase2020`` style: the data files are per machine ID (``..._section_<ID>_test.csv``, the ID
as section), the clips file has a ``section`` column (the ID) after ``file_name``; there are no
domain files (no domains), no correspondence files and no ``attributes_00.csv`` (2020 names
carry no attributes; the unit's true attributes are in the clips file).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from asdlab.core.atomic import atomic_write_text
from asdlab.data.synth.plan import SECTION, ClipSpec

TRUTH_DIR = "ground_truth"


def _csv_text(rows, header=None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def truth_paths(root: Path, machine: str, section: str = SECTION) -> dict[str, Path]:
    """Where the ground-truth files of ``machine`` live (keys: data, domain, clips,
    correspondence_train, correspondence_test); data and domain of ``section``."""
    gt = root / TRUTH_DIR
    stem = f"ground_truth_{machine}_section_{section}_test.csv"
    paths = {
        "data": gt / "ground_truth_data" / stem,
        "domain": gt / "ground_truth_domain" / stem,
        "clips": gt / "clips" / f"{machine}.csv",
    }
    for split in ("train", "test"):
        paths[f"correspondence_{split}"] = (gt / "ground_truth_attributes" / machine
                                            / f"attributes_{SECTION}_{split}_correspondence.csv")
    return paths


def attributes_csv_path(root: Path, machine: str) -> Path:
    """``dev_data/raw/<machine>/attributes_00.csv``."""
    return root / "dev_data" / "raw" / machine / f"attributes_{SECTION}.csv"


def write_machine_truth(root: Path, machine: str, specs: list[ClipSpec]) -> None:
    """Write every metadata file of ``machine`` (see the module docstring) for ``specs``."""
    specs = sorted(specs, key=lambda s: (s.split != "train", s.file_name))
    test = [s for s in specs if s.split == "test"]
    v2020 = specs[0].style == "dcase2020"
    for section in sorted({s.section for s in specs}):
        paths = truth_paths(root, machine, section)
        mine = [s for s in test if s.section == section]
        atomic_write_text(paths["data"], _csv_text([(s.file_name, int(s.label == "anomaly")) for s in mine]))
        if not v2020:
            atomic_write_text(paths["domain"], _csv_text([(s.file_name, int(s.domain == "target")) for s in mine]))
    paths = truth_paths(root, machine)
    if not v2020:
        for split in ("train", "test"):
            rows = [(s.true_file_name, s.file_name) for s in specs if s.split == split]
            atomic_write_text(paths[f"correspondence_{split}"],
                              _csv_text(rows, ("source_file_name", "target_file_name")))
    keys = list(dict(specs[0].attributes))
    lead = ["section"] if v2020 else []
    header = ["file_name", *lead, "split", "domain", "label", "anomaly", "severity", "attributes",
              *(f"attr_{k}" for k in keys), "environment", "snr_db", "gain_db"]
    rows = [(s.file_name, *([s.section] if v2020 else []), s.split, s.domain, s.label, s.anomaly, s.severity,
             s.attribute_string, *dict(s.attributes).values(), s.environment, s.snr_db, s.gain_db) for s in specs]
    atomic_write_text(paths["clips"], _csv_text(rows, header))
    if not specs[0].hidden:
        n_keys = len(keys)
        header = ["file_name"] + [f"d{i}{kind}" for i in range(1, n_keys + 1) for kind in ("p", "v")]
        rows = [(f"{machine}/{s.split}/{s.file_name}", *(x for kv in s.attributes for x in kv))
                for s in specs]
        atomic_write_text(attributes_csv_path(root, machine), _csv_text(rows, header))
