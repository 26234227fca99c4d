"""The registry of back ends: name -> scikit-learn-style scorer class (:class:`~asdlab.backends.base.Scorer`).

======================  ==========================  ======================================================
name                    needs (run folder)          paper
======================  ==========================  ======================================================
``class_posterior``     embeddings, centers         Noisy-ArcMix reference score (seed 004); ``head="linear"``
                        (+ linear_head)             also needs the linear softmax head
``cosine_center``       embeddings, centers         angle to the class center (seed 004, Fig. 1)
``kmeans``              embeddings                  Wilkinghoff 2023/2024, used by seed 000
``knn``                 embeddings                  ASDKit / DCASE 2023-2024 kNN
``gmm``                 embeddings                  sub-cluster AdaCos GMMs, seed 002 eq. 2-3
``mahalanobis``         embeddings or residuals     DCASE AE baseline, selective Mahalanobis
``mse``                 residuals                   DCASE AE baseline, reconstruction error
======================  ==========================  ======================================================

``get_backend(name, **params)`` checks every parameter before any work. Parameters that hold a
run's arrays (``centers``, ``subcluster_centers``, ``residual_stats``, ``linear_head``) are filled in by
:mod:`asdlab.runs.rescore` from the run folder. See ``docs/backends.md``.
"""

from __future__ import annotations

from asdlab.backends.base import Scorer
from asdlab.backends.gmm import GMMScorer
from asdlab.backends.kmeans import KMeansScorer
from asdlab.backends.knn import KNNScorer
from asdlab.backends.mahalanobis import MahalanobisScorer
from asdlab.backends.posterior import ClassPosteriorScorer, CosineCenterScorer
from asdlab.backends.residual import MSEScorer
from asdlab.core.errors import ConfigError
from asdlab.core.schema import Schema

BACKENDS: dict[str, type[Scorer]] = {cls.name: cls for cls in (
    ClassPosteriorScorer, CosineCenterScorer, KMeansScorer, KNNScorer, GMMScorer, MahalanobisScorer, MSEScorer)}
"""Back-end name -> scorer class."""

NEED_FILES = {"embeddings": "embeddings.npy", "centers": "centers.npy", "residuals": "residuals.npz",
              "linear_head": "linear_head.npz"}
"""What a back end ``needs`` -> the run-folder file that provides it."""


def backend_class(name: str) -> type[Scorer]:
    """The scorer class registered as ``name``; a :class:`ConfigError` lists the known ones."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown back end {name!r}; registered: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def check_params(name: str, params: dict | None = None, artifacts: bool = False) -> dict:
    """Every user parameter of back end ``name``: its defaults with ``params`` applied and checked
    (a :class:`ConfigError` naming the parameter for an unknown one or a bad value). With
    ``artifacts``, the run-folder arrays of the back end are accepted too and passed through."""
    cls = backend_class(name)
    user, arrays = {}, {}
    for key, value in (params or {}).items():
        if key in cls.params:
            user[key] = value
        elif artifacts and key in cls.artifacts:
            arrays[key] = value
        else:
            known = ", ".join(cls.params) or "none"
            extra = f" ({key} is read from the run folder)" if key in cls.artifacts else ""
            raise ConfigError(f"back end {name!r} has no parameter {key!r}{extra}; known: {known}")
    checked = Schema(cls.params).validate(user, repr(name), kind="back end")
    return {**cls.defaults(), **checked, **arrays}


def get_backend(name: str, **params) -> Scorer:
    """An unfitted scorer: ``get_backend("knn", k=3)``. Run-folder arrays (``centers=`` ...) are
    accepted as keyword arguments too."""
    return backend_class(name)(**check_params(name, params, artifacts=True))


def list_backends() -> list[type[Scorer]]:
    """Every registered scorer class, in registry order."""
    return list(BACKENDS.values())
