"""GMM back ends of sub-cluster AdaCos (seed 002 section 2.4, eq. 2-4).

Every GMM is scikit-learn's ``GaussianMixture`` with full covariances and ``reg_covar`` 1e-3
added to the diagonal, fitted on length-normalised embeddings (as the reference code does),
with its means initialised at the learned sub-cluster centers of the class (also normalised).
A GMM scores an embedding by its single best component, ``max_k log(w_k N(x | mu_k, S_k))``
(the "weighted likelihoods" of the paper; ``weighted=False`` drops ``log w_k``, which is what
the 2020 reference code's ``_estimate_log_prob`` does). Anomaly scores are minus such terms,
so higher = more anomalous.

For one section ``s`` (:class:`SectionGMMs`):

- ``Z_source(x) = -max_k log P(x | s, k) - max_a max_k log P(x | a, k)`` (eq. 2): one GMM on
  the section's SOURCE-domain normal training embeddings, and one per attribute value ``a``
  found among them (on the source clips with that attribute);
- ``Z_target(x) = -max_k log P(x | s, k) - max_k log P(x | X_target(s), k)`` (eq. 3): the same
  section GMM, plus a GMM with one component per target training clip of the section, its means
  initialised at those clips;
- eq. 4, optional: ``Z_source - max_a log P_tmax(t_max(x) | a)`` with one Gaussian per attribute
  value on the temporal maxima of the (standardised) log-mels (:class:`TemporalMaxGMMs`).

Choices where the paper leaves room (stated so that they can be changed):

- "For the target domain, the same GMMs trained on the normal data of the target domain
  belonging to single sections are used": eq. 3 writes the same ``P(. | s, k)`` as eq. 2, and a
  GMM of up to 16 components cannot be fitted to 3 target clips, so the section GMM of eq. 3 is
  the source-domain section GMM of eq. 2.
- A class with fewer clips than sub-clusters gets as many components as it has clips, initialised
  at the centers that most of its clips are nearest to (scikit-learn needs
  ``n_samples >= n_components``).
- Attribute GMMs are fitted on source clips only (the paper: "all normal data of the source
  domain labeled with different attribute information"); when there is no attribute head, their
  means start at the section's centers.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from asdlab.core.schema import Bool, Choice, Float, Int
from asdlab.backends.base import Scorer, check_rows, section_keys, sections
from asdlab.core.errors import DataError

REG_COVAR = 1e-3


def _one_blas_thread(func):
    """Run ``func`` with BLAS/LAPACK on one thread: the matrices here are small (D x D with
    D = 128), and a multi-threaded OpenBLAS on a busy 2-core machine makes each 128 x 128
    Cholesky 1000 times slower (0.1-0.3 s instead of 0.1 ms, measured)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


def length_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``(N, D)`` scaled to unit L2 norm (float64)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _pick_means(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The ``len(x)`` rows of ``means`` that most rows of ``x`` are nearest to (cosine), ties to
    the lower index; used when a class has fewer clips than sub-clusters."""
    counts = np.bincount(np.argmax(x @ means.T, axis=1), minlength=len(means))
    order = np.argsort(-counts, kind="stable")
    return means[np.sort(order[:len(x)])]


@_one_blas_thread
def fit_gmm(x: np.ndarray, means_init: np.ndarray | None = None, n_components: int | None = None,
            reg_covar: float = REG_COVAR, random_state: int = 0, max_iter: int = 100) -> GaussianMixture:
    """A full-covariance ``GaussianMixture`` fitted on ``x`` ``(N, D)``.

    ``means_init`` ``(K, D)`` fixes the number of components and their starting means (fewer
    clips than ``K``: see the module docstring); otherwise ``n_components`` (default 1) with
    scikit-learn's k-means start. A single row is fitted as the row twice (scikit-learn refuses
    one row), which gives the same single Gaussian: mean the row, covariance ``reg_covar * I``.
    Convergence warnings are silenced (EM stops at ``max_iter``).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"a GMM needs a non-empty (N, D) array, got shape {x.shape}")
    if means_init is not None:
        means_init = np.asarray(means_init, dtype=np.float64)
        if means_init.ndim != 2 or means_init.shape[1] != x.shape[1]:
            raise ValueError(f"means_init {means_init.shape} does not match data {x.shape}")
        if len(x) < len(means_init):
            means_init = _pick_means(x, means_init)
        n_components = len(means_init)
    n_components = min(n_components or 1, len(x))
    if len(x) == 1:  # scikit-learn needs 2 rows; a duplicate gives the same fit (mean x, cov reg I)
        x = np.repeat(x, 2, axis=0)
    gmm = GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=reg_covar,
                          means_init=means_init, random_state=random_state, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gmm.fit(x)


@_one_blas_thread
def component_log_likelihoods(gmm: GaussianMixture, x: np.ndarray, weighted: bool = True) -> np.ndarray:
    """``log N(x | mu_k, S_k)`` (+ ``log w_k`` when ``weighted``) for every row and component:
    ``(N, D) -> (N, K)``."""
    x = np.asarray(x, dtype=np.float64)
    return gmm._estimate_weighted_log_prob(x) if weighted else gmm._estimate_log_prob(x)


def best_component_score(gmm: GaussianMixture, x: np.ndarray, weighted: bool = True) -> np.ndarray:
    """Anomaly score ``-max_k log(w_k N(x | mu_k, S_k))`` of every row of ``x``: ``(N,)``."""
    return -component_log_likelihoods(gmm, x, weighted).max(axis=1)


class SectionGMMs:
    """The GMMs of one section and its terms of eq. 2-3 (see the module docstring).

    ``reg_covar``: added to every covariance diagonal (1e-3); ``weighted``: use the component
    weights (True); ``random_state``: seed of scikit-learn's k-means start. Fitted attributes:
    ``section_`` (GaussianMixture), ``attributes_`` (attribute value -> GaussianMixture),
    ``target_`` (GaussianMixture, or None without target clips).
    """

    def __init__(self, reg_covar: float = REG_COVAR, weighted: bool = True, random_state: int = 0):
        self.reg_covar, self.weighted, self.random_state = reg_covar, weighted, random_state

    def fit(self, source: np.ndarray, source_attributes, target: np.ndarray | None,
            section_means: np.ndarray, attribute_means: dict | None = None) -> SectionGMMs:
        """``source`` ``(N_s, D)`` source-domain normal embeddings of the section with their
        attribute values ``source_attributes`` ``(N_s,)``; ``target`` ``(N_t, D)`` (may be empty
        or None); ``section_means`` ``(K, D)``: the section class's sub-cluster centers;
        ``attribute_means``: attribute value -> ``(K, D)`` centers (missing values, or None,
        start at ``section_means``). Embeddings and means are length-normalised here."""
        src = length_normalize(source)
        if len(src) == 0:
            raise ValueError("a section needs source-domain training embeddings for its GMMs")
        attrs = np.asarray(source_attributes, dtype=object)
        if len(attrs) != len(src):
            raise ValueError(f"{len(attrs)} attribute values for {len(src)} source embeddings")
        fit = dict(reg_covar=self.reg_covar, random_state=self.random_state)
        sec_means = length_normalize(section_means)
        self.section_ = fit_gmm(src, sec_means, **fit)
        attribute_means = attribute_means or {}
        self.attributes_ = {}
        for a in sorted(set(attrs)):
            means = attribute_means.get(a)
            means = sec_means if means is None else length_normalize(means)
            self.attributes_[a] = fit_gmm(src[attrs == a], means, **fit)
        tgt = None if target is None or len(target) == 0 else length_normalize(target)
        self.target_ = None if tgt is None else fit_gmm(tgt, tgt, **fit)
        return self

    def terms(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row terms ``(N,)`` for embeddings ``x`` ``(N, D)``: ``section`` =
        ``-max_k log P(x | s, k)``, ``attribute`` = ``-max_a max_k log P(x | a, k)``, ``target``
        = ``-max_k log P(x | X_target, k)`` (NaN without target clips)."""
        x = length_normalize(x)
        w = self.weighted
        out = {"section": best_component_score(self.section_, x, w),
               "attribute": np.min([best_component_score(g, x, w) for g in self.attributes_.values()], axis=0)}
        out["target"] = (best_component_score(self.target_, x, w) if self.target_ is not None
                         else np.full(len(x), np.nan))
        return out

    def score(self, x: np.ndarray, domain) -> np.ndarray:
        """``Z_source`` (eq. 2) for rows whose ``domain`` is not "target", ``Z_target`` (eq. 3)
        for "target" rows: ``(N,)``, higher = more anomalous."""
        return combine_terms(self.terms(x), domain)


def combine_terms(terms: dict[str, np.ndarray], domain, tmax: np.ndarray | None = None) -> np.ndarray:
    """Eq. 2-4 from :meth:`SectionGMMs.terms`: ``section + attribute`` (+ ``tmax`` when given)
    where the domain is not "target", ``section + target`` where it is."""
    is_target = np.asarray(domain, dtype=object) == "target"
    source = terms["section"] + terms["attribute"] + (0.0 if tmax is None else tmax)
    if is_target.any() and np.isnan(terms["target"][is_target]).any():
        raise ValueError("target-domain clips need target training clips in their section")
    return np.where(is_target, terms["section"] + terms["target"], source)


class TemporalMaxGMMs:
    """Eq. 4's term: one full-covariance Gaussian per attribute value on the temporal maxima
    ``t_max(x)`` ``(N, n_mels)`` of the source clips' standardised log-mels; the term is
    ``-max_a log P_tmax(t_max(x) | a)``. Fitted attribute: ``gaussians_``."""

    def __init__(self, reg_covar: float = REG_COVAR, random_state: int = 0):
        self.reg_covar, self.random_state = reg_covar, random_state

    def fit(self, tmax: np.ndarray, attributes) -> TemporalMaxGMMs:
        """``tmax`` ``(N, n_mels)`` of the section's source training clips, ``attributes``
        ``(N,)`` their attribute values."""
        tmax = np.asarray(tmax, dtype=np.float64)
        attrs = np.asarray(attributes, dtype=object)
        self.gaussians_ = {a: fit_gmm(tmax[attrs == a], n_components=1, reg_covar=self.reg_covar,
                                      random_state=self.random_state) for a in sorted(set(attrs))}
        return self

    @_one_blas_thread
    def term(self, tmax: np.ndarray) -> np.ndarray:
        """``-max_a log P_tmax(t_max | a)`` for every row: ``(N,)``."""
        tmax = np.asarray(tmax, dtype=np.float64)
        return np.min([-g.score_samples(tmax) for g in self.gaussians_.values()], axis=0)


def temporal_max(logmels: np.ndarray) -> np.ndarray:
    """``(N, n_mels, T) -> (N, n_mels)``: the maximum over time of every mel bin."""
    return np.asarray(logmels).max(axis=2)


class GMMScorer(Scorer):
    """The registered ``gmm`` back end: seed 002 eq. 2-3 per machine and section on a run's
    embeddings (:class:`SectionGMMs`' terms; eq. 4 needs log-mels, which a run folder does not
    keep).

    ``domain_rule``: ``"clip"`` (the paper: eq. 2 for clips whose domain is not "target", eq. 3
    for "target" clips) or ``"min"`` (``section + min(attribute, target)`` for every clip: needs no
    domain label); ``reg_covar`` (1e-3), ``weighted`` (True: use ``log w_k``), ``seed``
    (scikit-learn's random state; rescoring uses the run's seed).
    Means: with the run's ``subcluster_centers`` ``(C, K, D)`` (row ``c`` = class index ``c``),
    a GMM over some training clips starts at the sub-cluster centers of the classes of those clips
    (the section GMM: of every class of the section; an attribute GMM: of the classes of its
    clips); without them, plain scikit-learn initialisation (k-means) with ``n_components``
    components (1). The target GMM always has one component per target training clip.
    Fitted: ``models_`` ("machine/section" -> :class:`SectionGMMs`).
    """

    name = "gmm"
    summary = "seed 002 GMMs per section: eq. 2 source (section + attribute), eq. 3 target"
    paper = "Sub-cluster AdaCos GMM back ends (Wilkinghoff, DCASE2021; seed 002 eq. 2-3)"
    params = {"domain_rule": Choice("clip", "min", help="how a clip's domain picks its terms"),
              "reg_covar": Float(min=0, min_open=True, help="added to every covariance diagonal"),
              "weighted": Bool(help="use the component weights"),
              "n_components": Int(min=1, help="components without sub-cluster centers"),
              "seed": Int(0, 2**32 - 1, help="scikit-learn random state")}
    artifacts = ("subcluster_centers",)

    def __init__(self, domain_rule: str = "clip", reg_covar: float = REG_COVAR, weighted: bool = True,
                 n_components: int = 1, seed: int = 0, subcluster_centers: np.ndarray | None = None):
        self.domain_rule = domain_rule
        self.reg_covar = reg_covar
        self.weighted = weighted
        self.n_components = n_components
        self.seed = seed
        self.subcluster_centers = subcluster_centers

    def _means(self, class_index: np.ndarray) -> np.ndarray | None:
        """Stacked unit-norm sub-cluster centers of the classes in ``class_index``, or None."""
        if self.subcluster_centers is None:
            return None
        classes = np.unique(class_index[class_index >= 0])
        if len(classes) == 0:
            return None
        sub = np.asarray(self.subcluster_centers)
        if sub.ndim != 3 or classes.max() >= len(sub):
            raise DataError(f"back end 'gmm': sub-cluster centers of shape {sub.shape} do not match "
                            f"class index {int(classes.max())}")
        return length_normalize(sub[classes].reshape(-1, sub.shape[-1]))

    def _fit_gmm(self, x: np.ndarray, means: np.ndarray | None) -> GaussianMixture:
        return fit_gmm(x, means, n_components=None if means is not None else self.n_components,
                       reg_covar=self.reg_covar, random_state=self.seed)

    def fit(self, X: np.ndarray, meta: pd.DataFrame) -> "GMMScorer":
        X = check_rows(X, meta, self.name)
        keys = section_keys(meta)
        is_target = (meta["domain"] == "target").to_numpy()
        attrs = meta["attributes"].fillna("").astype(str).to_numpy(dtype=object)
        idx = meta["class_index"].to_numpy(dtype=np.int64)
        self.models_ = {}
        for key in sorted(set(keys)):
            sec = keys == key
            src, tgt = sec & ~is_target, sec & is_target
            if not src.any():
                raise DataError(f"{key}: no source-domain training clips for the section GMM")
            g = SectionGMMs(self.reg_covar, self.weighted, self.seed)
            x = length_normalize(X[src])
            g.section_ = self._fit_gmm(x, self._means(idx[sec]))
            g.attributes_ = {a: self._fit_gmm(x[attrs[src] == a], self._means(idx[src & (attrs == a)]))
                             for a in sorted(set(attrs[src]))}
            t = length_normalize(X[tgt]) if tgt.any() else None
            g.target_ = None if t is None else fit_gmm(t, t, reg_covar=self.reg_covar, random_state=self.seed)
            self.models_[key] = g
        return self

    def score(self, X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
        """``(M,)`` minus log-likelihood sums of eq. 2-3, higher = more anomalous."""
        X, groups = sections(X, meta, self.name, self.models_)
        domain = meta["domain"].to_numpy(dtype=object)
        out = np.full(len(meta), np.nan)
        for key, rows in groups:
            terms = self.models_[key].terms(X[rows])
            if self.domain_rule == "min":
                target = np.where(np.isnan(terms["target"]), terms["attribute"], terms["target"])
                out[rows] = terms["section"] + np.minimum(terms["attribute"], target)
            else:
                try:
                    out[rows] = combine_terms(terms, domain[rows])
                except ValueError as err:
                    raise DataError(f"{key}: {err} (use domain_rule='min')") from None
        return out
