"""Clustering helpers of guided clustering: whitening, k-means, the uniform sampler, cluster quality."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from asdlab.analysis import pseudo_labels as views
from asdlab.backends import clustering as pl
from asdlab.core.errors import AsdlabError, ConfigError


def _blobs(sizes, dim=5, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.eye(dim)[:len(sizes)] * 3
    x = np.concatenate([c + spread * rng.normal(size=(n, dim)) for c, n in zip(centers, sizes)])
    return x, np.repeat(np.arange(len(sizes)), sizes)


def test_whitening_gives_unit_covariance_and_unit_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 5.0
    w = pl.WhitenL2(n_components=4).fit(x)
    z = w.whiten(x)
    assert z.shape == (200, 4)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(4), atol=1e-10)
    t = w.transform(x)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(t, z / np.linalg.norm(z, axis=1, keepdims=True))
    np.testing.assert_allclose(pl.WhitenL2(4).fit_transform(x), t)
    # the directions are the principal axes: the first one carries the largest variance of x
    var = ((x - x.mean(0)) @ w.components_.T).var(axis=0, ddof=1)
    assert np.all(np.diff(var) <= 0) and var[0] == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1])
    # sign convention: the largest loading of every component is positive
    assert (w.components_[np.arange(4), np.abs(w.components_).argmax(axis=1)] > 0).all()


def test_whitening_is_capped_at_the_rank_of_the_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 20))                         # 5 clips span 4 centred dimensions
    assert pl.WhitenL2(256).fit(x).components_.shape == (4, 20)
    flat = np.c_[rng.normal(size=(50, 2)), np.zeros((50, 3))]  # rank 2 in 5 dimensions
    assert pl.WhitenL2(None).fit(flat).components_.shape == (2, 5)
    with pytest.raises(ValueError, match="at least 2 rows"):
        pl.WhitenL2().fit(x[:1])


def test_kmeans_recovers_planted_blobs_and_checks_k():
    x, truth = _blobs([10, 20, 30])
    labels, centers = pl.kmeans(x, 3, seed=0)
    assert centers.shape == (3, 5) and labels.dtype == np.int64
    assert pl.cluster_scores(truth, labels)["ari"] == pytest.approx(1.0)
    np.testing.assert_array_equal(labels, pl.kmeans(x, 3, seed=0)[0])
    with pytest.raises(ConfigError, match=r"integer in \[1, 60\]"):
        pl.kmeans(x, 61)


def test_silhouette_choice_finds_the_planted_number_of_clusters():
    x, _ = _blobs([15, 15, 15, 15], spread=0.2)
    k, table = pl.choose_n_clusters(x, range(1, 9), seed=0)
    assert k == 4 and table["k"].tolist() == [2, 3, 4, 5, 6, 7, 8]   # k = 1 has no silhouette
    labels, _ = pl.kmeans(x, 4, seed=0)
    assert table.set_index("k").loc[4, "silhouette"] == pytest.approx(silhouette_score(x, labels))
    with pytest.raises(ConfigError, match="n_pseudo_range"):
        pl.choose_n_clusters(x[:3], [5, 6])


def test_uniform_sampler_draws_every_cluster_equally():
    labels = np.array([7] + [3] * 3 + [5] * 10)          # sizes 1, 3, 10
    idx = pl.uniform_over_clusters(labels, 30, np.random.default_rng(0))
    assert idx.shape == (30,)
    assert sorted(np.bincount(labels[idx], minlength=8)[[3, 5, 7]]) == [10, 10, 10]
    assert sorted(set(idx[labels[idx] == 5])) == list(range(4, 14))   # 10 draws of 10 items: each once
    np.testing.assert_array_equal(idx, pl.uniform_over_clusters(labels, 30, np.random.default_rng(0)))
    odd = pl.uniform_over_clusters(labels, 31, np.random.default_rng(1))
    assert sorted(np.bincount(labels[odd])[[3, 5, 7]]) == [10, 10, 11]
    assert len(pl.uniform_over_clusters(labels, 2, np.random.default_rng(2))) == 2


def test_cluster_scores_on_a_planted_clustering():
    truth = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)
    relabelled = np.array([2] * 4 + [0] * 4 + [1] * 2)   # perfect up to the names
    s = pl.cluster_scores(truth, relabelled)
    assert (s["ari"], s["nmi"], s["purity"], s["homogeneity"], s["completeness"]) == pytest.approx((1, 1, 1, 1, 1))
    pred = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
    s = pl.cluster_scores(truth, pred)
    assert s["ari"] == pytest.approx(adjusted_rand_score(truth, pred))
    assert s["nmi"] == pytest.approx(normalized_mutual_info_score(truth, pred))
    assert s["purity"] == pytest.approx((3 + 4 + 2) / 10)   # majorities: a in 0, b in 1, c in 2
    assert (s["n_clips"], s["n_true"], s["n_clusters"]) == (10, 3, 3)
    assert pl.nmi(truth, pred) == pytest.approx(normalized_mutual_info_score(truth, pred))


def test_contingency_quality_tables_and_loaders(tmp_path):
    pseudo = pd.DataFrame({"file": [f"f{i}" for i in range(6)], "machine": ["gear"] * 4 + ["slide"] * 2,
                           "pseudo_label": [0, 0, 1, 1, 0, 1]})
    truth = pd.DataFrame({"file": [f"f{i}" for i in range(6)] + ["other"], "machine": ["gear"] * 4 + ["slide"] * 3,
                          "true_attributes": ["x", "y", "y", "y", "u", "v", "u"]})
    other = pseudo.assign(pseudo_label=[0, 1, 1, 1, 0, 1])   # perfect for gear
    quality, cont = pl.quality_tables(pseudo, truth, {"features": other})
    assert quality["machine"].tolist() == ["gear", "slide"]
    gear = quality.iloc[0]
    assert gear["ari"] == pytest.approx(adjusted_rand_score(["x", "y", "y", "y"], [0, 0, 1, 1]))
    assert gear["ari_features"] == pytest.approx(1.0) and quality.iloc[1]["ari"] == pytest.approx(1.0)
    assert cont.columns.tolist() == ["machine", "true_attributes", "pseudo_label", "count"]
    assert cont[cont["machine"] == "gear"][["true_attributes", "pseudo_label", "count"]].values.tolist() == \
        [["x", 0, 1], ["x", 1, 0], ["y", 0, 1], ["y", 1, 2]]   # zeros kept
    with pytest.raises(AsdlabError, match="no ground-truth row, e.g. 'f9'"):
        pl.quality_tables(pseudo.assign(file=["f9"] + [f"f{i}" for i in range(1, 6)]), truth)

    run = tmp_path / "run"
    run.mkdir()
    cont.to_csv(run / pl.CONTINGENCY_FILE, index=False)
    quality.to_csv(run / pl.QUALITY_FILE, index=False)
    pseudo.assign(section="00", domain="source").to_csv(run / pl.PSEUDO_FILE, index=False)
    table = views.contingency(run, "gear")
    assert table.loc["y"].tolist() == [1, 2] and table.index.tolist() == ["x", "y"]
    assert views.cluster_quality(run)["ari"].tolist() == pytest.approx(quality["ari"].tolist())
    assert views.load_pseudo_labels(run)["section"].tolist() == ["00"] * 6
    with pytest.raises(AsdlabError, match=r"no contingency table for 'fan' \(machines: gear, slide\)"):
        views.contingency(run, "fan")
    with pytest.raises(AsdlabError, match="no pseudo_label_gain.csv"):
        views.gain_table(run)
