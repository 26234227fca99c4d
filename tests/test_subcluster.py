"""Sub-cluster class probabilities equal the summed softmax of their sub-clusters."""

import pytest
import torch

from asdlab.nn.subcluster import class_log_probs, soft_cross_entropy


def test_class_probability_is_sum_of_subcluster_probabilities():
    torch.manual_seed(0)
    logits = 30 * torch.randn(5, 12)  # 4 classes x 3 sub-clusters, large scale
    p = torch.softmax(logits.double(), dim=1)
    expected = torch.stack([p[:, c * 3:(c + 1) * 3].sum(1) for c in range(4)], dim=1)
    got = class_log_probs(logits.double(), k=3).exp()
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.allclose(got.sum(1), torch.ones(5, dtype=torch.double))


def test_one_subcluster_is_plain_log_softmax():
    logits = torch.randn(4, 6)
    assert torch.allclose(class_log_probs(logits, 1), torch.log_softmax(logits, 1), atol=1e-6)


def test_soft_cross_entropy_matches_hand_computation_and_torch():
    logp = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]))
    t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    hand = (-torch.log(torch.tensor(0.7)) - 0.5 * torch.log(torch.tensor(0.25))
            - 0.5 * torch.log(torch.tensor(0.5))) / 2
    assert torch.isclose(soft_cross_entropy(logp, t), hand)
    assert torch.isclose(soft_cross_entropy(logp, t), torch.nn.functional.cross_entropy(logp, t))


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="k=5"):
        class_log_probs(torch.zeros(2, 12), 5)
    with pytest.raises(ValueError, match="differ in shape"):
        soft_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4))
