"""Sub-cluster Noisy-ArcMix head, simplified FeatEx and manifold mixup."""

import math

import numpy as np
import pytest
import torch

from asdlab.nn.margins import angular_margin
from asdlab.nn.subcluster_margin import (SubClusterMarginHead, featex, manifold_mixup, margin_tensor,
                                         one_hot, subcluster_margin_logits)


def test_margin_goes_on_every_subcluster_of_the_label_class_only():
    torch.manual_seed(0)
    cos = torch.rand(3, 8) * 2 - 1  # 4 classes x 2 sub-clusters
    labels = torch.tensor([1, 3, 0])
    z = subcluster_margin_logits(cos, 2, labels=labels, s=10.0, m=0.5)
    expected = 10.0 * cos.clone()
    for b, c in enumerate(labels.tolist()):
        expected[b, 2 * c:2 * c + 2] = 10.0 * angular_margin(cos[b, 2 * c:2 * c + 2], 0.5)
    assert torch.allclose(z, expected)
    changed = ~torch.isclose(z, 10.0 * cos)
    assert changed.sum() == 6 and changed[0, 2:4].all() and changed[1, 6:].all() and changed[2, :2].all()


def test_soft_margin_is_proportional_to_the_label_and_equals_noisy_for_one_hot():
    torch.manual_seed(1)
    cos = torch.rand(2, 6) * 1.6 - 0.8  # 3 classes x 2
    labels = torch.tensor([2, 0])
    hard = subcluster_margin_logits(cos, 2, labels=labels, s=30.0, m=0.7)
    soft = subcluster_margin_logits(cos, 2, targets=one_hot(labels, 3), s=30.0, m=0.7, margin="soft")
    assert torch.allclose(hard, soft, atol=1e-5)
    t = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    half = subcluster_margin_logits(cos, 2, targets=t, s=1.0, m=0.7, margin="soft")
    theta = torch.arccos(cos[0, 0])
    assert half[0, 0].item() == pytest.approx(math.cos(theta.item() + 0.35), abs=1e-5)
    assert torch.allclose(half[0, 4:], cos[0, 4:])  # no label weight, no margin
    assert torch.allclose(margin_tensor(cos, torch.zeros_like(cos)), cos)


def test_head_class_probabilities_sum_their_subclusters_and_margin_lowers_the_target():
    torch.manual_seed(2)
    head = SubClusterMarginHead(8, n_classes=3, n_sub=4, s=30.0, m=0.7)
    emb = torch.randn(5, 8)
    y = torch.tensor([0, 1, 2, 0, 1])
    plain = head.class_log_probs(emb)
    p_sub = torch.softmax(30.0 * head.cosine(emb), dim=1).reshape(5, 3, 4).sum(2)
    assert torch.allclose(plain.exp(), p_sub, atol=1e-5)
    with_margin = head.class_log_probs(emb, labels=y)
    assert (with_margin[torch.arange(5), y] < plain[torch.arange(5), y]).all()
    assert head.centers().shape == (12, 8)
    assert torch.allclose(head.centers().norm(dim=1), torch.ones(12))


def test_featex_labels_and_shapes():
    emb = torch.arange(8, dtype=torch.float32).reshape(4, 2)
    t = one_hot(torch.tensor([0, 1, 2, 2]), 3)
    perm = torch.tensor([1, 0, 3, 2])
    exchange = torch.tensor([True, False, True, False])
    e2, t2 = featex(emb, t, perm=perm, exchange=exchange)
    assert e2.shape == (4, 4) and t2.shape == (4, 3)
    assert torch.equal(e2[0], torch.tensor([0.0, 1.0, 2.0, 3.0]))  # (e_0, e_1)
    assert torch.equal(e2[1], torch.tensor([2.0, 3.0, 2.0, 3.0]))  # (e_1, e_1)
    assert torch.equal(t2[0], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.equal(t2[1], t[1]) and torch.equal(t2[2], t[2])  # partner of the same class
    assert torch.allclose(t2.sum(1), torch.ones(4))


def test_featex_draws_are_seeded_and_follow_p():
    torch.manual_seed(0)
    emb, t = torch.randn(400, 3), one_hot(torch.arange(400) % 4, 4)
    a = featex(emb, t, 0.5, np.random.default_rng(7))
    b = featex(emb, t, 0.5, np.random.default_rng(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    exchanged = ~torch.isclose(a[0][:, 3:], emb).all(dim=1)
    assert 150 < int(exchanged.sum()) < 250
    none = featex(emb, t, 0.0, np.random.default_rng(7))
    assert torch.equal(none[0], torch.cat([emb, emb], 1)) and torch.equal(none[1], t)


def test_manifold_mixup_mixes_embeddings_and_targets_alike():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = one_hot(torch.tensor([0, 1, 1]), 2)
    e2, t2 = manifold_mixup(emb, t, 0.25, torch.tensor([1, 2, 0]))
    assert torch.allclose(e2[0], torch.tensor([0.25, 0.75]))
    assert torch.allclose(t2[0], torch.tensor([0.25, 0.75]))
    assert torch.allclose(t2[2], torch.tensor([0.75, 0.25]))


def test_bad_configurations_are_clear():
    with pytest.raises(ValueError, match="n_sub=4"):
        subcluster_margin_logits(torch.zeros(2, 6), 4, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="needs labels"):
        subcluster_margin_logits(torch.zeros(2, 6), 2)
    with pytest.raises(ValueError, match="unknown margin mode 'hard'"):
        SubClusterMarginHead(4, 2, 2, margin="hard")
