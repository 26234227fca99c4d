"""Manifests of finished folders: every file's size and SHA-256, written last, checked on reuse.

A run folder gets ``manifest.json`` (``{"version": 1, "files": {"<relative path>": {"size": n,
"sha256": hex}}}``) just before it is renamed into place (:func:`asdlab.runs.folder.promote`), so
a reader can tell a folder changed or damaged since (a file emptied, cut, overwritten, removed)
from the one asdlab wrote. Files added later (e.g. cached UMAP coordinates) are not checked. A
folder without a manifest (made before manifests existed) passes unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from asdlab.core.atomic import atomic_write_text
from asdlab.core.errors import AsdlabError

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


class ManifestError(AsdlabError):
    """A folder's file differs from its manifest (the message names the file and how)."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: str | os.PathLike) -> Path:
    """Write ``folder/manifest.json`` of every regular file under ``folder`` (at any depth, the
    manifest itself and hidden ``.*.tmp`` files left out), atomically. Returns its path."""
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if rel == MANIFEST or not p.is_file() or p.is_symlink() or (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue
        files[rel] = {"size": p.stat().st_size, "sha256": sha256_file(p)}
    path = folder / MANIFEST
    atomic_write_text(path, json.dumps({"version": 1, "files": files}, indent=1) + "\n")
    return path


_RACY_NS = 100_000_000  # 0.1 s
_VERIFIED: dict[tuple[str, str | None], tuple] = {}
"""Folders this process verified, with the stat signature of the manifest and of every checked
file at that moment (:func:`verify_manifest` skips the hashing while it is unchanged)."""


def _signature(path: Path, rels) -> tuple | None:
    """``(size, mtime_ns, inode)`` of the manifest and of each file, None when one is missing."""
    try:
        return tuple((st.st_size, st.st_mtime_ns, st.st_ino)
                     for st in (os.stat(p) for p in (path, *(path.parent / r for r in rels))))
    except OSError:
        return None


def verify_manifest(folder: str | os.PathLike, under: str | None = None) -> bool:
    """Check the files of ``folder`` against its manifest (only those below the subfolder
    ``under`` when given). False when there is no manifest, True when every file matches, else
    :class:`ManifestError` for the first file that does not: ``"<file>: 0 bytes, the manifest says
    1234 (...)"``, ``"<file>: content changed (sha256 differs, same size) ..."``, ``"<file>:
    missing ..."``, or a manifest that cannot be read.

    A folder verified earlier in this process is not hashed again while the size, modification
    time and inode of its manifest and of every checked file are unchanged (as ``git status``
    trusts its index): a notebook that loads one run several times hashes it once."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return False
    key = (str(folder.resolve()), under)
    started = time.time_ns()
    seen = _VERIFIED.get(key)
    if seen is not None and _signature(path, seen[0]) == seen[1]:
        return True
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        items = [(rel, int(v["size"]), str(v["sha256"])) for rel, v in files.items()]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ManifestError(f"{path}: damaged manifest ({type(err).__name__}); the folder cannot be "
                            "checked: remove it or make it again") from None
    after = "since the folder was finished (recorded in " + str(path) + ")"
    for rel, size, digest in items:
        if under is not None and not rel.startswith(under.rstrip("/") + "/"):
            continue
        f = folder / rel
        try:
            actual = f.stat().st_size
        except FileNotFoundError:
            raise ManifestError(f"{f}: missing, removed {after}") from None
        if actual != size:
            raise ManifestError(f"{f}: {actual} bytes, the manifest says {size}: changed or damaged {after}")
        if sha256_file(f) != digest:
            raise ManifestError(f"{f}: content changed (sha256 differs, same size) {after}")
    checked = tuple(rel for rel, _, _ in items if under is None or rel.startswith(under.rstrip("/") + "/"))
    signature = _signature(path, checked)
    # like git's "racily clean" rule: a file written within the clock's coarse tick of the check
    # could change again without changing its mtime, so such a folder is not remembered
    if signature is not None and all(mtime < started - _RACY_NS for _, mtime, _ in signature):
        _VERIFIED[key] = (checked, signature)
    return True
