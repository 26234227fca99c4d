"""The registered back ends against hand computations on tiny arrays, and the registry's errors."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from asdlab.backends import BACKENDS, NEED_FILES, check_params, get_backend, list_backends
from asdlab.backends.kmeans import score_sections
from asdlab.backends.residual import (SelectiveMahalanobis, clip_mean_residual, mse_score, residual_stats)
from asdlab.core.errors import ConfigError, DataError


def meta(domains, split="train", machine="fan", section="00", attributes=None, class_index=None, files=None):
    """Clip metadata with the embeddings.csv columns, one row per entry of ``domains``."""
    n = len(domains)
    return pd.DataFrame({
        "file": files or [f"{split}_{i}.wav" for i in range(n)], "machine": machine, "section": section,
        "domain": domains, "label": "normal", "split": split,
        "attributes": attributes or ["a"] * n, "class": "",
        "class_index": class_index if class_index is not None else [0] * n})


# --- the registry ------------------------------------------------------------------------------

def test_every_backend_is_registered_with_its_paper_needs_and_defaults():
    assert list(BACKENDS) == ["class_posterior", "cosine_center", "kmeans", "knn", "gmm", "mahalanobis", "mse"]
    for cls in list_backends():
        assert cls.summary and cls.paper and cls.needs <= set(NEED_FILES)
        scorer = get_backend(cls.name)
        assert scorer.get_params() == cls.defaults()  # __init__ only stores its parameters
        assert not [k for k in vars(scorer) if k.endswith("_")]  # nothing fitted yet
    assert BACKENDS["class_posterior"].needs == {"embeddings", "centers"}
    assert BACKENDS["mse"].needs == {"residuals"}
    assert BACKENDS["mahalanobis"].requires({"on": "residuals"}) == {"residuals"}


def test_unknown_names_parameters_and_bad_values_fail_in_one_line():
    with pytest.raises(ConfigError, match=r"unknown back end 'nope'; registered: class_posterior, .*mse"):
        get_backend("nope")
    with pytest.raises(ConfigError, match=r"back end 'knn' has no parameter 'kk'; known: k"):
        get_backend("knn", kk=3)
    for name, bad in [("knn", {"k": 0}), ("knn", {"k": 2.5}), ("knn", {"k": True}), ("knn", {"k": "3"}),
                      ("class_posterior", {"s": 0}), ("class_posterior", {"m": float("nan")}),
                      ("gmm", {"domain_rule": "paper"}), ("gmm", {"weighted": 1}),
                      ("mahalanobis", {"ridge": -1.0}), ("mahalanobis", {"on": "frames"})]:
        (key, value), = bad.items()
        with pytest.raises(ConfigError, match=rf"back end '{name}': parameter {key}=.*: expected"):
            get_backend(name, **bad)
    with pytest.raises(ConfigError, match="centers is read from the run folder"):
        check_params("class_posterior", {"centers": np.eye(2)})
    assert check_params("class_posterior", {"s": 16}) == {"s": 16.0, "m": 0.7, "head": "cosine"}  # an int is a float


# --- class_posterior and cosine_center ------------------------------------------------------------

CENTERS = np.eye(2, dtype=np.float32)  # class 0 along x, class 1 along y, both of fan/00


def test_class_posterior_is_minus_log_softmax_with_the_margin_at_the_clip_class():
    s, m = 2.0, 0.5
    train = meta(["source", "source"], class_index=[0, 1])
    scorer = get_backend("class_posterior", s=s, m=m, centers=CENTERS).fit(CENTERS, train)
    test = meta(["source", "source", "target"], split="test", class_index=[0, 0, -1])
    x = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 2.0]], np.float32)
    got = scorer.score(x, test)
    # row 0: at its center (theta 0): logits s cos(m) and 0
    r0 = math.log(1 + math.exp(-s * math.cos(m)))
    # row 1: theta = pi/2 from class 0: logits s cos(pi/2 + m) = -s sin(m) and s
    r1 = math.log(math.exp(-s * math.sin(m)) + math.exp(s)) + s * math.sin(m)
    # row 2: unknown class: the better of its section's classes 0 and 1 (it lies on class 1)
    r2 = min(r1, math.log(1 + math.exp(-s * math.cos(m))))
    np.testing.assert_allclose(got, [r0, r1, r2], rtol=1e-5)
    assert got.dtype == np.float32


def test_cosine_center_is_one_minus_the_cosine_to_the_class_center():
    train = meta(["source", "source"], class_index=[0, 1])
    scorer = get_backend("cosine_center", centers=CENTERS).fit(CENTERS, train)
    test = meta(["source", "source", "source"], split="test", class_index=[0, 1, -1])
    x = np.array([[1.0, 1.0], [2.0, 0.0], [-1.0, 1.0]], np.float32)
    np.testing.assert_allclose(scorer.score(x, test), [1 - 1 / math.sqrt(2), 1.0, 1 - 1 / math.sqrt(2)], rtol=1e-6)


def test_an_unknown_class_without_classes_in_its_section_is_an_error():
    scorer = get_backend("cosine_center", centers=CENTERS).fit(CENTERS, meta(["source", "source"], class_index=[0, 1]))
    with pytest.raises(DataError, match=r"test clip test_0.wav \(machine .valve. section 00\) is of a class never seen in training"):
        scorer.score(np.ones((1, 2), np.float32), meta(["source"], split="test", machine="valve", class_index=[-1]))


# --- kmeans and knn ------------------------------------------------------------------------------

def test_kmeans_scores_by_the_source_centroid_and_target_clips_leave_one_out():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    train = meta(["source", "source", "target"])
    scorer = get_backend("kmeans", n_clusters=1).fit(x, train)  # one centroid: (1, 1) / sqrt(2)
    test = meta(["source", "source"], split="test")
    np.testing.assert_allclose(scorer.score(np.array([[2.0, 2.0], [0.0, -1.0]]), test), [0.0, 1.0], atol=1e-12)
    # the target training clip is compared with the centroid only, not with itself
    np.testing.assert_allclose(scorer.score(x, train), [1 - 1 / math.sqrt(2)] * 2 + [1 + 1 / math.sqrt(2)])


def test_kmeans_equals_score_sections():
    rng = np.random.default_rng(0)
    train = pd.concat([meta(["source"] * 12 + ["target"] * 3, machine=m) for m in ("fan", "valve")], ignore_index=True)
    test = pd.concat([meta(["source", "target"] * 3, split="test", machine=m) for m in ("fan", "valve")],
                     ignore_index=True)
    x_train, x_test = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    ref = score_sections(x_train, train, x_test, test, n_clusters=3, seed=5)
    scorer = get_backend("kmeans", n_clusters=3, seed=5).fit(x_train, train)
    np.testing.assert_array_equal(scorer.score(x_train, train), ref["train"])
    np.testing.assert_array_equal(scorer.score(x_test, test), ref["test"])
    with pytest.raises(DataError, match="gearbox/00"):
        scorer.score(x_test[:1], meta(["source"], split="test", machine="gearbox"))


def test_knn_is_the_mean_cosine_distance_to_the_k_nearest_training_clips_without_itself():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    train = meta(["source", "source", "target"])
    test = meta(["source"], split="test")
    c = 1 / math.sqrt(2)
    one, two = get_backend("knn").fit(x, train), get_backend("knn", k=2).fit(x, train)
    np.testing.assert_allclose(one.score(np.array([[3.0, 0.0]]), test), [0.0], atol=1e-12)
    np.testing.assert_allclose(two.score(np.array([[3.0, 0.0]]), test), [(0 + 1 - c) / 2])
    # training clips: the nearest OTHER clip; [1, 0] and [0, 1] both have [1, 1] at 45 degrees
    np.testing.assert_allclose(one.score(x, train), [1 - c, 1 - c, 1 - c])
    np.testing.assert_allclose(two.score(x, train), [(1 - c + 1) / 2, (1 - c + 1) / 2, 1 - c])
    np.testing.assert_allclose(get_backend("knn", k=9).fit(x, train).score(np.array([[1.0, 0.0]]), test),
                               [(0 + (1 - c) + 1) / 3])  # fewer references than k: all of them


# --- gmm -----------------------------------------------------------------------------------------

def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _best(gmm: GaussianMixture, x):
    ll = np.stack([multivariate_normal(gmm.means_[k], gmm.covariances_[k]).logpdf(x) + np.log(gmm.weights_[k])
                   for k in range(gmm.n_components)], axis=1)
    return -ll.max(axis=1)


def test_gmm_is_eq_2_and_3_with_one_gaussian_per_group_without_subcluster_centers():
    rng = np.random.default_rng(0)
    src = _unit(np.array([1.0, 0.2, 0.0]) + 0.1 * rng.standard_normal((12, 3)))
    tgt = _unit(np.array([0.0, 1.0, 0.3]) + 0.1 * rng.standard_normal((2, 3)))
    attrs = ["p"] * 6 + ["q"] * 6 + ["t"] * 2
    train = meta(["source"] * 12 + ["target"] * 2, attributes=attrs)
    x = np.concatenate([src, tgt])
    test = meta(["source", "target", "source"], split="test", attributes=["p", "t", "q"])
    y = _unit(rng.standard_normal((3, 3)))
    fit = dict(covariance_type="full", reg_covar=1e-3, random_state=0)
    sec = GaussianMixture(1, **fit).fit(src)
    att = [GaussianMixture(1, **fit).fit(src[:6]), GaussianMixture(1, **fit).fit(src[6:])]
    tg = GaussianMixture(2, means_init=tgt, **fit).fit(tgt)
    section, attribute, target = _best(sec, y), np.min([_best(g, y) for g in att], axis=0), _best(tg, y)
    clip = get_backend("gmm").fit(x, train).score(y, test)
    np.testing.assert_allclose(clip, section + np.where([False, True, False], target, attribute), rtol=1e-6)
    low = get_backend("gmm", domain_rule="min").fit(x, train).score(y, test)
    np.testing.assert_allclose(low, section + np.minimum(attribute, target), rtol=1e-6)


def test_gmm_starts_at_the_subcluster_centers_of_the_classes_of_its_clips():
    rng = np.random.default_rng(1)
    sub = _unit(rng.standard_normal((2, 2, 3)).reshape(4, 3)).reshape(2, 2, 3)  # 2 classes x 2 sub-clusters
    x = _unit(rng.standard_normal((10, 3)))
    train = meta(["source"] * 8 + ["target"] * 2, attributes=["p"] * 4 + ["q"] * 6, class_index=[0] * 4 + [1] * 6)
    scorer = get_backend("gmm", subcluster_centers=sub).fit(x, train)
    g = scorer.models_["fan/00"]
    np.testing.assert_allclose(g.section_.means_init, sub.reshape(4, 3))  # every class of the section
    np.testing.assert_allclose(g.attributes_["p"].means_init, sub[0])
    np.testing.assert_allclose(g.attributes_["q"].means_init, sub[1])
    np.testing.assert_allclose(g.target_.means_init, x[8:])
    assert np.isfinite(scorer.score(x, train)).all()


def test_the_clip_domain_rule_needs_target_training_clips_for_target_clips():
    x = _unit(np.random.default_rng(2).standard_normal((4, 3)))
    scorer = get_backend("gmm").fit(x, meta(["source"] * 4))
    with pytest.raises(DataError, match="fan/00: target-domain clips need target training clips.*domain_rule='min'"):
        scorer.score(x[:1], meta(["target"], split="test"))
    assert np.isfinite(get_backend("gmm", domain_rule="min").fit(x, meta(["source"] * 4)).score(
        x[:1], meta(["target"], split="test"))).all()


# --- mahalanobis and mse -------------------------------------------------------------------------

def test_mahalanobis_on_embeddings_takes_the_nearer_domain_around_its_mean():
    rng = np.random.default_rng(3)
    src, tgt = rng.normal(size=(20, 3)), 5 + 2 * rng.normal(size=(6, 3))
    train = meta(["source"] * 20 + ["target"] * 6)
    scorer = get_backend("mahalanobis", ridge=0.1).fit(np.concatenate([src, tgt]), train)
    y = rng.normal(size=(4, 3)) * 3

    def dist(d):
        cov = np.cov(d, rowvar=False, bias=True)
        p = np.linalg.inv(cov + 0.1 * np.trace(cov) / 3 * np.eye(3))
        return np.array([(v - d.mean(0)) @ p @ (v - d.mean(0)) for v in y])

    np.testing.assert_allclose(scorer.score(y, meta(["source"] * 4, split="test")),
                               np.minimum(dist(src), dist(tgt)), rtol=1e-9)
    assert scorer.input_kind() == "embeddings"


def test_mahalanobis_leaves_out_a_domain_with_a_single_training_clip():
    """One target clip has no covariance; with it the minimum would be 0 for every clip."""
    rng = np.random.default_rng(4)
    src, tgt = rng.normal(size=(20, 3)), rng.normal(size=(1, 3))
    scorer = get_backend("mahalanobis", ridge=0.1).fit(np.concatenate([src, tgt]),
                                                       meta(["source"] * 20 + ["target"]))
    y = rng.normal(size=(4, 3)) * 3
    cov = np.cov(src, rowvar=False, bias=True)
    p = np.linalg.inv(cov + 0.1 * np.trace(cov) / 3 * np.eye(3))
    expected = [(v - src.mean(0)) @ p @ (v - src.mean(0)) for v in y]
    np.testing.assert_allclose(scorer.score(y, meta(["source"] * 4, split="test")), expected, rtol=1e-9)


def test_mahalanobis_and_mse_on_residual_statistics_equal_the_official_ae_scores_exactly():
    rng = np.random.default_rng(4)
    res = [rng.standard_normal((int(n), 5 * 4)).astype(np.float32) for n in rng.integers(3, 9, size=12)]
    domains = ["source"] * 9 + ["target"] * 3
    train, test = meta(domains[:9] + ["target"] * 3), meta(["source"] * 12, split="test")
    official = SelectiveMahalanobis(frame_dim=4, ridge=1e-3).fit(res[:9], res[9:])
    stats = {("fan", "00", "source"): residual_stats(res[:9], 4), ("fan", "00", "target"): residual_stats(res[9:], 4)}
    means = np.stack([clip_mean_residual(r, 4) for r in res])
    scorer = get_backend("mahalanobis", on="residuals", residual_stats=stats).fit(means, train)
    assert scorer.input_kind() == "residual_mean"
    np.testing.assert_array_equal(scorer.score(means, test), official.score(res))
    mse = get_backend("mse").fit(mse_score(res)[:, None], train)
    np.testing.assert_array_equal(mse.score(mse_score(res)[:, None], test), mse_score(res))
    count, total, scatter = stats[("fan", "00", "target")]
    frames = np.concatenate([r.reshape(-1, 4) for r in res[9:]]).astype(np.float64)
    assert count == len(frames)
    np.testing.assert_allclose(total, frames.sum(0))
    np.testing.assert_allclose(scatter + np.outer(total, total) / count, frames.T @ frames)  # the raw moment
