import numpy as np
import pytest

from asdlab.backends import SelectiveMahalanobis, mse_score, per_frame


def _residuals(n_clips, seed, scale=1.0, n_vec=20, frame_dim=4, k=5):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal((n_vec, k * frame_dim)) for _ in range(n_clips)]


def test_mse_is_the_mean_square_over_vectors_and_dims():
    r = [np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([[3.0, 3.0]])]
    np.testing.assert_allclose(mse_score(r), [(1 + 1 + 4 + 0) / 4, 9.0])


def test_selective_mahalanobis_against_a_direct_numpy_computation():
    src, tgt = _residuals(6, 0), _residuals(3, 1, scale=3.0)
    test = _residuals(4, 2, scale=2.0)
    scorer = SelectiveMahalanobis(frame_dim=4, ridge=0.0).fit(src, tgt)

    def inv_cov(clips):  # per-frame 4-d residuals: each 20-d vector holds 5 frames of 4
        x = np.concatenate([c.reshape(-1, 4) for c in clips])
        return np.linalg.inv(np.cov(x, rowvar=False, bias=True))

    p_s, p_t = inv_cov(src), inv_cov(tgt)
    expected = []
    for c in test:
        u = c.reshape(-1, 4).mean(axis=0)
        expected.append(min(u @ p_s @ u, u @ p_t @ u))
    np.testing.assert_allclose(scorer.score(test), expected, rtol=1e-10)


def test_ridge_is_relative_to_the_mean_variance():
    src = _residuals(5, 0)
    x = np.concatenate([c.reshape(-1, 4) for c in src])
    cov = np.cov(x, rowvar=False, bias=True)
    ridged = cov + 0.5 * np.trace(cov) / 4 * np.eye(4)
    scorer = SelectiveMahalanobis(frame_dim=4, ridge=0.5).fit(src, [])
    np.testing.assert_allclose(scorer.precisions_[0], np.linalg.inv(ridged), rtol=1e-10)


def test_the_minimum_picks_the_domain_that_explains_a_clip():
    src, tgt = _residuals(6, 0, scale=1.0), _residuals(6, 1, scale=10.0)
    scorer = SelectiveMahalanobis(frame_dim=4, ridge=0.0).fit(src, tgt)
    p_src, p_tgt = scorer.precisions_
    u = np.full(4, 3.0)  # a large mean residual: far for the source, near for the target
    clip = [np.tile(u, (2, 5))]
    assert u @ p_tgt @ u < u @ p_src @ u
    np.testing.assert_allclose(scorer.score(clip), [u @ p_tgt @ u])


def test_errors():
    with pytest.raises(ValueError, match="multiple of frame_dim"):
        per_frame(np.zeros((2, 10)), 4)
    with pytest.raises(ValueError, match="at least one domain"):
        SelectiveMahalanobis().fit([], [])


# --- class_posterior with head="linear" (a plain linear softmax classifier) --------------------

def _meta(class_index, split):
    import pandas as pd

    n = len(class_index)
    return pd.DataFrame({"file": [f"{split}_{i}.wav" for i in range(n)], "machine": "fan", "section": "00",
                         "domain": "source", "label": "normal", "split": split, "attributes": "a",
                         "class": "", "class_index": class_index})


def test_linear_class_posterior_is_minus_the_log_softmax_of_w_e_plus_b():
    import math

    from asdlab.backends import BACKENDS, get_backend

    head = {"weight": np.array([[2.0, 0.0], [0.0, 1.0]], np.float32), "bias": np.array([0.0, 1.0], np.float32)}
    centers = np.eye(2, dtype=np.float32)  # what centers.npy holds: the rows of W normalised
    scorer = get_backend("class_posterior", head="linear", centers=centers, linear_head=head)
    scorer.fit(np.eye(2, dtype=np.float32), _meta([0, 1], "train"))
    x = np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 3.0]], np.float32)
    got = scorer.score(x, _meta([0, 1, -1], "test"))
    # logits (2 x0, x1 + 1): row 0 (2, 1) at class 0; row 1 (2, 3) at class 1; row 2 (0, 4), unknown class:
    # the lower of its section's classes 0 and 1
    nll = lambda z, k: math.log(sum(math.exp(v) for v in z)) - z[k]  # noqa: E731
    np.testing.assert_allclose(got, [nll([2, 1], 0), nll([2, 3], 1), min(nll([0, 4], 0), nll([0, 4], 1))], rtol=1e-5)
    # s and m do not enter the linear score; the cosine head reads only the centers
    again = get_backend("class_posterior", head="linear", s=2.0, m=1.0, centers=centers, linear_head=head)
    np.testing.assert_array_equal(again.fit(np.eye(2, dtype=np.float32), _meta([0, 1], "train")).score(
        x, _meta([0, 1, -1], "test")), got)
    cls = BACKENDS["class_posterior"]
    assert cls.requires({"head": "linear"}) == {"embeddings", "centers", "linear_head"}
    assert cls.requires({"head": "cosine"}) == cls.requires() == {"embeddings", "centers"}


def test_linear_class_posterior_without_the_linear_head_or_with_a_bad_head_fails_in_one_line():
    from asdlab.backends import get_backend
    from asdlab.core.errors import ConfigError, DataError

    with pytest.raises(DataError, match=r"^back end 'class_posterior' with head='linear' needs the linear "
                                        r"softmax head of the run \(linear_head.npz\)$"):
        get_backend("class_posterior", head="linear", centers=np.eye(2)).fit(np.eye(2), _meta([0, 1], "train"))
    with pytest.raises(ConfigError, match=r"back end 'class_posterior': parameter head='arcface': expected one "
                                          r"of 'cosine', 'linear'"):
        get_backend("class_posterior", head="arcface")
