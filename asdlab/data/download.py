"""Download the official DCASE Task 2 archives (:mod:`asdlab.data.records`), check them, and
unpack them into the layout :mod:`asdlab.data` reads.

``download("dcase2024", "dev", root="data/real")`` gives
``data/real/dcase2024/dev_data/raw/<machine>/{train,test}/``; ``data/real/dcase2024`` is the data
root for ``asdlab run``. ``split="train-add"`` and ``"eval"`` fill ``eval_data/raw/<machine>/``
(``train/`` and ``test/``); ``"eval"`` also writes the organisers' ground truth to
``<dataset>/ground_truth/ground_truth_{data,domain}/``, where ``asdlab evaluate --data`` finds it.

* Cache: archives are kept in ``<root>/archives/<dataset>/`` (``cache``); a verified archive is
  never downloaded again, and an archive already unpacked is not even looked at.
* Resume: pooch does not resume, so :class:`ResumingDownloader` writes ``<archive>.part`` and
  continues it with an HTTP ``Range`` request, within a call (``attempts``) and across calls.
* Checksums: Zenodo's md5 where the table has it; otherwise the sha256 of the first download is
  recorded in ``<archive>.sha256`` (one line says so) and later downloads are checked against it.
  A mismatch (corrupted or truncated file) gets one fresh download, then a one-line
  :class:`~asdlab.core.errors.DataError` naming the archive.
* Unpacking: into a temporary folder next to the dataset folder (same file system), then renames:
  the dataset folder never holds half an archive. The archive's own folders are kept (2021:
  ``source_test/`` and ``target_test/``, which :mod:`asdlab.data` reads as the test split).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pandas as pd

from asdlab.core.atomic import atomic_write_text
from asdlab.core.errors import AsdlabError, ConfigError, DataError
from asdlab.data import records

MANIFEST = ".asdlab-download.json"
"""In the dataset folder: which archives were unpacked there, with their checksums and entries."""
_SPLIT_DIRS = ("train", "test", "source_test", "target_test", "supplemental")
_GT_NAME = re.compile(r"^ground_truth_(?P<machine>.+)_section_(?P<section>\d{2})_"
                      r"(?:(?P<domain>source|target)_)?test\.csv$")
_ANON = re.compile(r"^(?:section|id)_(?P<section>\d{2})_")
RETRY_WAIT = 2.0
"""Seconds before the n-th retry of an interrupted download waits ``n * RETRY_WAIT``."""


def list_records() -> pd.DataFrame:
    """Every known archive: ``dataset, split, machine, file, size`` (bytes, ``<NA>`` when not
    published), ``md5`` (None when not published), ``url``, ``ground_truth`` (eval archives whose
    year has the organisers' ground truth in the table)."""
    with_gt = {g.dataset for g in records.GROUND_TRUTH}
    table = pd.DataFrame([{
        "dataset": a.dataset, "split": a.split, "machine": a.machine, "file": a.file,
        "size": a.size, "md5": a.md5, "url": a.url,
        "ground_truth": a.split == "eval" and a.dataset in with_gt} for a in records.ARCHIVES])
    table["size"] = table["size"].astype("Int64")
    table["md5"] = table["md5"].astype(object).where(table["md5"].notna(), None)
    return table


def select_archives(dataset: str, split: str = "dev", machines=None) -> list[records.Archive]:
    """The table's archives of ``dataset`` / ``split`` (all machine types, or ``machines``)."""
    known = tuple(dict.fromkeys(a.dataset for a in records.ARCHIVES))
    if dataset not in known:
        raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(known)}")
    if split not in records.SPLITS:
        raise ConfigError(f"unknown split {split!r} for {dataset}; choose one of "
                          f"{', '.join(records.SPLITS)}")
    rows = [a for a in records.ARCHIVES if a.dataset == dataset and a.split == split]
    if not rows:
        have = sorted({a.split for a in records.ARCHIVES if a.dataset == dataset})
        raise ConfigError(f"{dataset} has no {split} archives in the table (it has: {', '.join(have)})")
    if machines is not None:
        machines = [machines] if isinstance(machines, str) else list(machines)
        unknown = [m for m in machines if m not in {a.machine for a in rows}]
        if unknown:
            raise ConfigError(f"{dataset} {split}: unknown machine type(s) {', '.join(unknown)}; "
                              f"available: {', '.join(a.machine for a in rows)}")
        rows = [a for a in rows if a.machine in machines]
    return rows


def download(dataset: str, split: str = "dev", machines=None, root: str | os.PathLike = ".", *,
             cache: str | os.PathLike | None = None, progress: bool = True,
             log: Callable[[str], None] | None = print, attempts: int = 3) -> Path:
    """Fetch, verify and unpack ``dataset``'s ``split`` (``dev``, ``train-add`` or ``eval``) into
    ``<root>/<dataset>/``; returns that folder (the data root of ``asdlab run``).

    ``machines``: machine types (default: all of the split). ``cache``: archive folder (default
    ``<root>/archives/<dataset>``). ``progress``: tqdm bars. ``log``: one line per archive.
    ``attempts``: HTTP requests per archive before an interrupted download is reported (the
    ``.part`` file stays, and the next call resumes it).
    """
    archives = select_archives(dataset, split, machines)
    log = log or (lambda _msg: None)
    root = Path(root).absolute()
    ds_dir = root / dataset
    cache = Path(cache).absolute() if cache is not None else root / "archives" / dataset
    manifest = _read_manifest(ds_dir)
    for arc in archives:
        dest = ds_dir / arc.folder / "raw" / arc.machine
        done = manifest.get(arc.file)
        if done and all((dest / e).exists() for e in done["entries"]):
            log(f"{arc.file}: already unpacked in {dest}")
            continue
        path, checksum = _fetch_archive(arc, cache, progress, log, attempts)
        entries = _unpack(path, arc, dest, root)
        manifest[arc.file] = {"split": arc.split, "machine": arc.machine, "checksum": checksum,
                              "entries": entries}
        atomic_write_text(ds_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        log(f"{arc.file}: unpacked into {dest}")
    if split == "eval":
        _attach_ground_truth(dataset, [a.machine for a in archives], ds_dir, cache, log, attempts)
    return ds_dir


def _read_manifest(ds_dir: Path) -> dict:
    path = ds_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable ({err}); delete it and run again") from None


# ---------------------------------------------------------------------------------------------
# fetching


class ResumingDownloader:
    """A pooch downloader that resumes: GET ``url`` into ``part`` (appending from its current size
    with ``Range: bytes=N-``), up to ``attempts`` requests, then move it to pooch's output file.

    A server that ignores the Range header (status 200) restarts the file; 416 on a non-empty
    ``part`` means it is already whole. Raises :class:`DataError` on an HTTP error status or when
    the file is still short after ``attempts`` requests (``part`` is kept for the next call).
    """

    def __init__(self, part: Path, progress: bool = True, label: str = "", attempts: int = 3,
                 timeout: float = 60.0, chunk: int = 1 << 20):
        self.part, self.progress, self.label = Path(part), progress, label or Path(part).stem
        self.attempts, self.timeout, self.chunk = attempts, timeout, chunk

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        import requests  # pooch's own dependencies; imported late like pooch does
        import urllib3

        if check_only:
            return requests.head(url, allow_redirects=True, timeout=self.timeout).ok
        self.part.parent.mkdir(parents=True, exist_ok=True)
        have, total, last = self._size(), None, "no answer"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(attempt * RETRY_WAIT)
            have = self._size()
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as resp:
                    if resp.status_code == 416 and have:
                        total = have  # nothing left to send: the part file is whole
                        break
                    if resp.status_code >= 400:
                        raise DataError(f"{self.label}: {url} answered HTTP {resp.status_code} "
                                        f"{resp.reason}")
                    if have and resp.status_code != 206:
                        have = 0  # the server ignored Range: start again
                    length = resp.headers.get("Content-Length")
                    total = have + int(length) if length is not None else None
                    self._stream(resp, have, total)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if total is None or self._size() >= total:
                break
            last = "connection closed early"
        else:
            raise DataError(f"{self.label}: download interrupted at {self._size()} of "
                            f"{total if total is not None else '?'} bytes after {self.attempts} "
                            f"tries ({last}); run again to resume")
        os.replace(self.part, output_file)

    def _size(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def _stream(self, resp, have: int, total: int | None) -> None:
        from tqdm.auto import tqdm

        with open(self.part, "ab" if have else "wb") as fh, \
                tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=self.label, disable=not self.progress, leave=False) as bar:
            # read1 hands over what has arrived, so bytes before a broken connection are kept
            read = getattr(resp.raw, "read1", None) or resp.raw.read
            while block := read(self.chunk, decode_content=True):
                fh.write(block)
                bar.update(len(block))


@contextmanager
def _quiet_pooch():
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield pooch
    finally:
        logger.setLevel(level)


def _fetch(url: str, fname: str, folder: Path, known: str | None, label: str, progress: bool,
           log: Callable[[str], None], attempts: int) -> Path:
    """``folder/fname``, downloaded (resuming) unless present and matching ``known``
    (``"md5:..."``/``"sha256:..."``/None). After a mismatch: one fresh download, then DataError."""
    import requests

    part = folder / (fname + ".part")
    for attempt in (1, 2):
        try:
            with _quiet_pooch() as pooch:
                return Path(pooch.retrieve(url, known, fname=fname, path=folder, progressbar=False,
                                           downloader=ResumingDownloader(part, progress, label,
                                                                         attempts)))
        except AsdlabError:
            raise
        except ValueError:  # pooch: the downloaded file's hash is not `known`
            part.unlink(missing_ok=True)
            if attempt == 2:
                raise DataError(f"{label}: checksum mismatch again after one re-download "
                                f"(expected {known}); the file at {url} is corrupted or has "
                                f"changed; nothing was unpacked") from None
            log(f"{label}: checksum mismatch (corrupted or truncated); downloading it again")
        except (requests.RequestException, OSError) as err:
            raise DataError(f"{label}: download from {url} failed ({type(err).__name__}: {err}); "
                            f"run again to resume") from None
    raise AssertionError("unreachable")


def _fetch_archive(arc: records.Archive, cache: Path, progress: bool, log, attempts: int):
    """(path, checksum) of the verified archive in ``cache``."""
    import pooch

    sidecar = cache / (arc.file + ".sha256")
    if arc.md5:
        known = f"md5:{arc.md5}"
    elif sidecar.is_file():
        known = "sha256:" + sidecar.read_text().split()[0]
    else:
        known = None
    path = _fetch(arc.url, arc.file, cache, known, arc.file, progress, log, attempts)
    if known is None:
        known = "sha256:" + pooch.file_hash(str(path), alg="sha256")
        atomic_write_text(sidecar, f"{known[7:]}  {arc.file}\n")
        log(f"{arc.file}: no published checksum in asdlab's table; recorded its sha256 in "
            f"{sidecar} and later downloads are checked against it")
    return path, known


# ---------------------------------------------------------------------------------------------
# unpacking


def _unpack(zip_path: Path, arc: records.Archive, dest: Path, root: Path) -> list[str]:
    """Unpack ``zip_path`` into a temporary folder under ``root``, then rename its machine folder
    (or each entry of it, when ``dest`` exists) into ``dest``. Returns the entry names."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".asdlab-unpack-", dir=root))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(tmp / "x")
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DataError(f"{arc.file}: cannot unpack {zip_path} ({err}); delete it (and its "
                            f".sha256, if any) to download it again") from None
        src = _machine_folder(tmp / "x", arc)
        entries = sorted(p.name for p in src.iterdir())
        clash = [e for e in entries if (dest / e).exists()]
        if clash:
            raise DataError(f"{dest / clash[0]}: already exists and was not unpacked from "
                            f"{arc.file} by asdlab; move it away and run again")
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dest)
        else:
            for e in entries:
                os.rename(src / e, dest / e)
        return entries
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _machine_folder(top: Path, arc: records.Archive) -> Path:
    """The one folder in the unpacked archive that holds train/, test/ (or 2021's
    source_test/, target_test/): the top itself or at most three levels down."""
    if any((top / s).is_dir() for s in _SPLIT_DIRS):
        return top
    found = []
    for depth_glob in ("*", "*/*", "*/*/*"):
        found = [d for d in top.glob(depth_glob) if d.is_dir() and "__MACOSX" not in d.parts
                 and any((d / s).is_dir() for s in _SPLIT_DIRS)]
        if found:
            break
    if len(found) != 1:
        what = "no folder" if not found else f"{len(found)} folders"
        raise DataError(f"{arc.file}: unexpected layout inside the archive: {what} with "
                        f"{'/ or '.join(_SPLIT_DIRS[:2])}/ (expected {arc.machine}/train/ ...)")
    return found[0]


# ---------------------------------------------------------------------------------------------
# evaluation ground truth


def ground_truth_files(style: str, texts: dict[str, str], machines) -> dict[str, str]:
    """Evaluator-style ground truth (what :func:`asdlab.metrics.submission.load_ground_truth`
    reads) from the organisers' files ``texts`` (``{path in repo: text}``) of ``style``
    (:class:`asdlab.data.records.GroundTruthSource`), for ``machines`` only.

    Returns ``{"ground_truth_data/<name>" or "ground_truth_domain/<name>": text}`` with
    ``<name> = ground_truth_<machine>_section_<SS>_test.csv`` (2021:
    ``..._section_<SS>_{source,target}_test.csv``, no domain files) and rows ``<file>,<0|1>``
    (label: 1 = anomaly; domain: 1 = target). ``eval_data_list`` files without domains (2020) give
    no ``ground_truth_domain`` files.
    """
    machines = set(machines)
    if style == "evaluator":
        out = {}
        for path, text in texts.items():
            m = _GT_NAME.match(Path(path).name)
            if m and m["machine"] in machines:
                out[f"{Path(path).parent.name}/{Path(path).name}"] = _lines(_rows(text))
        return out
    if style == "eval_data_list":
        data: dict[tuple[str, str], list] = {}
        for text in texts.values():
            machine = None
            for row in _rows(text, width=None):
                if len(row) == 1:
                    machine = row[0]
                    continue
                if machine not in machines:
                    continue
                anon, labelled = row[0], row[1]
                section = _ANON.match(anon)
                if section is None:
                    raise DataError(f"{machine}: {anon!r} in the evaluation list has no section or "
                                    "machine ID")
                label = row[2] if len(row) > 2 else ("1" if "anomaly" in labelled.split("_") else "0")
                parts = labelled.split("_")
                domain = ("1" if "target" in parts else "0") if {"source", "target"} & set(parts) else None
                data.setdefault((machine, section["section"]), []).append((anon, label, domain))
        return _evaluator_files(data)
    raise ConfigError(f"unknown ground-truth style {style!r}")


def _rows(text: str, width: int | None = 2) -> list[list[str]]:
    rows = [[c.strip() for c in line.split(",")] for line in text.splitlines() if line.strip()]
    bad = [r for r in rows if width is not None and len(r) != width]
    if bad:
        raise DataError(f"ground truth row {','.join(bad[0])!r}: expected {width} columns")
    return rows


def _lines(rows) -> str:
    return "".join(f"{a},{b}\n" for a, b in rows)


def _evaluator_files(data: dict) -> dict[str, str]:
    out = {}
    for (machine, section), rows in sorted(data.items()):
        name = f"ground_truth_{machine}_section_{section}_test.csv"
        out[f"ground_truth_data/{name}"] = _lines((f, label) for f, label, _ in rows)
        if all(d is not None for _, _, d in rows):
            out[f"ground_truth_domain/{name}"] = _lines((f, d) for f, _, d in rows)
    return out


def _attach_ground_truth(dataset: str, machines: list[str], ds_dir: Path, cache: Path, log,
                         attempts: int) -> None:
    source = next((g for g in records.GROUND_TRUTH if g.dataset == dataset), None)
    if source is None:
        log(f"{dataset}: the organisers' evaluation ground truth is not in asdlab's table; "
            "`asdlab evaluate` needs --ground-truth")
        return
    texts = {}
    for path, sha in source.files:
        m = _GT_NAME.match(Path(path).name)
        if m and m["machine"] not in machines:
            continue
        got = _fetch(source.url(path), path, cache / "ground_truth", f"sha256:{sha}",
                     f"{dataset} ground truth {Path(path).name}", False, log, attempts)
        texts[path] = got.read_text(encoding="utf-8")
    files = ground_truth_files(source.style, texts, machines)
    missing = sorted(set(machines) - {_GT_NAME.match(Path(p).name)["machine"] for p in files})
    if missing:
        log(f"{dataset}: no evaluation ground truth for {', '.join(missing)}")
    # domain files first: the reader requires one for every data file once the folder exists
    for rel in sorted(files, key=lambda p: not p.startswith("ground_truth_domain/")):
        atomic_write_text(ds_dir / "ground_truth" / rel, files[rel])
    log(f"{dataset}: evaluation ground truth ({source.repo}@{source.commit[:7]}) in "
        f"{ds_dir / 'ground_truth'}")
