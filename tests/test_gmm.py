"""GMM back ends of seed 002 against scikit-learn and scipy directly."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from asdlab.backends.gmm import (
    SectionGMMs,
    TemporalMaxGMMs,
    best_component_score,
    combine_terms,
    fit_gmm,
    length_normalize,
    temporal_max,
)

D = 6


def blobs(rng, centers, n, spread=0.15):
    """``n`` unit-norm points around each of ``centers``."""
    return length_normalize(np.concatenate([c + spread * rng.standard_normal((n, D)) for c in centers]))


def hand_best(gmm, x, weighted=True):
    """-max_k [log w_k +] log N(x | mu_k, S_k) with scipy's density, component by component."""
    ll = np.stack([multivariate_normal(gmm.means_[k], gmm.covariances_[k]).logpdf(x)
                   + (np.log(gmm.weights_[k]) if weighted else 0.0)
                   for k in range(gmm.n_components)], axis=1)
    return -ll.max(axis=1)


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    means = length_normalize(rng.standard_normal((3, D)))
    return rng, means, blobs(rng, means, 20)


def test_fit_gmm_is_scikit_learns_gmm_and_scores_its_best_weighted_component(data):
    rng, means, x = data
    ours = fit_gmm(x, means, reg_covar=1e-3, random_state=0)
    ref = GaussianMixture(3, covariance_type="full", reg_covar=1e-3, means_init=means, random_state=0).fit(x)
    np.testing.assert_allclose(ours.means_, ref.means_)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_)
    test = length_normalize(rng.standard_normal((7, D)))
    np.testing.assert_allclose(best_component_score(ours, test), hand_best(ref, test), rtol=1e-8)
    np.testing.assert_allclose(best_component_score(ours, test, weighted=False),
                               hand_best(ref, test, weighted=False), rtol=1e-8)
    assert not np.allclose(best_component_score(ours, test), best_component_score(ours, test, weighted=False))


def test_fewer_clips_than_subclusters_keeps_the_centers_they_are_nearest_to(data):
    rng, means, _ = data
    x = blobs(rng, means[[2]], 2, spread=0.01)          # 2 clips, both near center 2
    far = length_normalize(rng.standard_normal((2, D)))
    init = np.concatenate([far[:1], means[[2]], far[1:]])
    gmm = fit_gmm(x, init)
    assert gmm.n_components == 2
    one = fit_gmm(x[:1], init)                           # a single clip: mean = clip, cov = reg I
    np.testing.assert_allclose(one.means_[0], x[0])
    np.testing.assert_allclose(one.covariances_[0], 1e-3 * np.eye(D), atol=1e-12)


def test_section_gmms_are_equations_2_and_3(data):
    rng, means, _ = data
    src = blobs(rng, means[:2], 15)
    attrs = np.array(["a"] * 15 + ["b"] * 15)
    tgt = blobs(rng, means[[2]], 3)
    sec_means = np.stack([means[0], means[1]])
    att_means = {"a": means[[0, 0]] + 0.01, "b": means[[1, 1]] - 0.01}
    g = SectionGMMs(reg_covar=1e-3, random_state=0).fit(3.0 * src, attrs, tgt, sec_means, att_means)
    kw = dict(covariance_type="full", reg_covar=1e-3, random_state=0)
    ref_s = GaussianMixture(2, means_init=sec_means, **kw).fit(src)   # fitted on normalised embeddings
    ref_a = {a: GaussianMixture(2, means_init=length_normalize(m), **kw).fit(src[attrs == a])
             for a, m in att_means.items()}
    ref_t = GaussianMixture(3, means_init=tgt, **kw).fit(tgt)
    test = length_normalize(rng.standard_normal((6, D)))
    terms = g.terms(test)
    np.testing.assert_allclose(terms["section"], hand_best(ref_s, test), rtol=1e-8)
    np.testing.assert_allclose(terms["attribute"], np.minimum(hand_best(ref_a["a"], test),
                                                              hand_best(ref_a["b"], test)), rtol=1e-8)
    np.testing.assert_allclose(terms["target"], hand_best(ref_t, test), rtol=1e-8)
    np.testing.assert_allclose(g.target_.means_, tgt, atol=1e-6)   # components sit on the target clips
    domain = np.array(["source", "target", None, "source", "target", "target"], dtype=object)
    z = g.score(test, domain)
    expect = np.where(domain == "target", terms["section"] + terms["target"], terms["section"] + terms["attribute"])
    np.testing.assert_allclose(z, expect)
    tm = np.arange(6.0)
    np.testing.assert_allclose(combine_terms(terms, domain, tm), expect + np.where(domain == "target", 0, tm))


def test_target_clips_without_a_target_gmm_are_an_error(data):
    _, means, x = data
    g = SectionGMMs().fit(x, np.array(["a"] * len(x)), None, means)
    assert np.isnan(g.terms(x[:2])["target"]).all()
    g.score(x[:2], ["source", "source"])
    with pytest.raises(ValueError, match="need target training clips"):
        g.score(x[:2], ["source", "target"])


def test_temporal_max_term_is_the_best_single_gaussian_per_attribute():
    rng = np.random.default_rng(1)
    mels = rng.standard_normal((24, 4, 10))
    mels[12:] += 2.0
    t = temporal_max(mels)
    np.testing.assert_array_equal(t, mels.max(axis=2))
    attrs = np.array(["x"] * 12 + ["y"] * 12)
    g = TemporalMaxGMMs().fit(t, attrs)
    refs = [GaussianMixture(1, covariance_type="full", reg_covar=1e-3, random_state=0).fit(t[attrs == a])
            for a in ("x", "y")]
    expected = np.min([-multivariate_normal(r.means_[0], r.covariances_[0]).logpdf(t) for r in refs], axis=0)
    np.testing.assert_allclose(g.term(t), expected, rtol=1e-8)
