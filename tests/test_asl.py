"""Asymmetric focal loss for softmax outputs: reduction to cross-entropy, hand computation,
soft targets and sub-cluster class log-probabilities."""

import math

import pytest
import torch
import torch.nn.functional as F

from asdlab.nn.asl import asl_from_logits, asymmetric_focal_loss
from asdlab.nn.subcluster import class_log_probs, soft_cross_entropy


def test_no_focusing_and_no_smoothing_is_cross_entropy_for_hard_targets():
    torch.manual_seed(0)
    logits = 5 * torch.randn(6, 4)
    y = torch.tensor([0, 1, 2, 3, 1, 0])
    got = asl_from_logits(logits, y, gamma_pos=0.0, gamma_neg=0.0, eps=0.0)
    assert torch.isclose(got, F.cross_entropy(logits, y), atol=1e-6)


def test_no_focusing_and_no_smoothing_is_cross_entropy_for_soft_targets():
    torch.manual_seed(1)
    logits = 3 * torch.randn(5, 4)
    t = torch.softmax(torch.randn(5, 4), dim=1)  # arbitrary soft rows summing to 1
    got = asymmetric_focal_loss(torch.log_softmax(logits, 1), t, 0.0, 0.0, 0.0)
    assert torch.isclose(got, F.cross_entropy(logits, t), atol=1e-6)
    assert torch.isclose(got, soft_cross_entropy(torch.log_softmax(logits, 1), t), atol=1e-6)


def test_hand_computation_with_focusing_and_smoothing():
    p = torch.tensor([[0.6, 0.3, 0.1]])
    y = torch.tensor([0])
    gp, gn, eps = 1.0, 2.0, 0.3
    t_pos, t_neg = 1 - eps + eps / 3, eps / 3
    hand = -(t_pos * (1 - 0.6) ** gp * math.log(0.6)
             + t_neg * 0.3 ** gn * math.log(0.3) + t_neg * 0.1 ** gn * math.log(0.1))
    got = asymmetric_focal_loss(p.log(), y, gamma_pos=gp, gamma_neg=gn, eps=eps)
    assert got.item() == pytest.approx(hand, rel=1e-6)


def test_every_class_with_a_positive_soft_target_gets_the_positive_focusing_weight():
    p = torch.tensor([[0.5, 0.4, 0.1]])
    t = torch.tensor([[0.5, 0.5, 0.0]])
    gp, gn, eps = 2.0, 4.0, 0.3
    s = [0.5 * (1 - eps) + eps / 3, 0.5 * (1 - eps) + eps / 3, eps / 3]   # smoothed targets
    hand = -(s[0] * (1 - 0.5) ** gp * math.log(0.5) + s[1] * (1 - 0.4) ** gp * math.log(0.4)
             + s[2] * 0.1 ** gn * math.log(0.1))
    got = asymmetric_focal_loss(p.log(), t, gamma_pos=gp, gamma_neg=gn, eps=eps)
    assert got.item() == pytest.approx(hand, rel=1e-6)


def test_a_mixed_sample_weighs_as_much_as_a_clean_one_with_the_default_gammas():
    """Defaults (gamma_pos 0, gamma_neg 4, eps 0.1): the loss over the soft cross-entropy is the
    same for a clean and a 0.5 / 0.5 mixed target when the model splits its probability alike."""
    clean = asymmetric_focal_loss(torch.log(torch.tensor([[0.7, 0.2, 0.1]])), torch.tensor([0]))
    ce_clean = -math.log(0.7)
    mixed = asymmetric_focal_loss(torch.log(torch.tensor([[0.35, 0.35, 0.3]])),
                                  torch.tensor([[0.5, 0.5, 0.0]]))
    ce_mixed = -math.log(0.35)
    # target terms carry weight 1: (1 - eps) * y_j + eps / C on each positive class
    assert clean.item() / ce_clean > 0.9 and mixed.item() / ce_mixed > 0.9


def test_defaults_are_the_reference_and_focusing_lowers_easy_examples():
    logp = torch.log(torch.tensor([[0.9, 0.05, 0.05]]))
    y = torch.tensor([0])
    default = asymmetric_focal_loss(logp, y)
    explicit = asymmetric_focal_loss(logp, y, gamma_pos=0.0, gamma_neg=4.0, eps=0.1)
    assert default == explicit
    focused = asymmetric_focal_loss(logp, y, gamma_pos=2.0, gamma_neg=4.0, eps=0.1)
    assert focused < default  # (1 - 0.9)^2 damps the well-classified target term


def test_works_on_subcluster_class_log_probs_and_has_gradients():
    torch.manual_seed(2)
    logits = (10 * torch.randn(4, 6)).requires_grad_()
    logp = class_log_probs(logits, k=3)  # 2 classes x 3 sub-clusters
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.25, 0.75]])
    loss = asymmetric_focal_loss(logp, t, gamma_pos=1.0, gamma_neg=4.0, eps=0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    plain = asymmetric_focal_loss(logp.detach(), t, 0.0, 0.0, 0.0)
    assert torch.isclose(plain, soft_cross_entropy(logp.detach(), t))


def test_reductions_and_bad_input():
    logp = torch.log_softmax(torch.randn(3, 4), 1)
    y = torch.tensor([0, 1, 2])
    per = asymmetric_focal_loss(logp, y, reduction="none")
    assert per.shape == (3,)
    assert torch.isclose(per.sum(), asymmetric_focal_loss(logp, y, reduction="sum"))
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        asymmetric_focal_loss(logp, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="gamma_pos, gamma_neg >= 0"):
        asymmetric_focal_loss(logp, y, gamma_neg=-1.0)
    with pytest.raises(ValueError, match="unknown reduction 'max'"):
        asymmetric_focal_loss(logp, y, reduction="max")
