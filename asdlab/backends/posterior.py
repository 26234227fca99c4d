"""Back ends on the trained class head: ``class_posterior`` (minus the log-softmax with additive
angular margin at the clip's class, the Noisy-ArcMix reference score, seed 004; or, with
``head="linear"``, minus the log-softmax of a plain linear softmax classifier) and
``cosine_center`` (1 - cosine to the clip's class center).

Both read the head's unit-norm class centers ``(C, D)`` (``centers.npy`` of a run folder) and the
clip's ``class_index`` (-1: unknown); ``head="linear"`` reads the classifier's weight and bias
(``linear_head.npz``) instead. A clip of unknown class takes the lowest score over the
classes of its machine and section (the classes of the training clips there), i.e. it is scored
against the class it resembles most. Computed in torch on float32, exactly as the recipe's head
does, so a run's own scores are reproduced bit for bit from its saved embeddings and centers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from asdlab.core.schema import Choice, Float
from asdlab.backends.base import Scorer, check_rows, section_keys
from asdlab.core.errors import DataError
from asdlab.nn.margins import arcface_logits


@torch.no_grad()
def class_scores(emb: np.ndarray, centers, class_index: np.ndarray, candidates: list[np.ndarray],
                 kind: str = "logsoftmax", s: float = 30.0, m: float = 0.7, bias=None) -> np.ndarray:
    """Score ``(N,)`` of each embedding ``emb`` ``(N, D)`` at its class ``class_index`` ``(N,)``
    given unit-norm ``centers`` ``(C, D)`` (array or tensor).

    ``kind``: ``"logsoftmax"`` (minus the log-softmax of the ArcFace logits, scale ``s``, margin
    ``m`` in radians, at the class; ``m=0``: the cosine softmax), ``"cosine"`` (1 - cosine to the
    class center) or ``"linear"`` (minus the log-softmax of the linear logits
    ``emb centers^T + bias``: ``centers`` is then the linear head's weight ``W`` as trained, not
    normalised, and ``bias`` ``(C,)``; ``s``, ``m`` unused). Rows with class -1 take the minimum
    over their ``candidates`` (class indices; one array per row).
    """
    c = torch.as_tensor(centers, dtype=torch.float32)
    e = torch.from_numpy(np.asarray(emb, dtype=np.float32))
    b = None if bias is None else torch.as_tensor(bias, dtype=torch.float32)

    def at(labels: np.ndarray) -> np.ndarray:
        y = torch.from_numpy(labels)
        if kind == "linear":
            return F.cross_entropy(F.linear(e, c, b), y, reduction="none").numpy()
        cos = F.linear(F.normalize(e, dim=-1), c)
        if kind == "cosine":
            return (1.0 - cos.gather(1, y.view(-1, 1)).squeeze(1)).numpy()
        return F.cross_entropy(arcface_logits(cos, y, s, m), y, reduction="none").numpy()

    class_index = np.asarray(class_index, dtype=np.int64)
    scores = at(np.maximum(class_index, 0))
    unknown = np.flatnonzero(class_index < 0)
    if len(unknown) == 0:
        return scores
    if any(len(candidates[i]) == 0 for i in unknown):
        raise DataError("a test clip's class is unknown and its machine and section have no "
                        "class in training")
    needed = np.unique(np.concatenate([candidates[i] for i in unknown]))
    per_class = {int(k): at(np.full(len(emb), k)) for k in needed}
    for i in unknown:
        scores[i] = min(per_class[int(k)][i] for k in candidates[i])
    return scores


class _CenterScorer(Scorer):
    needs = frozenset({"embeddings", "centers"})
    artifacts = ("centers",)
    _kind = "logsoftmax"

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> _CenterScorer:
        """``meta``'s ``class_index`` of the training clips gives the classes of each machine and
        section (``classes_``: "machine/section" -> sorted class indices)."""
        self._head_arrays()
        check_rows(X, meta, self.name)
        idx = meta["class_index"].to_numpy(dtype=np.int64)
        keys = section_keys(meta)
        self.classes_ = {k: np.unique(idx[(keys == k) & (idx >= 0)]) for k in sorted(set(keys))}
        return self

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
        """``(M,)`` float32, higher = more anomalous."""
        X = check_rows(X, meta, self.name)
        idx = meta["class_index"].to_numpy(dtype=np.int64)
        weight, kwargs = self._head_arrays()
        if (idx >= len(weight)).any():
            raise DataError(f"back end {self.name!r}: class index {int(idx.max())} but only "
                            f"{len(weight)} class centers")
        empty = np.array([], np.int64)
        keys = section_keys(meta)
        cand = [self.classes_.get(k, empty) if i < 0 else empty for k, i in zip(keys, idx)]
        lost = [j for j, (c, i) in enumerate(zip(cand, idx)) if i < 0 and len(c) == 0]
        if lost:
            j = lost[0]
            name = meta["file"].iloc[j] if "file" in meta.columns else f"row {j}"
            raise DataError(f"back end {self.name!r}: test clip {name} (machine {meta['machine'].iloc[j]!r} "
                            f"section {meta['section'].iloc[j]}) is of a class never seen in training and its "
                            f"section has no training class to compare it with ({len(lost)} such clip(s))")
        return class_scores(X, weight, idx, cand, **kwargs)

    def _head_arrays(self) -> tuple[np.ndarray, dict]:
        """``(centers, keyword arguments of class_scores)``; a DataError when the run lacks them."""
        if self.centers is None:
            raise DataError(f"back end {self.name!r} needs the class centers of the run (centers.npy)")
        return self.centers, {"kind": self._kind}


class ClassPosteriorScorer(_CenterScorer):
    """Minus the log-softmax at the clip's class.

    ``head="cosine"`` (default): of the logits ``s * cos`` with the additive angular margin ``m``
    on the clip's class (ArcFace; ``m=0``: the cosine softmax). ``s``: logit scale (30); ``m``:
    margin in radians (0.7), as the Noisy-ArcMix reference; ``centers``: the head's unit-norm
    class centers ``(C, D)`` (from the run folder).
    ``head="linear"``: of the linear logits ``W e + b`` of a plain softmax classifier (``s``,
    ``m`` unused); ``linear_head``: ``{"weight": (C, D), "bias": (C,)}`` (``linear_head.npz``).
    """

    name = "class_posterior"
    summary = ("minus log-softmax at the clip's class: cosine logits with angular margin, or a linear "
               "head (needs the class head)")
    paper = "Noisy-ArcMix (Choi et al., ICASSP 2024; seed 004): the reference anomaly score"
    params = {"s": Float(min=0, min_open=True, help="logit scale"),
              "m": Float(min=0, help="additive angular margin (radians)"),
              "head": Choice("cosine", "linear", help="the class head: cosine logits (s, m) or a "
                                                      "linear softmax classifier (linear_head.npz)")}
    artifacts = ("centers", "linear_head")

    def __init__(self, s: float = 30.0, m: float = 0.7, head: str = "cosine",
                 centers: np.ndarray | None = None, linear_head: dict | None = None):
        self.s = s
        self.m = m
        self.head = head
        self.centers = centers
        self.linear_head = linear_head

    @classmethod
    def requires(cls, params: dict | None = None) -> frozenset:
        """``needs``, plus the linear head's weights for ``head="linear"``."""
        linear = (params or {}).get("head", "cosine") == "linear"
        return cls.needs | {"linear_head"} if linear else cls.needs

    def _head_arrays(self) -> tuple[np.ndarray, dict]:
        if self.head != "linear":
            centers, _ = super()._head_arrays()
            return centers, {"kind": "logsoftmax", "s": self.s, "m": self.m}
        if self.linear_head is None:
            raise DataError(f"back end {self.name!r} with head='linear' needs the linear softmax head "
                            f"of the run (linear_head.npz)")
        return self.linear_head["weight"], {"kind": "linear", "bias": self.linear_head["bias"]}


class CosineCenterScorer(_CenterScorer):
    """1 - cosine between the embedding and its class center ``(M,)`` in [0, 2].

    ``centers``: the head's unit-norm class centers ``(C, D)`` (from the run folder).
    """

    name = "cosine_center"
    summary = "1 - cosine to the clip's class center (needs the class head)"
    paper = "Noisy-ArcMix (seed 004) Fig. 1: the angle to the class center"
    params = {}
    _kind = "cosine"

    def __init__(self, centers: np.ndarray | None = None):
        self.centers = centers
