"""InfoNCE against explicit loops, and the shared projection MLP."""

import math

import numpy as np
import pytest
import torch

from asdlab.nn.contrastive import ContrastiveProjector, info_nce, similarity_logits

T = 0.07


def loop_info_nce(u, p, temperature, normalize=True, exclude_positive=False):
    """-1/N sum_i log(exp(<u_i,p_i>/t) / sum_j exp(<u_i,p_j>/t)), written out with loops."""
    u, p = np.asarray(u, float), np.asarray(p, float)
    if normalize:
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        p = p / np.linalg.norm(p, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(u)):
        num = math.exp(float(u[i] @ p[i]) / temperature)
        den = sum(math.exp(float(u[i] @ p[j]) / temperature) for j in range(len(p))
                  if not (exclude_positive and j == i))
        total += -math.log(num / den)
    return total / len(u)


@pytest.fixture
def views():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)


def test_one_direction_matches_the_loops(views):
    u, p = views
    assert float(info_nce(u, p, T)) == pytest.approx(loop_info_nce(u, p, T), rel=1e-10)
    # not symmetric in its arguments: anchors and candidates play different roles
    assert float(info_nce(p, u, T)) == pytest.approx(loop_info_nce(p, u, T), rel=1e-10)
    assert abs(float(info_nce(u, p, T)) - float(info_nce(p, u, T))) > 1e-3


def test_symmetric_is_the_mean_of_both_directions(views):
    u, p = views
    expected = 0.5 * (loop_info_nce(u, p, T) + loop_info_nce(p, u, T))
    assert float(info_nce(u, p, T, symmetric=True)) == pytest.approx(expected, rel=1e-10)


def test_exclude_positive_is_eq4_as_printed(views):
    u, p = views
    got = float(info_nce(u, p, T, exclude_positive=True))
    assert got == pytest.approx(loop_info_nce(u, p, T, exclude_positive=True), rel=1e-10)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        info_nce(u[:1], p[:1], T, exclude_positive=True)


def test_raw_inner_products_without_normalisation(views):
    u, p = views
    u, p = u * 0.1, p * 0.1   # keep exp() in range at t = 0.07
    got = float(info_nce(u, p, T, normalize=False))
    assert got == pytest.approx(loop_info_nce(u, p, T, normalize=False), rel=1e-10)
    np.testing.assert_allclose(similarity_logits(u, p, T, normalize=False).numpy(), (u @ p.T / T).numpy())


def test_aligned_orthogonal_views_by_hand():
    # cos(u_i, p_i) = 1, cos(u_i, p_j) = 0: loss = log(1 + (N - 1) exp(-1 / t))
    e = torch.eye(4, dtype=torch.float64)
    assert float(info_nce(e, 3 * e, T)) == pytest.approx(math.log(1 + 3 * math.exp(-1 / T)), rel=1e-12)
    # shifted partners: every positive has cosine 0 and exactly one negative has cosine 1,
    # so each anchor's term is log(exp(1 / t) + 3 exp(0))
    shifted = e[[1, 2, 3, 0]]
    assert float(info_nce(e, shifted, T)) == pytest.approx(math.log(math.exp(1 / T) + 3), rel=1e-12)


def test_shape_errors_and_gradients():
    with pytest.raises(ValueError, match="two \\(N, D\\) tensors of one shape"):
        info_nce(torch.randn(4, 3), torch.randn(4, 2))
    u = torch.randn(6, 8, requires_grad=True)
    p = torch.randn(6, 8, requires_grad=True)
    info_nce(u, p).backward()
    assert u.grad.abs().sum() > 0 and p.grad.abs().sum() > 0


def test_projector_maps_both_views_through_one_shared_mlp():
    torch.manual_seed(0)
    proj = ContrastiveProjector(32, 320, common=16, hidden=24, out=8)
    a, b = torch.randn(5, 32), torch.randn(5, 320)
    za, zb = proj(a, b)
    assert za.shape == zb.shape == (5, 8)
    torch.testing.assert_close(za, proj.mlp(proj.to_common_a(a)))
    torch.testing.assert_close(zb, proj.mlp(proj.to_common_b(b)))
    # parameters: two view maps + ONE MLP (shared, not one per view)
    n = sum(p.numel() for p in proj.parameters())
    assert n == (32 * 16 + 16) + (320 * 16 + 16) + (16 * 24 + 24) + (24 * 8 + 8)
    hidden = [m for m in proj.mlp if isinstance(m, torch.nn.Linear)]
    assert len(hidden) == 2 and isinstance(proj.mlp[1], torch.nn.ReLU)   # one hidden layer
