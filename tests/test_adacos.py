"""Sub-cluster AdaCos head, its adaptive scale and mixup, and the modified ResNet (seed 002)."""

import math

import pytest
import torch

from asdlab.nn.adacos import SubClusterAdaCos, adaptive_scale, class_angles, initial_scale, mixup_reversed
from asdlab.nn.resnet import ModifiedResNet

# A batch of 4 samples, C = 2 classes x K = 2 sub-clusters (columns: c0j0, c0j1, c1j0, c1j1).
COS = torch.tensor([[0.9, 0.5, 0.1, -0.2],
                    [0.2, 0.4, 0.8, 0.6],
                    [0.7, 0.3, 0.3, 0.5],
                    [0.0, 0.6, 0.5, 0.95]], dtype=torch.float64)
TARGETS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.25, 0.75], [0.0, 1.0]], dtype=torch.float64)


def hand_scale(cos, targets, s, k, rule):
    """The update rule written out with Python floats, one sample at a time."""
    rows = cos.tolist()
    top = max(s * c for row in rows for c in row)
    b_avg = sum(sum(math.exp(s * c - top) for c in row) for row in rows) / len(rows)
    angles = []
    for row, y in zip(rows, targets.tolist()):
        theta = [math.acos(c) for c in row]
        a = sum(y[j // k] * theta[j] for j in range(len(row)))
        angles.append(a * sum(v != 0 for v in y) if rule == "reference" else a / k)
    angles.sort()
    n = len(angles)
    med = angles[n // 2] if n % 2 else (angles[n // 2 - 1] + angles[n // 2]) / 2
    return (top + math.log(b_avg)) / math.cos(min(math.pi / 4, med))


@pytest.mark.parametrize("rule", ["reference", "mean"])
def test_adaptive_scale_matches_a_hand_computation(rule):
    s = 2.3
    got = adaptive_scale(COS, TARGETS, s, k=2, angle=rule)
    assert float(got) == pytest.approx(hand_scale(COS, TARGETS, s, 2, rule), rel=1e-9)


def test_the_angle_rules_on_one_sample():
    # sample 3 (mixed 0.25 / 0.75): reference = 2 * (0.25 (t00 + t01) + 0.75 (t10 + t11))
    t = [math.acos(c) for c in COS[2].tolist()]
    ref = 2 * (0.25 * (t[0] + t[1]) + 0.75 * (t[2] + t[3]))
    got = class_angles(COS, TARGETS, 2, "reference")
    assert float(got[2]) == pytest.approx(ref, rel=1e-9)
    assert float(class_angles(COS, TARGETS, 2, "mean")[2]) == pytest.approx(ref / 4, rel=1e-9)


def test_small_angles_are_not_capped_at_pi_over_4():
    # K = 1 and one-hot labels: the median angle is 0.3 rad < pi/4, so cos(0.3) divides
    cos = torch.cos(torch.tensor([[0.2, 2.0], [1.5, 0.3], [0.4, 1.9]], dtype=torch.float64))
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    s = 1.0
    top = float((s * cos).max())
    b = float(torch.exp(s * cos - top).sum(1).mean())
    expected = (top + math.log(b)) / math.cos(0.3)
    assert float(adaptive_scale(cos, y, s, k=1)) == pytest.approx(expected, rel=1e-9)


def test_initial_scale_and_its_limits():
    head = SubClusterAdaCos(8, n_classes=5, k=4)
    assert float(head.s) == pytest.approx(math.sqrt(2) * math.log(19))
    assert initial_scale(2) == 0.0
    with pytest.raises(ValueError, match="at least 2 centers"):
        SubClusterAdaCos(8, n_classes=1, k=1)
    with pytest.raises(ValueError, match="unknown angle rule 'median'"):
        SubClusterAdaCos(8, 3, 2, angle="median")


def test_summed_subcluster_probabilities_equal_the_class_probability():
    torch.manual_seed(0)
    head = SubClusterAdaCos(6, n_classes=3, k=4).double().eval()
    emb = torch.randn(5, 6, dtype=torch.float64)
    e = emb / emb.norm(dim=1, keepdim=True)
    w = head.weight / head.weight.norm(dim=1, keepdim=True)
    p = torch.softmax(head.s * e @ w.T, dim=1)                    # (5, 12) sub-cluster probabilities
    expected = torch.stack([p[:, 4 * c:4 * c + 4].sum(1) for c in range(3)], dim=1)
    got = head(emb).exp()
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.allclose(got.sum(1), torch.ones(5, dtype=torch.float64))
    assert head.class_centers().shape == (3, 4, 6)


def test_training_forward_updates_s_first_and_no_gradient_flows_through_it():
    torch.manual_seed(1)
    head = SubClusterAdaCos(6, n_classes=2, k=2).double().train()
    emb = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    s_before = float(head.s)
    cos = head.cosine(emb).detach()
    expected_s = hand_scale(cos, TARGETS, s_before, 2, "reference")
    loss = head.loss(emb, TARGETS)
    assert float(head.s) == pytest.approx(expected_s, rel=1e-9)
    assert not head.s.requires_grad and "s" in dict(head.named_buffers())
    loss.backward()
    # the same loss with s as a plain constant gives the same gradients: s is not differentiated
    emb2 = emb.detach().clone().requires_grad_(True)
    w = head.weight.detach().clone().requires_grad_(True)
    logits = expected_s * torch.nn.functional.normalize(emb2, dim=1) @ torch.nn.functional.normalize(w, dim=1).T
    logp = logits.reshape(4, 2, 2).logsumexp(2) - logits.logsumexp(1, keepdim=True)
    (-(TARGETS * logp).sum(1).mean()).backward()
    assert torch.allclose(emb.grad, emb2.grad, atol=1e-12)
    assert torch.allclose(head.weight.grad, w.grad, atol=1e-12)
    head.eval()
    head(emb, TARGETS)
    assert float(head.s) == pytest.approx(expected_s, rel=1e-12)  # no update outside training


@pytest.mark.parametrize("trainable", [False, True])
def test_frozen_centers_do_not_move_in_an_optimizer_step(trainable):
    torch.manual_seed(2)
    head = SubClusterAdaCos(6, n_classes=3, k=2, trainable=trainable)
    lin = torch.nn.Linear(4, 6)
    opt = torch.optim.Adam(list(lin.parameters()) + list(head.parameters()), lr=0.1, weight_decay=0.1)
    before, lin_before = head.weight.detach().clone(), lin.weight.detach().clone()
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 1]), 3).float()
    head.loss(lin(torch.randn(4, 4)), y).backward()
    opt.step()
    assert not torch.equal(lin.weight, lin_before)
    assert torch.equal(head.weight, before) != trainable


def test_mixup_partner_is_the_reversed_batch_with_one_lambda_per_sample():
    x = torch.arange(5, dtype=torch.float32).reshape(5, 1, 1) * torch.ones(5, 2, 3)
    y = torch.eye(5)
    mixed, (ym,), lam = mixup_reversed(x, [y], generator=torch.Generator().manual_seed(0))
    assert lam.shape == (5,) and ((lam >= 0) & (lam < 1)).all() and len(set(lam.tolist())) == 5
    for i in range(5):
        j = 4 - i
        assert torch.allclose(mixed[i], lam[i] * x[i] + (1 - lam[i]) * x[j])
        assert torch.allclose(ym[i], lam[i] * y[i] + (1 - lam[i]) * y[j])
    again, _, lam2 = mixup_reversed(x, [y], generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, mixed) and torch.equal(lam, lam2)


def test_modified_resnet_follows_table_1():
    net = ModifiedResNet().eval()
    x = torch.randn(2, 128, 313)
    stem = net.stem(x.transpose(1, 2).unsqueeze(1))
    assert stem.shape == (2, 16, 78, 31)
    shapes = []
    h = stem
    for i in range(0, 8, 2):
        h = net.blocks[i + 1](net.blocks[i](h))
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(16, 78, 31), (32, 39, 16), (64, 20, 8), (128, 10, 4)]
    assert net.embed.in_features == 512 and net(x).shape == (2, 128)
    small = ModifiedResNet(width=0.25)
    assert small.channels == (4, 8, 16, 32) and small(torch.randn(3, 128, 40)).shape == (3, 128)
    with pytest.raises(ValueError, match=r"expected log-mels \(B, 128, T\)"):
        net(torch.randn(2, 64, 100))
