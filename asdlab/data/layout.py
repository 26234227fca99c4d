"""Find DCASE machine folders under a dataset root and index their clips.

Accepted layouts (a machine folder holds ``train/`` and/or ``test/``, or the DCASE 2021 test
folders ``source_test/`` and ``target_test/``, whose clips get split ``"test"``):

* ``<root>/{dev_data,eval_data}/raw/<machine>/{train,test}/`` (the official download); every
  folder under ``raw/`` counts as a machine folder;
* ``<root>/{dev_data,eval_data}/<machine>/{train,test}/`` (the 2020-2022 baselines' layout);
* ``<root>/<machine>/{train,test}/`` (flat; ``dataset`` is ``""``);
* ``<root>/{train,test}/``: the root is itself one machine folder.

See :mod:`asdlab.data` for the columns of the clip table; its ``folder`` column names the folder
a clip was found in (``train``, ``test``, ``source_test``, ``target_test``), which is how the
DCASE 2021 layout is told apart (:func:`asdlab.metrics.protocols.detect_protocol`).
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from asdlab.data.naming import HIDDEN, parse_filename
from asdlab.core.errors import DataError

DATASETS = ("dev_data", "eval_data")
SPLITS = ("train", "test")
FOLDERS = {"train": "train", "test": "test", "source_test": "test", "target_test": "test"}
"""Split folder of a machine folder -> the split of its clips (DCASE 2021: per-domain test folders)."""
BASE_COLUMNS = ["path", "file", "dataset", "machine", "section", "domain", "split", "folder", "label",
                "index", "attributes"]
# Audio that is not WAV is an error rather than silently left out of the table.
OTHER_AUDIO = {".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".au", ".wma"}
LAYOUTS = ("<root>/{dev_data,eval_data}/raw/<machine>/{train,test}/",
           "<root>/{dev_data,eval_data}/<machine>/{train,test}/",
           "<root>/<machine>/{train,test}/", "<root>/{train,test}/",
           "(test/ may be source_test/ + target_test/, the DCASE 2021 layout)")
_ORDER = {v: i for i, v in enumerate(("train", "test", "source", "target", "normal", "anomaly"))}


def find_machine_dirs(root: str | os.PathLike) -> list[tuple[str, str, Path]]:
    """``(dataset, machine, folder)`` of every machine folder under ``root``, sorted."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise DataError(f"{root}: dataset root does not exist or is not a folder")
    found = [(ds, d.name, d) for ds in DATASETS for d in _subdirs(root / ds / "raw")]
    found += [(ds, d.name, d) for ds in DATASETS for d in _subdirs(root / ds) if _has_split(d)]
    found += [("", d.name, d) for d in _subdirs(root) if _has_split(d)]
    if not found and _has_split(root):
        found = [("", root.name, root)]
    if not found:
        raise DataError(f"{root}: no machine folders found; layouts tried: " + "; ".join(LAYOUTS))
    return sorted(found)


def build_clip_table(root: str | os.PathLike, machines=None) -> pd.DataFrame:
    """One row per WAV under ``root`` (all machines, or only the names in ``machines``)."""
    dirs = find_machine_dirs(root)
    if machines is not None:
        dirs = _select(dirs, [machines] if isinstance(machines, str) else list(machines), root)
    rows = [row for ds, machine, folder in dirs for row in _machine_rows(ds, machine, folder)]
    table = pd.DataFrame(rows)
    attr_cols = sorted(c for c in table.columns if c.startswith("attr_"))
    table = table[BASE_COLUMNS + attr_cols]
    for col in ("domain", "label"):  # keep None (pandas would turn it into NaN in a str column)
        table[col] = table[col].astype(object).where(table[col].notna(), None)
    order = ["machine", "section", "split", "file", "dataset"]
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def read_attributes_csv(path: str | os.PathLike) -> dict[tuple[str, ...], dict[str, str]]:
    """``attributes_SS.csv`` -> ``{(split, file) or (file,): {key: value}}``.

    Header ``file_name,d1p,d1v[,d2p,d2v,...]``; empty and ``noAttribute`` pairs are dropped.
    """
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read attributes csv ({err})") from err
    if "file_name" not in df.columns:
        raise DataError(f"{path}: no file_name column; expected header file_name,d1p,d1v[,...]")
    pairs = [(c, c[:-1] + "v") for c in df.columns if re.fullmatch(r"d\d+p", c)]
    missing = [v for _, v in pairs if v not in df.columns]
    if missing:
        raise DataError(f"{path}: attribute name column without value column {missing}")
    out = {}
    for rec in df.to_dict("records"):
        key = PurePosixPath(rec["file_name"].replace("\\", "/")).parts[-2:]
        out[key] = {rec[p]: rec[v] for p, v in pairs if rec[p] not in ("", HIDDEN)}
    return out


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, machine, section): ``attributes``, ``clips`` and clip counts.

    Count columns are ``split/domain/label`` (``-`` where the name does not tell), one per
    combination present in ``table``. ``attributes`` is ``"public"`` when key/values are known
    for some clip, ``"hidden"`` when names say ``noAttribute``, else ``"none"``.
    """
    keys = ["dataset", "machine", "section"]
    combo = (table["split"] + "/" + table["domain"].fillna("-") + "/"
             + table["label"].fillna("-"))
    counts = pd.crosstab([table[k] for k in keys], combo)
    counts = counts[sorted(counts.columns, key=_combo_order)]
    counts.columns.name = None
    attr_cols = [c for c in table.columns if c.startswith("attr_")]
    flags = pd.DataFrame({
        "public": table[attr_cols].notna().any(axis=1) if attr_cols else False,
        "hidden": table["attributes"] == HIDDEN}).groupby([table[k] for k in keys]).any()
    status = np.where(flags["public"], "public", np.where(flags["hidden"], "hidden", "none"))
    counts.insert(0, "clips", counts.sum(axis=1))
    counts.insert(0, "attributes", pd.Series(status, index=flags.index))
    return counts.reset_index()


def _subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder`` (none if it does not exist)."""
    if not folder.is_dir():
        return []
    return [d for d in _listdir(folder) if d.is_dir() and not d.name.startswith(".")]


def _listdir(folder: Path) -> list[Path]:
    """The entries of ``folder``; a :class:`DataError` naming it when it cannot be listed."""
    try:
        return list(folder.iterdir())
    except OSError as err:  # PermissionError and the like: one line, not a traceback
        raise DataError(f"{folder}: cannot list the folder ({err.strerror or err})") from err


def _has_split(folder: Path) -> bool:
    return any((folder / s).is_dir() for s in FOLDERS)


def _select(dirs: list, machines: list[str], root) -> list:
    known = {m for _, m, _ in dirs}
    unknown = [m for m in machines if m not in known]
    if unknown:
        raise DataError(f"{root}: machine(s) {unknown} not found; available: {sorted(known)}")
    return [d for d in dirs if d[1] in machines]


def _wav_files(folder: Path) -> list[Path]:
    """Sorted ``.wav`` files of ``folder``; other audio formats are an error, the rest ignored.

    A symbolic link named like a clip whose target is missing or which loops is left out with a
    warning naming it (its clip does not exist, so no method and no ground truth sees it).
    """
    if not folder.is_dir():
        return []
    wavs = []
    for p in sorted(_listdir(folder)):
        if p.name.startswith("."):
            continue
        if p.suffix.lower() == ".wav" and p.is_symlink() and not p.exists():
            warnings.warn(f"{p}: {_broken_link(p)}, left out of the clip table", stacklevel=4)
            continue
        if not p.is_file():
            continue
        if p.suffix.lower() == ".wav":
            wavs.append(p)
        elif p.suffix.lower() in OTHER_AUDIO:
            raise DataError(f"{p}: only .wav audio is supported; convert or remove this file")
    return wavs


def _broken_link(p: Path) -> str:
    """Why the symbolic link ``p`` leads to no file: a loop, or a missing target."""
    try:
        p.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop so
        return "symbolic link loop"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
    return f"broken symbolic link (target {os.readlink(p)} does not exist)"


def _machine_rows(dataset: str, machine: str, folder: Path) -> list[dict]:
    """Clip-table rows of one machine folder; the attributes csv wins over names."""
    csv_attrs = {}
    for csv in sorted(folder.glob("attributes_*.csv")):
        csv_attrs.update(read_attributes_csv(csv))
    rows = []
    for sub, split in FOLDERS.items():
        for p in _wav_files(folder / sub):
            info = parse_filename(p)
            if info["split"] not in (None, split):
                raise DataError(f"{p}: name says split '{info['split']}' but the file is in "
                                f"{sub}/")
            if sub != split and info["domain"] not in (None, sub.split("_")[0]):
                raise DataError(f"{p}: name says domain '{info['domain']}' but the file is in {sub}/")
            attrs = csv_attrs.get((split, p.name)) or csv_attrs.get((p.name,)) or info["attrs"]
            row = {"path": str(p), "file": p.name, "dataset": dataset, "machine": machine,
                   "section": info["section"], "domain": info["domain"], "split": split,
                   "folder": sub, "label": info["label"], "index": info["index"],
                   "attributes": info["attributes"]}
            rows.append(row | {f"attr_{k}": v for k, v in attrs.items()})
    if not rows:
        raise DataError(f"{folder}: machine folder has no .wav files in train/, test/, source_test/ "
                        "or target_test/")
    return rows


def _combo_order(combo: str) -> tuple[int, ...]:
    return tuple(_ORDER.get(part, len(_ORDER)) for part in combo.split("/"))
