"""The pair loss of seed 001 eq. (2) against hand computations, with its distance floor."""

import pytest
import torch

from asdlab.nn.pairloss import PairLoss, pair_loss, sample_partners


def test_sampled_pairs_match_a_hand_computation():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    partners = torch.tensor([1, 2, 3, 0])
    # pairs: (0,1) same, d^2 = 25; (1,2) different, d^2 = 9 + 9 = 18 -> 1/18;
    # (2,3) same, d^2 = 1; (3,0) different, d = 0 -> floored at eps = 0.5 -> 1 / 0.25 = 4
    expected = (25 + 1 / 18 + 1 + 4) / 4
    got = pair_loss(x, labels, partners, eps=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert PairLoss(eps=0.5)(x, labels, partners).item() == pytest.approx(expected, rel=1e-6)


def test_the_floor_caps_the_inverse_term_and_stops_its_gradient():
    x = torch.tensor([[0.0, 0.0], [1e-4, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 1])
    loss = pair_loss(x, labels, torch.tensor([1, 0]), eps=0.1)
    assert loss.item() == pytest.approx(100.0)          # 1 / 0.1^2, not 1 / 1e-8
    loss.backward()
    assert torch.count_nonzero(x.grad) == 0             # below the floor the term is constant
    # above the floor: both anchors see the pair, loss = (1/d^2 + 1/d^2) / 2 = 1/|x1 - x0|^2;
    # at d = 1 its derivative in x0 is 2 (x1 - x0) / d^4 = (2, 0), in x1 the opposite
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    pair_loss(y, labels, torch.tensor([1, 0]), eps=0.1).backward()
    torch.testing.assert_close(y.grad, torch.tensor([[2.0, 0.0], [-2.0, 0.0]]))


def test_all_pairs_mode_averages_every_ordered_pair():
    x = torch.tensor([[0.0], [1.0], [3.0]])
    labels = torch.tensor([0, 0, 1])
    # ordered pairs: (0,1),(1,0) same d^2=1; (0,2),(2,0) diff 1/9; (1,2),(2,1) diff 1/4
    expected = (2 * 1 + 2 / 9 + 2 / 4) / 6
    assert pair_loss(x, labels, mode="all", eps=0.01).item() == pytest.approx(expected, rel=1e-6)


def test_partners_are_never_the_anchor_and_are_seeded():
    g = torch.Generator().manual_seed(0)
    p = sample_partners(5, g)
    assert p.shape == (5,) and (p != torch.arange(5)).all() and ((p >= 0) & (p < 5)).all()
    again = sample_partners(5, torch.Generator().manual_seed(0))
    assert torch.equal(p, again)
    counts = torch.bincount(torch.cat([sample_partners(4, g) for _ in range(3000)]), minlength=4)
    assert (counts - 3000).abs().max() < 200              # each index is a partner 3 times in 4 anchors
    assert sample_partners(1).tolist() == [0]
    x = torch.tensor([[1.0, 2.0]])
    assert pair_loss(x, torch.tensor([0])).item() == 0.0   # one clip: its own partner, distance 0


def test_bad_arguments_are_clear_errors():
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown pair mode 'pairs'"):
        pair_loss(x, y, mode="pairs")
    with pytest.raises(ValueError, match="eps must be positive"):
        pair_loss(x, y, eps=0)
    with pytest.raises(ValueError, match=r"expected embeddings \(N, D\) and labels \(N,\)"):
        pair_loss(x, y[:2])
