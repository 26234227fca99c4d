"""Decision thresholds on anomaly scores (higher = more anomalous).

A threshold is fitted on the scores of normal TRAINING clips; a test clip is declared anomalous
(decision 1) when its score is strictly above it, as in the official baseline.

- :func:`gamma_threshold`: the official AutoEncoder baseline: fit a gamma distribution
  (``scipy.stats.gamma.fit``, shape, loc and scale all free) and take its ``q`` quantile (0.9).
- :func:`percentile_threshold`: the empirical percentile (Wilkinghoff's systems: the 90th
  percentile of the training scores of the same section and domain).

Decision rules on whole score frames (columns machine, section, domain, score), by name in
:data:`DECISION_RULES`: ``"gamma"`` (:func:`add_decisions`, the official baseline, per machine
and section) and ``"section_domain_percentile"`` (:func:`add_section_domain_decisions`, seed 002
section 2.6, per machine, section and domain).

Bad input raises :class:`~asdlab.core.errors.MetricsError`, since decisions feed the metrics.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd
import scipy.stats

from asdlab.core.errors import MetricsError

MIN_GAMMA_SCORES = 2
"""Fewest training scores of a section :func:`add_decisions` fits a gamma threshold to."""


def _train_scores(train_scores, min_size: int = 1) -> np.ndarray:
    """Validated 1-D float array of finite scores, at least ``min_size`` of them."""
    s = np.asarray(train_scores, dtype=float)
    if s.ndim != 1:
        raise MetricsError(f"training scores must be one score per clip (1-D), got shape {s.shape}")
    if s.size < min_size:
        raise MetricsError(f"need at least {min_size} training score(s) to fit a threshold, "
                           f"got {s.size}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise MetricsError(f"{int(bad.sum())} of {s.size} training scores are not finite "
                           f"(first at index {int(np.flatnonzero(bad)[0])})")
    return s


def percentile_threshold(train_scores, q: float = 90.0) -> float:
    """The ``q``-th percentile (0-100, default 90) of the training scores, shape ``(n,)``."""
    if not 0.0 <= q <= 100.0:
        raise MetricsError(f"percentile q must lie in [0, 100], got {q}")
    return float(np.percentile(_train_scores(train_scores), q))


def gamma_threshold(train_scores, q: float = 0.9) -> float:
    """The ``q`` quantile (0-1, default 0.9) of a gamma distribution fitted to the training scores.

    Exactly the official baseline: ``shape, loc, scale = scipy.stats.gamma.fit(scores)``, then
    ``scipy.stats.gamma.ppf(q, shape, loc, scale)``. Needs at least 2 distinct scores.
    """
    if not 0.0 < q < 1.0:
        raise MetricsError(f"gamma quantile q must lie in (0, 1), got {q}")
    s = _train_scores(train_scores, min_size=2)
    if np.ptp(s) == 0:
        raise MetricsError(f"all {s.size} training scores equal {s[0]!r}: a gamma distribution "
                           "cannot be fitted (use percentile_threshold)")
    with np.errstate(all="ignore"):
        shape, loc, scale = scipy.stats.gamma.fit(s)
        threshold = float(scipy.stats.gamma.ppf(q, shape, loc=loc, scale=scale))
    if not np.isfinite(threshold):
        raise MetricsError(f"the gamma fit to {s.size} training scores failed (shape={shape}, "
                           f"loc={loc}, scale={scale}); use percentile_threshold")
    return threshold


def decide(scores, threshold: float) -> np.ndarray:
    """0/1 decisions, int array shaped like ``scores``: 1 where ``score > threshold``."""
    s = np.asarray(scores, dtype=float)
    if not np.isfinite(threshold):
        raise MetricsError(f"threshold must be finite, got {threshold}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise MetricsError(f"{int(bad.sum())} of {s.size} scores are not finite")
    return (s > threshold).astype(int)


def add_decisions(train_scores: pd.DataFrame, scores: pd.DataFrame) -> None:
    """Official baseline decisions, in place: per (machine, section), threshold = 90th
    percentile of a gamma distribution fitted to the training scores; decision = score > it.
    Where every training score of a section is equal (a back end that keeps each training clip
    as a reference, e.g. k-means with K >= the section's clips), no gamma can be fitted and the
    threshold is that score (the 90th percentile). A section with fewer than
    :data:`MIN_GAMMA_SCORES` training scores gets no threshold: its decisions are left missing
    (``<NA>``, the ``decision`` columns become ``Int64``) and one warning names it; errors name
    the machine and section."""
    for frame in (train_scores, scores):
        frame["decision"] = 0
    undecided = []
    for (machine, section), tr in train_scores.groupby(["machine", "section"]):
        s = tr["score"].to_numpy()
        where = f"machine {machine!r} section {section}"
        if len(s) < MIN_GAMMA_SCORES:
            undecided.append((machine, section, f"{where}: {len(s)} training clip(s); a gamma threshold "
                                                f"needs {MIN_GAMMA_SCORES}: no decisions for this section"))
            continue
        with _naming(where):
            thr = percentile_threshold(s, 90.0) if np.ptp(s) == 0 else gamma_threshold(s, q=0.9)
            for frame in (train_scores, scores):
                sel = (frame["machine"] == machine) & (frame["section"] == section)
                frame.loc[sel, "decision"] = decide(frame.loc[sel, "score"].to_numpy(), thr)
    if undecided:
        for frame in (train_scores, scores):
            frame["decision"] = frame["decision"].astype("Int64")
            for machine, section, _ in undecided:
                frame.loc[(frame["machine"] == machine) & (frame["section"] == section), "decision"] = pd.NA
        warnings.warn("; ".join(note for *_, note in undecided), stacklevel=2)


@contextlib.contextmanager
def _naming(where: str):
    """Re-raise a :class:`MetricsError` with ``where`` (machine and section) in front."""
    try:
        yield
    except MetricsError as err:
        raise MetricsError(f"{where}: {err}") from err


def add_section_domain_decisions(train_scores: pd.DataFrame, scores: pd.DataFrame, q: float = 90.0,
                                 column: str = "score") -> None:
    """Decisions in place (seed 002 section 2.6): per (machine, section, domain), threshold = the
    ``q``-th percentile of ``column`` over the training rows of that group; decision = the
    test (and training) row's ``column`` above it. Test rows of unknown domain use the source
    threshold; a group without training rows uses all training rows of its section."""
    for frame in (train_scores, scores):
        frame["decision"] = 0
    for (machine, section), tr in train_scores.groupby(["machine", "section"]):
        for domain in ("source", "target"):
            sub = tr[tr["domain"] == domain]
            with _naming(f"machine {machine!r} section {section} domain {domain}"):
                thr = percentile_threshold((sub if len(sub) else tr)[column].to_numpy(), q)
                for frame in (train_scores, scores):
                    dom = frame["domain"]
                    match = dom == domain
                    if domain == "source":
                        match = match | dom.isna() | ~dom.isin(["source", "target"])
                    sel = (frame["machine"] == machine) & (frame["section"] == section) & match
                    frame.loc[sel, "decision"] = decide(frame.loc[sel, column].to_numpy(), thr)



DECISION_RULES = {"gamma": add_decisions, "section_domain_percentile": add_section_domain_decisions}
"""Decision rule name -> ``rule(train_scores, scores, **kwargs)`` that sets ``decision`` in place."""
