"""The stages every recipe shares: the run context, clip loading, and the tail that turns
per-clip scores and embeddings into a :class:`MethodOutput` (score frames, decisions).

A neural recipe is: load clips (:func:`log_mels`, :func:`fixed_log_mels`, :func:`waveforms`) ->
train an encoder -> embed whole clips -> a back end scores embeddings -> :func:`finish`. The run
folder itself (scores, submission, metrics, ``embeddings.npy`` / ``embeddings.csv``) is written
by :mod:`asdlab.runs`.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from asdlab.artifacts.embeddings import EMBEDDING_COLUMNS
from asdlab.backends.thresholds import DECISION_RULES
from asdlab.core.allocator import release_free_heap
from asdlab.core.errors import DataError

SCORE_COLUMNS = ["file", "machine", "section", "domain", "label", "score", "decision"]
"""The columns of :attr:`MethodOutput.scores` and ``train_scores``, in order."""


def score_frame(rows: pd.DataFrame, scores) -> pd.DataFrame:
    """Clip-table ``rows`` with their ``scores`` as a scores frame (every column of
    :data:`SCORE_COLUMNS` but ``decision``, which a decision rule adds)."""
    out = rows[SCORE_COLUMNS[:5]].reset_index(drop=True)
    return out.assign(score=scores)


@dataclasses.dataclass
class RunContext:
    """What a method needs: the clip ``table`` (train and test rows), resolved ``params``,
    ``seed``, ``workdir`` (the run folder being written: checkpoints go here), ``cache_dir``,
    ``device`` ("auto", "cpu", "cuda"), ``progress`` bars on/off, ``skip_unreadable``, and
    ``data_root``: the dataset folder the table was read from (None when built in memory), where
    methods that measure against the factory's ground truth find it; ``channel``: which channel of
    a multi-channel file is read (0, 1 or "mean", :mod:`asdlab.data.audio`)."""

    table: pd.DataFrame
    params: dict
    seed: int
    workdir: Path
    cache_dir: Path
    device: str = "auto"
    progress: bool = True
    skip_unreadable: bool = False
    data_root: Path | None = None
    channel: int | str = 0


@dataclasses.dataclass
class Embeddings:
    """Whole-clip embeddings of every train and test clip, for the run folder: ``vectors``
    ``(N, D)``, row-aligned ``meta`` (the columns of
    :data:`~asdlab.artifacts.embeddings.EMBEDDING_COLUMNS`, then any extra ones), and for methods
    with a class head ``centers`` ``(C, D)`` with their ``classes`` names."""

    meta: pd.DataFrame
    vectors: np.ndarray
    centers: np.ndarray | None = None
    classes: list[str] | None = None


@dataclasses.dataclass
class MethodOutput:
    """``scores``: one row per scored test clip with columns file, machine, section, domain,
    label, score (higher = more anomalous), decision (0/1); ``train_scores``: the same for
    training clips (used for thresholds); ``skipped``: ``(path, reason)`` of unreadable clips;
    ``artifacts``: names of extra files the method wrote into the run folder; ``embeddings``:
    what :mod:`asdlab.runs` saves as ``embeddings.npy`` / ``.csv`` (and centers)."""

    scores: pd.DataFrame
    train_scores: pd.DataFrame
    skipped: list = dataclasses.field(default_factory=list)
    artifacts: list = dataclasses.field(default_factory=list)
    embeddings: Embeddings | None = None


def clip_meta(rows: pd.DataFrame, classes: list[str] | None = None, class_index=None, **extra) -> pd.DataFrame:
    """The embeddings metadata of clip-table ``rows``: file ... attributes, ``class`` (the name
    of ``class_index`` in ``classes``, "" where the index is -1 or there are no classes) and
    ``class_index`` (-1 where unknown), then the ``extra`` columns."""
    index = np.full(len(rows), -1) if class_index is None else np.asarray(class_index)
    names = [classes[i] if classes is not None and i >= 0 else "" for i in index]
    out = rows.reset_index(drop=True).assign(**{"class": names}, class_index=index)
    return out[EMBEDDING_COLUMNS].assign(**extra)


def finish(train_rows: pd.DataFrame, test_rows: pd.DataFrame, train_score, test_score, *,
           decisions: str = "gamma", decision_scores: tuple | None = None, embeddings: Embeddings | None = None,
           skipped=(), artifacts=(), **rule_kwargs) -> MethodOutput:
    """The tail of every recipe: score frames of the training and test clips (``*_score``:
    ``(n,)``, higher = more anomalous), decisions by the rule ``decisions`` of
    :data:`asdlab.backends.thresholds.DECISION_RULES` (``rule_kwargs`` go to it), and the
    :class:`MethodOutput`. ``decision_scores``: ``(train, test)`` arrays to decide on instead of
    the scores (sub-cluster AdaCos decides target clips on one term only)."""
    train_scores = score_frame(train_rows, train_score)
    scores = score_frame(test_rows, test_score)
    rule = DECISION_RULES[decisions]
    if decision_scores is not None:
        train_scores["decision_score"], scores["decision_score"] = decision_scores
        rule_kwargs = {**rule_kwargs, "column": "decision_score"}
    rule(train_scores, scores, **rule_kwargs)
    return MethodOutput(scores=scores[SCORE_COLUMNS], train_scores=train_scores[SCORE_COLUMNS],
                        skipped=list(skipped), artifacts=list(artifacts), embeddings=embeddings)


LOG_MEL_CHUNK = 256
"""Clips whose missing log-mels :func:`log_mels` reads and extracts at a time (a multiple of the
extraction batch, 8 on CPU and 64 on GPU, so equal-length clips are batched as in one call)."""


def log_mels(rows: pd.DataFrame, ctx: RunContext, reduce: Callable[[np.ndarray], object] | None = None
             ) -> tuple[list, list]:
    """Log-mels ``(n_mels, frames)`` (dB) of the clips of ``rows`` from the feature cache, with
    ``ctx.params``' ``n_fft``, ``hop`` and ``n_mels``: ``(features, skipped)``, None in
    ``features`` for each unreadable clip skipped with ``ctx.skip_unreadable``. Clips missing from
    the cache are read :data:`LOG_MEL_CHUNK` at a time. ``reduce``: applied to each log-mel as it
    is loaded, ``features`` then holds what it returns (e.g. a time average), so a run never
    holds every log-mel."""
    from asdlab.data.audio import read_many
    from asdlab.features import LogMelParams
    from asdlab.features.cache import FeatureCache
    from asdlab.train import resolve_device

    p = ctx.params
    cache = FeatureCache(ctx.cache_dir, LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"]),
                         device=str(resolve_device(ctx.device)), channel=ctx.channel)
    read = functools.partial(read_many, skip_unreadable=ctx.skip_unreadable, channel=ctx.channel)

    def read_quietly(paths):  # one warning for all chunks' unreadable clips, below
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"skipped \d+ unreadable audio file")
            return read(paths)

    # LOG_MEL_CHUNK clips at a time: a cold cache never holds every waveform (5.4 GB at paper scale).
    # A chunk that was extracted is loaded again from the cache once every chunk is done: kept
    # among the extraction's freed temporaries, its features would grow the malloc heap by about
    # 1 MB per clip (9 GB at paper scale); loaded alone, they take their own size.
    paths, feats, skipped, extracted = list(rows["path"]), [], [], []
    silent = np.zeros(len(paths), dtype=bool)  # silence: one constant log-mel

    def keep(i, f):
        silent[i] = np.ptp(f) == 0
        return f if reduce is None else reduce(f)

    for start in range(0, len(paths), LOG_MEL_CHUNK):
        misses = cache.misses
        got, bad = cache.get_many(paths[start:start + LOG_MEL_CHUNK], read_quietly)
        if cache.misses > misses:
            extracted.append(start)
            got = [None] * len(got)
        feats += [None if f is None else keep(start + k, f) for k, f in enumerate(got)]
        skipped += bad
    unreadable = {str(p) for p, _ in skipped}
    for start in extracted:
        todo = [i for i in range(start, min(start + LOG_MEL_CHUNK, len(paths))) if str(paths[i]) not in unreadable]
        for i, f in zip(todo, cache.get_many([paths[i] for i in todo], read_quietly)[0], strict=True):
            feats[i] = keep(i, f)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable audio file(s):\n" + "\n".join(r for _, r in skipped),
                      stacklevel=2)
    warn_silent(rows, silent)
    return feats, skipped


def warn_silent(rows: pd.DataFrame, silent) -> None:
    """One warning naming every training clip of ``rows`` flagged in ``silent`` (row-aligned
    booleans): a silent (all-zero) recording teaches a model nothing about the machine."""
    flagged = (rows["split"] == "train").to_numpy() & np.asarray(silent, dtype=bool)
    if flagged.any():
        names = list(rows["path"][flagged])
        warnings.warn(f"{len(names)} silent (all-zero) training clip(s), used as they are: " + ", ".join(map(str, names)),
                      stacklevel=3)


def readable_split(table: pd.DataFrame, feats: list, method: str) -> tuple[pd.DataFrame, list, np.ndarray]:
    """The rows of ``table`` whose ``feats`` entry is not None (re-indexed), their features and
    a boolean ``is_train`` per row; a :class:`DataError` naming ``method`` when no training
    clip is left."""
    keep = np.array([f is not None for f in feats], dtype=bool)
    rows = table[keep].reset_index(drop=True)
    is_train = (rows["split"] == "train").to_numpy()
    if not is_train.any():
        raise DataError(f"no readable training clips: {method} needs normal training clips")
    return rows, [f for f in feats if f is not None], is_train


def waveforms(rows: pd.DataFrame, ctx: RunContext) -> tuple[Sequence[np.ndarray], pd.DataFrame, list]:
    """The waveforms ``(n,)`` float32 of the clips of ``rows``: ``(waves, readable rows
    (re-indexed), skipped)``, unreadable clips skipped (and listed) with ``ctx.skip_unreadable``.

    ``waves`` is a :class:`asdlab.features.wavestore.WaveStore` in ``ctx.cache_dir``: a sequence
    that reads each clip from one cache file when indexed (built from the WAVs on the first
    run), so a run holds a batch of clips, never all of them; ``waves[i]`` equals what
    :func:`asdlab.data.audio.read_audio` returns for the clip."""
    from asdlab.features.wavestore import open_store

    store = open_store(list(rows["path"]), ctx.cache_dir, channel=ctx.channel, skip_unreadable=ctx.skip_unreadable)
    skipped = store.skipped
    bad = {str(p) for p, _ in skipped}
    keep = ~rows["path"].astype(str).isin(bad).to_numpy()
    rows = rows[keep].reset_index(drop=True)
    warn_silent(rows, store.silent)
    return store, rows, skipped


def train_test_waveforms(ctx: RunContext) -> tuple[Sequence, pd.DataFrame, Sequence, pd.DataFrame, list]:
    """:func:`waveforms` of the training and of the test clips of ``ctx.table``:
    ``(train_waves, train_rows, test_waves, test_rows, skipped)``."""
    table = ctx.table
    train_w, train_rows, skipped = waveforms(table[table["split"] == "train"], ctx)
    test_w, test_rows, skipped_test = waveforms(table[table["split"] == "test"], ctx)
    return train_w, train_rows, test_w, test_rows, skipped + skipped_test


@dataclasses.dataclass
class FixedLogMels:
    """Standardised fixed-length log-mels of the readable clips: ``x_train`` ``(N, n_mels, T)``
    and ``x_test`` ``(M, n_mels, T)`` float32, row-aligned ``train_rows`` / ``test_rows``, the
    per-mel-bin ``mean`` and ``std`` ``(n_mels,)`` of the training frames, and ``skipped``."""

    train_rows: pd.DataFrame
    test_rows: pd.DataFrame
    x_train: np.ndarray
    x_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    skipped: list


def fixed_log_mels(ctx: RunContext, method: str, min_frames: int = 1) -> FixedLogMels:
    """:func:`log_mels` of every clip of ``ctx.table``, brought to ``ctx.params["frames"]``
    frames (None: the most common length of the training clips; first frames kept, shorter
    clips tiled: :func:`asdlab.features.frames.fix_frames`) and standardised per mel bin with
    the training frames (:func:`asdlab.features.frames.standardize`). A :class:`DataError`
    naming ``method`` when that length is below ``min_frames``."""
    from collections import Counter

    from asdlab.features.frames import fix_frames, standardize_in_place

    feats, skipped = log_mels(ctx.table, ctx)
    rows, feats, is_train = readable_split(ctx.table, feats, method)
    lengths = Counter(f.shape[1] for f, t in zip(feats, is_train) if t)
    frames = ctx.params.get("frames") or lengths.most_common(1)[0][0]
    if frames < min_frames:
        raise DataError(f"{method}: the training clips are only {frames} frames long; its network needs at "
                        f"least {min_frames} (set frames=...)")
    # filled clip by clip (each log-mel dropped once copied): the clips' features are held once
    x_train = np.empty((int(is_train.sum()), feats[0].shape[0], frames), np.float32)
    x_test = np.empty((len(feats) - len(x_train), feats[0].shape[0], frames), np.float32)
    slot = np.where(is_train, np.cumsum(is_train), np.cumsum(~is_train)) - 1  # row in x_train or x_test
    for k, train in enumerate(is_train):
        (x_train if train else x_test)[slot[k]] = fix_frames(feats[k], frames)
        feats[k] = None
        if k % LOG_MEL_CHUNK == LOG_MEL_CHUNK - 1:
            release_free_heap()  # the copied clips' heap pages, else held beside the arrays until the end
    del feats
    mean, std = standardize_in_place(x_train, x_test)
    return FixedLogMels(rows[is_train].reset_index(drop=True), rows[~is_train].reset_index(drop=True),
                        x_train, x_test, mean, std, skipped)
