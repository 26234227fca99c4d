"""The base of every registered back end (scikit-learn style); parameters are declared with
:mod:`asdlab.core.schema` (one schema system for methods and back ends).

A back end's ``__init__`` only stores its parameters; ``fit(X (N, D), meta) -> self`` learns from
the training clips; ``score(X (M, D), meta) -> (M,)`` is higher for more anomalous clips; fitted
attributes end in ``_``. ``meta`` is row-aligned with ``X`` and has the columns of
``asdlab.artifacts.EMBEDDING_COLUMNS`` (file, machine, section, domain, label, split, attributes,
class, class_index). What ``X`` holds is the back end's :meth:`Scorer.input_kind`.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from asdlab.core.errors import DataError

INPUT_KINDS = ("embeddings", "residual_mean", "mse")
"""What a back end's ``X`` holds: clip embeddings ``(N, D)``; the clip-mean per-frame AE residual
``(N, n_mels)``; the clip's AE mean squared error ``(N, 1)``."""


class Scorer:
    """Base class of the registered back ends.

    Class attributes: ``name`` (registry key), ``summary`` (one line), ``paper`` (one line),
    ``needs`` (what a run folder must hold: "embeddings", "centers", "residuals"), ``params``
    (name -> :class:`asdlab.core.schema.Param` with its ``help``: the user parameters, all with
    defaults in ``__init__``) and
    ``artifacts`` (constructor arguments read from the run folder, not set by users:
    ``centers``, ``subcluster_centers``, ``residual_stats``).
    """

    name: str = ""
    summary: str = ""
    paper: str = ""
    needs: frozenset = frozenset({"embeddings"})
    params: dict = {}
    artifacts: tuple = ()

    def get_params(self) -> dict:
        """The user parameters and their current values (artifacts left out)."""
        return {k: getattr(self, k) for k in self.params}

    @classmethod
    def defaults(cls) -> dict:
        """Parameter name -> default value, from ``__init__``."""
        sig = inspect.signature(cls.__init__)
        return {k: sig.parameters[k].default for k in cls.params}

    @classmethod
    def describe_needs(cls) -> str:
        """What a run folder must hold, in words."""
        return ", ".join(sorted(cls.needs))

    @classmethod
    def requires(cls, params: dict | None = None) -> frozenset:
        """What a run folder must hold for this back end with ``params`` (default: ``needs``)."""
        return cls.needs

    def input_kind(self) -> str:
        """What ``X`` holds for this instance: one of :data:`INPUT_KINDS`."""
        return "embeddings"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> Scorer:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def check_rows(X: np.ndarray, meta: pd.DataFrame, what: str) -> np.ndarray:
    """``X`` as a 2-D array row-aligned with ``meta``; a :class:`DataError` otherwise."""
    X = np.asarray(X)
    if X.ndim != 2 or len(X) != len(meta):
        raise DataError(f"{what}: expected an (N, D) array with one row per metadata row "
                        f"({len(meta)}), got shape {X.shape}")
    return X


def sections(X: np.ndarray, meta: pd.DataFrame, what: str, fitted=None) -> tuple[np.ndarray, list]:
    """``(X, [(key, rows), ...])``: ``X`` checked by :func:`check_rows`, and for every
    ``"machine/section"`` of ``meta`` (sorted) the row indices that hold it. ``fitted``: the keys a
    back end was fitted on; a section outside them is a :class:`DataError` naming it and ``what``."""
    X = check_rows(X, meta, what)
    keys = section_keys(meta)
    if fitted is not None:
        missing = sorted(set(keys) - set(fitted))
        if missing:
            raise DataError(f"no training clips for machine/section {', '.join(missing)}: "
                            f"the {what} back end cannot score their clips")
    return X, [(key, np.flatnonzero(keys == key)) for key in sorted(set(keys))]


def section_keys(meta: pd.DataFrame) -> np.ndarray:
    """``"machine/section"`` of every row, as an object array."""
    return (meta["machine"].astype(str) + "/" + meta["section"].astype(str)).to_numpy(dtype=object)


def training_match(meta: pd.DataFrame, train_meta: pd.DataFrame) -> np.ndarray:
    """For every row of ``meta``: the index of the same clip (split "train", same machine,
    section and file) among the rows of ``train_meta``, or -1. Used to score training clips
    without themselves."""
    keys = list(zip(train_meta["machine"].astype(str), train_meta["section"].astype(str),
                    train_meta["file"].astype(str)))
    where = {k: i for i, k in enumerate(keys)}
    is_train = (meta["split"] == "train").to_numpy() if "split" in meta else np.zeros(len(meta), bool)
    rows = zip(meta["machine"].astype(str), meta["section"].astype(str), meta["file"].astype(str))
    return np.array([where.get(k, -1) if t else -1 for k, t in zip(rows, is_train)], dtype=np.int64)
