"""DCASE Task 2 submission files, evaluator-style ground truth, and evaluation.

Submission (headerless CSV, one pair of files per machine and section, rows sorted by name):

- ``anomaly_score_<machine>_section_<SS>_test.csv``: ``<wav basename>,<score>`` (higher = more
  anomalous);
- ``decision_result_<machine>_section_<SS>_test.csv``: ``<wav basename>,<0|1>``.

Ground truth as the official evaluator keeps it (headerless too):
``ground_truth_data/ground_truth_<machine>_section_<SS>_test.csv`` with ``name,label`` rows
(0 normal, 1 anomaly) and ``ground_truth_domain/<same name>`` with ``name,domain`` rows
(0 source, 1 target). Without a ``ground_truth_domain`` folder the clips have no domain.

The DCASE 2021 evaluator kept its ground truth per domain,
``ground_truth_<machine>_section_<SS>_{source,target}_test.csv`` (``name,label`` rows, no domain
folder); :func:`load_ground_truth` reads those too, takes the domain from the file name and marks the
clips with the 2021 test folder (column ``folder``), so that the 2021 protocol is detected.

The evaluator sorts both sides by file name and pairs rows by position, so a header line or a
missing row breaks it. :func:`evaluate` pairs rows by name instead and refuses any mismatch,
naming the file and the rows, and scores under the protocol the ground truth calls for
(:mod:`asdlab.metrics.protocols`) unless told which. A file that starts with a UTF-8 byte-order
mark is refused by name: the official evaluators (e.g. ``dcase2023_task2_evaluator.py``,
``read_score``: ``open()`` + ``csv.reader``, then ``sorted``) keep the mark as part of the first
file name, which then sorts last and pairs that row's score with another clip's label, silently
(pandas' ``read_csv`` would strip it, but the evaluators do not use it for these files). Names
with invisible or control characters are quoted with escapes in mismatch messages. A submission
folder inside a run folder with a manifest (:mod:`asdlab.core.manifest`) is checked against it first.
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import SubmissionError
from asdlab.core.manifest import verify_manifest
from asdlab.metrics import metrics_table, official_score, resolve_protocol, section_metrics

SCORE_RE = re.compile(r"^anomaly_score_(?P<machine>.+)_section_(?P<section>\d{2})_test\.csv$")
DECISION_RE = re.compile(r"^decision_result_(?P<machine>.+)_section_(?P<section>\d{2})_test\.csv$")
GROUND_TRUTH_RE = re.compile(r"^ground_truth_(?P<machine>.+)_section_(?P<section>\d{2})_test\.csv$")
GROUND_TRUTH_2021_RE = re.compile(
    r"^ground_truth_(?P<machine>.+)_section_(?P<section>\d{2})_(?P<domain>source|target)_test\.csv$")
MAX_LISTED = 10  # names quoted in a mismatch message


def score_file_name(machine: str, section: str) -> str:
    """``anomaly_score_<machine>_section_<SS>_test.csv``."""
    return f"anomaly_score_{machine}_section_{section}_test.csv"


def decision_file_name(machine: str, section: str) -> str:
    """``decision_result_<machine>_section_<SS>_test.csv``."""
    return f"decision_result_{machine}_section_{section}_test.csv"


# ---------------------------------------------------------------------------------------------
# writing


def write_submission(scores: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """Write the submission files of ``scores`` into ``out_dir`` (created if needed).

    ``scores``: columns ``file`` (wav basename), ``machine``, ``section`` (two digits, e.g.
    "00"), ``score`` (finite float, higher = more anomalous) and optionally ``decision`` (0/1).
    A section gets a decision file when its decisions are given (all of them; the official
    evaluator needs these files); a section without decisions has any old decision file removed.
    Scores are written with ``repr`` so that reading gives back the same floats. Each file goes
    through a temporary file and :func:`os.replace`. Returns the written paths.
    """
    _check_for_writing(scores)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (machine, section), g in scores.groupby(["machine", "section"], sort=True):
        g = g.sort_values("file")
        lines = [f"{f},{float(s)!r}\n" for f, s in zip(g["file"], g["score"])]
        written.append(_write_atomic(out / score_file_name(machine, section), "".join(lines)))
        decision_path = out / decision_file_name(machine, section)
        if "decision" in g.columns and g["decision"].notna().all():
            lines = [f"{f},{int(d)}\n" for f, d in zip(g["file"], g["decision"])]
            written.append(_write_atomic(decision_path, "".join(lines)))
        else:
            decision_path.unlink(missing_ok=True)
    return written


def _check_for_writing(scores: pd.DataFrame) -> None:
    missing = [c for c in ("file", "machine", "section", "score") if c not in scores.columns]
    if missing:
        raise SubmissionError(f"scores table lacks column(s) {', '.join(missing)}")
    if scores.empty:
        raise SubmissionError("scores table is empty: nothing to write")
    rules = (("machine", r"[^/\\\s]+"), ("section", r"\d{2}"), ("file", r"[^/\\,\"\r\n]+"))
    for col, rule in rules:
        bad = ~scores[col].map(lambda v: isinstance(v, str) and re.fullmatch(rule, v) is not None)
        if bad.any():
            raise SubmissionError(f"bad {col} {scores[col][bad].iloc[0]!r} in the scores table "
                                  f"({int(bad.sum())} row(s)); a {col} must match {rule}")
    dup = scores.duplicated(["machine", "section", "file"])
    if dup.any():
        row = scores[dup].iloc[0]
        raise SubmissionError(f"file {row['file']!r} appears more than once for machine "
                              f"{row['machine']!r} section {row['section']}")
    s = pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(s).all():
        raise SubmissionError(f"score of {scores['file'][~np.isfinite(s)].iloc[0]!r} is not a "
                              "finite number")
    if "decision" in scores.columns:
        _check_decisions(scores)


def _check_decisions(scores: pd.DataFrame) -> None:
    """Decisions are 0/1, and a section has all of them or none."""
    given = scores["decision"].notna()
    bad = given & ~pd.to_numeric(scores["decision"], errors="coerce").isin((0, 1))
    if bad.any():
        raise SubmissionError(f"decision {scores['decision'][bad].iloc[0]!r} of "
                              f"{scores['file'][bad].iloc[0]!r} is not 0 or 1")
    partial = given.groupby([scores["machine"], scores["section"]]).agg(
        lambda g: 0 < g.sum() < len(g))
    if partial.any():
        machine, section = partial[partial].index[0]
        raise SubmissionError(f"machine {machine!r} section {section}: decisions are given for "
                              "some clips only (give all or none)")


def _write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(text), text=True)
    return path


# ---------------------------------------------------------------------------------------------
# reading


def _read_rows(path: Path, value_name: str, parse) -> dict[str, object]:
    """``{name: parse(value)}`` from a headerless two-column CSV, in file order.

    Raises :class:`SubmissionError` naming ``path`` for an empty file, a UTF-8 byte-order mark, a
    header line, a row without exactly two columns, a value ``parse`` rejects (``ValueError``;
    "not a number" for a word on line 1 that reads as a header, "not a finite number" for
    nan / inf) or a repeated name.
    """
    with open(path, "rb") as fh:
        if fh.read(3) == b"\xef\xbb\xbf":
            raise SubmissionError(f"{path}: starts with a UTF-8 byte-order mark (bytes EF BB BF); the "
                                  "official evaluator keeps it in the first file name, sorts that row last "
                                  "and pairs it with the wrong clip: save the file as UTF-8 without BOM")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise SubmissionError(f"{path}: empty file (expected one '<file>,<{value_name}>' row "
                              "per clip)")
    out: dict[str, object] = {}
    for line, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise SubmissionError(f"{path}, line {line}: expected 2 columns "
                                  f"'<file>,<{value_name}>', got {len(row)}: {','.join(row)!r}")
        name, value = row
        try:
            out.setdefault(name, parse(value))
        except ValueError:
            number = _as_float(value)
            if number is not None and not math.isfinite(number):
                raise SubmissionError(f"{path}, line {line}: {value_name} {value!r} of {_shown(name)} "
                                      "is not a finite number") from None
            if line == 1 and number is None:
                raise SubmissionError(f"{path}: line 1 {','.join(row)!r} looks like a header line "
                                      f"({value_name} {value!r} is not a number); the files must have "
                                      "no header") from None
            raise SubmissionError(f"{path}, line {line}: {value_name} {value!r} of {_shown(name)} is "
                                  "not valid") from None
        if len(out) != line:
            raise SubmissionError(f"{path}, line {line}: file {name!r} appears more than once")
    return out


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _shown(name: str) -> str:
    """``name`` quoted, with escapes for invisible or control characters (a BOM, a tab)."""
    return repr(name) if name.isprintable() else ascii(name)


def _score(value: str) -> float:
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(value)
    return x


def _zero_one(value: str) -> int:
    x = float(value)
    if x not in (0.0, 1.0):
        raise ValueError(value)
    return int(x)


def _listing(names, what: str) -> str:
    names = sorted(names)
    shown = ", ".join(n if n.isprintable() else ascii(n) for n in names[:MAX_LISTED]) + (
        ", ..." if len(names) > MAX_LISTED else "")
    return f"{len(names)} {what}: {shown}"


def _mismatch(expected, got, missing_what: str, extra_what: str) -> str:
    """'' when the name sets agree, else what is missing and what is extra."""
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    parts = ([_listing(missing, missing_what)] if missing else []) + (
        [_listing(extra, extra_what)] if extra else [])
    return "; ".join(parts)


def read_submission(submission_dir: str | os.PathLike) -> pd.DataFrame:
    """All submission files of a folder as ``DataFrame(file, machine, section, score, decision)``.

    ``score`` float; ``decision`` nullable ``Int64``, ``<NA>`` for a section without a decision
    file. Rows sorted by machine, section, file. Files not named like submission files are
    ignored. Raises :class:`SubmissionError` naming the file for a header line, a non-numeric or
    non-finite score, a decision other than 0/1, a wrong column count, a repeated file, an empty
    file, a decision file without its score file or with other names than it.
    """
    folder = Path(submission_dir)
    if not folder.is_dir():
        raise SubmissionError(f"submission folder {folder} does not exist")
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    sections = [m for m in map(SCORE_RE.match, names) if m]
    for m in (DECISION_RE.match(n) for n in names):
        if m and score_file_name(m["machine"], m["section"]) not in names:
            raise SubmissionError(f"{folder / m.string} has no matching score file "
                                  f"{folder / score_file_name(m['machine'], m['section'])}")
    if not sections:
        raise SubmissionError(f"{folder}: no anomaly_score_<machine>_section_<SS>_test.csv files")
    frames = [_read_section(folder, m["machine"], m["section"]) for m in sections]
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["machine", "section", "file"], ignore_index=True)


def _read_section(folder: Path, machine: str, section: str) -> pd.DataFrame:
    score_path = folder / score_file_name(machine, section)
    scores = _read_rows(score_path, "score", _score)
    decision_path = folder / decision_file_name(machine, section)
    decisions: dict[str, object] = {}
    if decision_path.is_file():
        decisions = _read_rows(decision_path, "decision", _zero_one)
        problem = _mismatch(scores, decisions, f"file(s) of {score_path.name} missing",
                            f"file(s) not in {score_path.name}")
        if problem:
            raise SubmissionError(f"{decision_path}: {problem}")
    files = sorted(scores)
    return pd.DataFrame({
        "file": files, "machine": machine, "section": section,
        "score": np.array([scores[f] for f in files], dtype=float),
        "decision": pd.array([decisions.get(f) for f in files], dtype="Int64"),
    })


# ---------------------------------------------------------------------------------------------
# ground truth


def load_ground_truth(ground_truth_dir: str | os.PathLike) -> pd.DataFrame:
    """Evaluator-style ground truth as ``DataFrame(file, machine, section, label, domain)``.

    Reads ``ground_truth_data/ground_truth_<machine>_section_<SS>_test.csv`` (``name,0|1``) and,
    when the folder exists, ``ground_truth_domain/`` (``name,0 source|1 target``); without it
    ``domain`` is None. ``label`` is "normal"/"anomaly". Sorted by machine, section, file.
    DCASE 2021 files ``..._section_<SS>_{source,target}_test.csv`` give the domain by their name
    and add the column ``folder`` (``source_test``/``target_test``).
    """
    root = Path(ground_truth_dir)
    data_dir, domain_dir = root / "ground_truth_data", root / "ground_truth_domain"
    if not data_dir.is_dir():
        raise SubmissionError(f"ground truth folder {root} has no ground_truth_data/ folder")
    names = sorted(os.listdir(data_dir))
    matches = [m for m in map(GROUND_TRUTH_RE.match, names) if m]
    by_domain = [m for m in map(GROUND_TRUTH_2021_RE.match, names) if m]
    if not matches and not by_domain:
        raise SubmissionError(f"{data_dir}: no ground_truth_<machine>_section_<SS>_test.csv files")
    frames = [_ground_truth_section(data_dir, domain_dir, m) for m in matches]
    frames += [_ground_truth_2021(data_dir, m) for m in by_domain]
    gt = pd.concat(frames, ignore_index=True)
    dup = gt.duplicated(["machine", "section", "file"])
    if dup.any():
        raise SubmissionError(f"{data_dir}: clip {gt['file'][dup].iloc[0]!r} of machine "
                              f"{gt['machine'][dup].iloc[0]!r} section {gt['section'][dup].iloc[0]} is in "
                              "two ground-truth files")
    return gt.sort_values(["machine", "section", "file"], ignore_index=True)


def _ground_truth_2021(data_dir: Path, m: re.Match) -> pd.DataFrame:
    """One DCASE 2021 per-domain ground-truth file."""
    labels = _read_rows(data_dir / m.string, "label", _zero_one)
    files = sorted(labels)
    return pd.DataFrame({
        "file": files, "machine": m["machine"], "section": m["section"],
        "label": [("normal", "anomaly")[labels[f]] for f in files],
        "domain": pd.Series([m["domain"]] * len(files), dtype=object),
        "folder": f"{m['domain']}_test",
    })


def _ground_truth_section(data_dir: Path, domain_dir: Path, m: re.Match) -> pd.DataFrame:
    labels = _read_rows(data_dir / m.string, "label", _zero_one)
    files = sorted(labels)
    domains = dict.fromkeys(files)
    if domain_dir.is_dir():
        path = domain_dir / m.string
        if not path.is_file():
            raise SubmissionError(f"missing domain ground truth {path} (needed because "
                                  f"{domain_dir} exists)")
        coded = _read_rows(path, "domain", _zero_one)
        problem = _mismatch(labels, coded, f"file(s) of {data_dir / m.string} missing",
                            "file(s) without a label")
        if problem:
            raise SubmissionError(f"{path}: {problem}")
        domains = {f: ("source", "target")[coded[f]] for f in files}
    return pd.DataFrame({
        "file": files, "machine": m["machine"], "section": m["section"],
        "label": [("normal", "anomaly")[labels[f]] for f in files],
        "domain": pd.Series([domains[f] for f in files], dtype=object),
    })


def ground_truth_from_table(clip_table: pd.DataFrame) -> pd.DataFrame:
    """Ground truth of the labelled test clips of a clip table (see :mod:`asdlab.data`).

    Keeps rows with ``split == "test"`` and a label (dev-set names carry label and domain;
    anonymised evaluation names do not and are dropped). Returns
    ``DataFrame(file, machine, section, label, domain)`` sorted by machine, section, file.
    """
    test = clip_table[(clip_table["split"] == "test") & clip_table["label"].notna()]
    if test.empty:
        raise SubmissionError("the clip table has no labelled test clips (evaluation-set names "
                              "are anonymised: give the evaluator's ground-truth folder instead)")
    keep = ["file", "machine", "section", "label", "domain"] + (["folder"] if "folder" in test.columns else [])
    gt = test[keep].copy()
    gt["domain"] = gt["domain"].astype(object).where(gt["domain"].notna(), None)
    dup = gt.duplicated(["machine", "section", "file"])
    if dup.any():
        raise SubmissionError(f"test clip {gt['file'][dup].iloc[0]!r} appears twice for machine "
                              f"{gt['machine'][dup].iloc[0]!r} in the clip table")
    return gt.sort_values(["machine", "section", "file"], ignore_index=True)


def _ground_truth(data_root, ground_truth_dir) -> pd.DataFrame:
    """Ground truth from ``ground_truth_dir``, else ``data_root/ground_truth``, else file names."""
    if ground_truth_dir is not None:
        return load_ground_truth(ground_truth_dir)
    if data_root is None:
        raise SubmissionError("evaluation needs ground truth: give data_root or ground_truth_dir")
    folder = Path(data_root) / "ground_truth"
    if (folder / "ground_truth_data").is_dir():
        return load_ground_truth(folder)
    from asdlab import data  # the data layer sits below; imported late to keep this module light

    return ground_truth_from_table(data.build_clip_table(data_root))


# ---------------------------------------------------------------------------------------------
# evaluation


def evaluate(submission_dir: str | os.PathLike, data_root: str | os.PathLike | None = None,
             ground_truth_dir: str | os.PathLike | None = None,
             machines: list[str] | None = None,
             protocol: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Score a submission folder like the official evaluator.

    Ground truth: ``ground_truth_dir`` if given, else ``<data_root>/ground_truth/`` when it
    holds ``ground_truth_data/``, else the labels and domains in the dev-set file names of
    ``asdlab.data.build_clip_table(data_root)``. ``machines`` restricts the evaluation to those
    machine types (default: all in the ground truth). Every ground-truth section needs a score
    file whose names match its clips exactly; score files of other sections are ignored, as the
    evaluator does. Without decision files, precision/recall/F1 are NaN. ``protocol``: None or
    ``"auto"`` (detected from the ground truth, :func:`asdlab.metrics.detect_protocol`) or a name.

    Returns ``(section_table, metrics_table, official_score)`` from :mod:`asdlab.metrics`; both
    tables carry the protocol in ``attrs["protocol"]``.
    """
    folder = Path(submission_dir)
    if (folder.parent / "manifest.json").is_file():  # the submission of a finished run: unchanged?
        verify_manifest(folder.parent, under=folder.name)
    gt = _select_machines(_ground_truth(data_root, ground_truth_dir), machines)
    sub = read_submission(folder)
    problems = _alignment_problems(gt, sub, folder)
    if problems:
        raise SubmissionError("submission does not match the ground truth:\n" + "\n".join(problems))
    scores = gt.merge(sub, on=["machine", "section", "file"], how="left", validate="one_to_one")
    name = resolve_protocol(protocol, gt)
    table = section_metrics(scores, name)
    return table, metrics_table(table, name), official_score(table, name)


def _select_machines(gt: pd.DataFrame, machines) -> pd.DataFrame:
    if machines is None:
        return gt
    unknown = sorted(set(machines) - set(gt["machine"]))
    if unknown:
        raise SubmissionError(f"machine(s) {', '.join(unknown)} not in the ground truth "
                              f"(it has {', '.join(sorted(set(gt['machine'])))})")
    return gt[gt["machine"].isin(machines)].reset_index(drop=True)


def _alignment_problems(gt: pd.DataFrame, sub: pd.DataFrame, folder: Path) -> list[str]:
    """One line per ground-truth section whose score file is missing or has other names."""
    problems = []
    submitted = {key: g["file"] for key, g in sub.groupby(["machine", "section"])}
    for (machine, section), g in gt.groupby(["machine", "section"]):
        path = folder / score_file_name(machine, section)
        if (machine, section) not in submitted:
            problems.append(f"missing score file {path} ({len(g)} clips in the ground truth)")
            continue
        mismatch = _mismatch(g["file"], submitted[machine, section],
                             "missing row(s)", "extra row(s) not in the ground truth")
        if mismatch:
            problems.append(f"{path}: {mismatch}")
    return problems
