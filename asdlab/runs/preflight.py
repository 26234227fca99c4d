"""What the data support, checked before any training (issue 16): per machine and section, the
training clips (the scores' normal reference; the gamma decision threshold needs
:data:`~asdlab.backends.thresholds.MIN_GAMMA_SCORES` of them), the test normals and anomalies (a
metric needs both, by the protocol's rule; unlabelled evaluation clips give none) and what
therefore will and will not be computed.

Only a machine with nothing to compute (no training clip at all) stops a run, at once and in one
line; any other gap is a warning line and a note in the run's ``summary.json`` (``not_computed``)
while the other sections are scored, submitted and measured. Also here: test clips skipped as
unreadable are scored as missing (:func:`score_missing`), so that the metrics a run prints are
those ``asdlab evaluate`` computes on its submission.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from asdlab.backends.thresholds import MIN_GAMMA_SCORES
from asdlab.core.errors import DataError, MetricsError
from asdlab.metrics import section_metrics

MIN_THRESHOLD_CLIPS = {"sc_adacos": 1}
"""Methods whose decision rule needs fewer training clips than the gamma threshold (sc_adacos:
a percentile of the section's training scores); every other method needs ``MIN_GAMMA_SCORES``."""
SECTION_COLUMNS = ["machine", "section", "train", "test_normal", "test_anomaly", "test_unlabelled",
                   "scores", "threshold", "metrics", "note"]


@dataclasses.dataclass
class Preflight:
    """``sections``: one row per (machine, section) of the clip table, columns
    :data:`SECTION_COLUMNS`: clip counts, whether test ``scores``, a decision ``threshold`` and
    ``metrics`` will be computed (bools), and a ``note`` saying why not ("" when all will)."""

    sections: pd.DataFrame

    def lines(self) -> list[str]:
        """One ``"machine/section: what will not be computed (why)"`` line per section with a gap."""
        return [f"{m}/{s}: {n}" for m, s, n in zip(self.sections["machine"], self.sections["section"],
                                                   self.sections["note"]) if n]


def preflight(table: pd.DataFrame, method: str, config: dict | None = None) -> Preflight:
    """Check the clip ``table`` before ``method`` trains: a :class:`Preflight` per section.

    ``config``: the run's configuration; its ``protocol`` decides what a metric needs (default
    the 2022-2025 rule). Raises :class:`DataError`, one line naming the machine, when a machine
    has no training clip at all (nothing can be computed for it).
    """
    protocol = (config or {}).get("protocol")
    need = MIN_THRESHOLD_CLIPS.get(method, MIN_GAMMA_SCORES)
    rows = []
    for (machine, section), g in table.groupby(["machine", "section"], sort=True):
        train, test = g[g["split"] == "train"], g[g["split"] == "test"]
        label = test["label"]
        row = {"machine": machine, "section": section, "train": len(train),
               "test_normal": int((label == "normal").sum()), "test_anomaly": int((label == "anomaly").sum()),
               "test_unlabelled": int(label.isna().sum())}
        notes = []
        scored = len(train) > 0 and len(test) > 0
        if not len(train):
            notes.append("not scored (no training clips in this section: no normal reference)")
        elif not len(test):
            notes.append("not scored (no test clips)")
        threshold = scored and len(train) >= need
        if scored and not threshold:
            notes.append(f"no decision threshold ({len(train)} training clip(s); it needs {need}): "
                         "scores and metrics without decisions")
        metrics = scored and row["test_unlabelled"] == 0
        if scored and not metrics:
            notes.append("no metrics (test labels unknown: evaluation data; submission only)")
        elif metrics:
            problem = _metric_problem(test.assign(score=0.0), protocol)
            if problem:
                metrics = False
                notes.append(f"no metrics ({problem})")
        rows.append(row | {"scores": scored, "threshold": threshold, "metrics": metrics, "note": "; ".join(notes)})
    sections = pd.DataFrame(rows, columns=SECTION_COLUMNS)
    for machine, g in sections.groupby("machine", sort=True):
        if g["train"].sum() == 0:
            raise DataError(f"{method}: machine {machine!r} has no training clips (no train/ folder, or an empty "
                            f"one): nothing can be computed for it; add its training clips or leave it out "
                            f"(--machines)")
    return Preflight(sections)


def _metric_problem(scores: pd.DataFrame, protocol: str | None) -> str:
    """Why :func:`asdlab.metrics.section_metrics` cannot measure this one section ("" if it can)."""
    try:
        section_metrics(scores, protocol)
    except MetricsError as err:
        return str(err)
    return ""


def measurable_sections(scores: pd.DataFrame, protocol: str | None) -> tuple[pd.DataFrame, list[str]]:
    """``(rows, notes)``: the rows of the labelled ``scores`` whose (machine, section) the metrics
    can measure under ``protocol``, and one ``"machine/section: no metrics (why)"`` per other."""
    keep, notes = pd.Series(True, index=scores.index), []
    for (machine, section), g in scores.groupby(["machine", "section"], sort=True):
        problem = _metric_problem(g, protocol)
        if problem:
            notes.append(f"{machine}/{section}: no metrics ({problem})")
            keep[g.index] = False
    return scores[keep], notes


def undecided_sections(scores: pd.DataFrame) -> list[str]:
    """``"machine/section: no decisions ..."`` for each section of ``scores`` without decisions."""
    if "decision" not in scores.columns:
        return []
    none = scores["decision"].isna().groupby([scores["machine"], scores["section"]]).all()
    return [f"{m}/{s}: no decision threshold (too few training clips): no decisions" for (m, s), v in none.items() if v]


def score_missing(result, table: pd.DataFrame) -> list[str]:
    """Give every test clip of ``table`` that ``result`` skipped as unreadable a row in
    ``result.scores``, in place: the lowest score of its machine and section (ranked as the most
    normal clip, so an unreadable anomaly counts as missed) and decision 0 (missing where its
    section has no decisions). The submission then lists every test clip, as the evaluator needs.
    Returns the files so scored (one warning names them); clips of a section without any score
    stay out."""
    scores = result.scores
    bad = {str(p) for p, _ in result.skipped}
    test = table[(table["split"] == "test") & table["path"].astype(str).isin(bad)]
    have = set(zip(scores["machine"], scores["section"], scores["file"]))
    test = test[np.array([k not in have for k in zip(test["machine"], test["section"], test["file"])], dtype=bool)]
    added = []
    for (machine, section), g in test.groupby(["machine", "section"], sort=True):
        same = scores[(scores["machine"] == machine) & (scores["section"] == section)]
        if same.empty:
            continue
        decision = 0 if same["decision"].notna().all() else pd.NA
        added.append(g[list(scores.columns[:5])].assign(score=same["score"].min(), decision=decision))
    if not added:
        return []
    new = pd.concat(added, ignore_index=True)
    order = {k: i for i, k in enumerate(zip(table["machine"], table["section"], table["file"]))}
    merged = pd.concat([scores, new], ignore_index=True)
    if merged["decision"].isna().any():
        merged["decision"] = merged["decision"].astype("Int64")
    else:
        merged["decision"] = merged["decision"].astype(scores["decision"].dtype)
    pos = [order.get(k, len(order)) for k in zip(merged["machine"], merged["section"], merged["file"])]
    result.scores = merged.iloc[sorted(range(len(merged)), key=pos.__getitem__)].reset_index(drop=True)
    files = list(new["file"])
    warnings.warn(f"{len(files)} unreadable test clip(s) scored as missing (the lowest score of their "
                  f"section, decision 0), so that the submission lists every test clip: " + ", ".join(files),
                  stacklevel=2)
    return files
