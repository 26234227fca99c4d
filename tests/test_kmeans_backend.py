"""k-means cosine back end against a brute-force computation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans

from asdlab.core.errors import DataError
from asdlab.backends.kmeans import KMeansCosine, score_sections


def _brute(x, refs):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    refs = refs / np.linalg.norm(refs, axis=1, keepdims=True)
    return np.array([min(1 - float(a @ r) for r in refs) for a in x])


def test_score_is_min_cosine_distance_to_source_centroids_and_target_clips():
    rng = np.random.default_rng(0)
    src, tgt, test = 3 * rng.normal(size=(60, 5)), rng.normal(size=(4, 5)), rng.normal(size=(20, 5))
    km = KMeansCosine(n_clusters=6, seed=3).fit(src, tgt)
    unit = src / np.linalg.norm(src, axis=1, keepdims=True)
    ref = KMeans(6, n_init=10, random_state=3).fit(unit).cluster_centers_
    np.testing.assert_allclose(km.score(test), _brute(test, np.vstack([ref, tgt])), atol=1e-10)
    assert km.references_.shape == (10, 5)
    assert (km.nearest(tgt) == np.arange(6, 10)).all()  # each target clip is its own nearest reference
    np.testing.assert_allclose(km.score(tgt), 0.0, atol=1e-12)


def test_scale_of_embeddings_does_not_matter_and_fit_is_seeded():
    rng = np.random.default_rng(1)
    src, test = rng.normal(size=(40, 3)), rng.normal(size=(5, 3))
    a = KMeansCosine(4, seed=0).fit(src).score(test)
    b = KMeansCosine(4, seed=0).fit(10 * src).score(0.1 * test)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_fewer_source_clips_than_clusters_keeps_every_clip():
    src = np.eye(3)
    km = KMeansCosine(16).fit(src)
    assert len(km.centroids_) == 3
    np.testing.assert_allclose(km.score(np.array([[1.0, 1.0, 0.0]])), [1 - 1 / np.sqrt(2)])


def test_score_sections_fits_per_section_and_scores_target_training_clips_leave_one_out():
    rng = np.random.default_rng(2)
    meta = pd.DataFrame({"machine": ["fan"] * 12 + ["valve"] * 12, "section": "00",
                         "domain": (["source"] * 10 + ["target"] * 2) * 2})
    emb = rng.normal(size=(24, 4))
    test_meta = pd.DataFrame({"machine": ["fan", "valve", "valve"], "section": "00", "domain": "source"})
    test = rng.normal(size=(3, 4))
    out = score_sections(emb, meta, test, test_meta, n_clusters=3, seed=0)
    fan = KMeansCosine(3, seed=0).fit(emb[:10], emb[10:12])
    valve = KMeansCosine(3, seed=0).fit(emb[12:22], emb[22:24])
    np.testing.assert_allclose(out["test"], [fan.score(test[:1])[0], *valve.score(test[1:])])
    # a target training clip is scored against the centroids and the OTHER target clip
    np.testing.assert_allclose(out["train"][10], _brute(emb[10:11], np.vstack([fan.centroids_, emb[11]]))[0])
    np.testing.assert_allclose(out["train"][:10], fan.score(emb[:10]))
    assert (out["train"][[10, 11, 22, 23]] > 0).all()


def test_a_test_section_without_training_clips_is_an_error():
    meta = pd.DataFrame({"machine": ["fan"] * 3, "section": "00", "domain": "source"})
    test_meta = pd.DataFrame({"machine": ["fan"], "section": "01", "domain": "source"})
    with pytest.raises(DataError, match="fan/01"):
        score_sections(np.ones((3, 2)), meta, np.ones((1, 2)), test_meta)
