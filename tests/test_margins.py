"""Heads, margin losses and scores (asdlab.nn.margins) and mixup (asdlab.nn.mixup)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asdlab.features import LogMelParams
from asdlab.nn.frontends import TASTgram
from asdlab.nn.margins import (
    LOSSES,
    MIXUP_LOSSES,
    CosineHead,
    LinearHead,
    angular_margin,
    arcface_logits,
    arcface_loss,
    arcmix_loss,
    ce_loss,
    cosine_distance_to_center,
    linear_ce_loss,
    linear_neg_log_softmax_score,
    neg_log_softmax_score,
    noisy_arcmix_loss,
)
from asdlab.nn.mixup import mix, mixup_batch, sample_lambda
from asdlab.nn.mobilefacenet import GramMFN

S, M = 30.0, 0.7


def _head_and_batch(seed=0, n=4, d=8, c=3):
    torch.manual_seed(seed)
    head = CosineHead(d, c)
    emb = torch.randn(n, d)
    return head, emb


def test_cosine_head_is_normalised_dot_product_and_centers_are_unit_rows():
    head, emb = _head_and_batch()
    w = head.weight.detach()
    expected = (emb / emb.norm(dim=1, keepdim=True)) @ (w / w.norm(dim=1, keepdim=True)).T
    assert torch.allclose(head.cosine(emb), expected, atol=1e-6)
    assert torch.allclose(head(emb), expected, atol=1e-6)
    assert torch.allclose(head.centers().norm(dim=1), torch.ones(3))


def test_arcface_logits_put_the_margin_only_on_the_target_column():
    cos = torch.tensor([[0.5, 0.2, -0.1],
                        [0.3, -0.9, 0.1],   # target -0.9 < cos(pi - 0.7): fallback branch
                        [0.1, 0.2, 0.95]])
    labels = torch.tensor([0, 1, 2])
    got = arcface_logits(cos, labels, s=S, m=M)
    assert math.cos(math.pi - M) == pytest.approx(-0.7648, abs=1e-4)
    expected = S * cos.clone()
    expected[0, 0] = S * math.cos(math.acos(0.5) + M)
    expected[1, 1] = S * (-0.9 - M * math.sin(math.pi - M))
    expected[2, 2] = S * math.cos(math.acos(0.95) + M)
    assert torch.allclose(got, expected, atol=1e-4)
    # the fallback keeps the target logit decreasing in theta instead of wrapping back up
    assert expected[1, 1] < S * math.cos(math.acos(-0.9) + M)


def test_easy_margin_leaves_non_positive_cosines_alone():
    cos = torch.tensor([-0.4, 0.0, 0.6])
    got = angular_margin(cos, M, easy_margin=True)
    assert got[0] == pytest.approx(-0.4) and got[1] == pytest.approx(0.0)
    assert got[2] == pytest.approx(math.cos(math.acos(0.6) + M), abs=1e-6)


def test_margin_gradient_is_finite_at_cosine_one():
    cos = torch.tensor([[1.0, 0.0]], requires_grad=True)
    arcface_logits(cos, torch.tensor([0])).sum().backward()
    assert torch.isfinite(cos.grad).all()


def test_ce_loss_is_cross_entropy_on_scaled_cosines_without_mixup():
    head, emb = _head_and_batch()
    y = torch.tensor([0, 1, 2, 1])
    expected = F.cross_entropy(S * head.cosine(emb), y)
    assert torch.allclose(ce_loss(head, emb, y, y, 1.0), expected)
    y_b = torch.tensor([2, 2, 0, 0])
    mixed = 0.3 * expected + 0.7 * F.cross_entropy(S * head.cosine(emb), y_b)
    assert torch.allclose(ce_loss(head, emb, y, y_b, 0.3), mixed)


def test_arcmix_and_noisy_arcmix_on_a_fixed_batch():
    head, emb = _head_and_batch(seed=3)
    y_a = torch.tensor([0, 1, 2, 1])
    y_b = torch.tensor([1, 1, 0, 2])  # partners; item 1 is mixed with its own class
    cos = head.cosine(emb)
    z_a, z_b = arcface_logits(cos, y_a, S, M), arcface_logits(cos, y_b, S, M)

    # lam = 1: both are ArcFace on y_a
    arcface = F.cross_entropy(z_a, y_a)
    for loss in (arcmix_loss, noisy_arcmix_loss, arcface_loss):
        assert torch.allclose(loss(head, emb, y_a, y_b, 1.0), arcface)

    lam = 0.3
    arcmix = arcmix_loss(head, emb, y_a, y_b, lam)
    noisy = noisy_arcmix_loss(head, emb, y_a, y_b, lam)
    assert torch.allclose(arcmix, lam * F.cross_entropy(z_a, y_a) + (1 - lam) * F.cross_entropy(z_b, y_b))
    assert torch.allclose(noisy, lam * F.cross_entropy(z_a, y_a) + (1 - lam) * F.cross_entropy(z_a, y_b))
    # they differ only through the y_b term: margin on y_b (ArcMix) vs on y_a (Noisy-ArcMix)
    diff = (1 - lam) * (F.cross_entropy(z_b, y_b) - F.cross_entropy(z_a, y_b))
    assert torch.allclose(arcmix - noisy, diff, atol=1e-5)
    assert abs(diff.item()) > 1e-3
    # per item: where y_b = y_a the two losses agree
    per_a = F.cross_entropy(z_b, y_b, reduction="none") - F.cross_entropy(z_a, y_b, reduction="none")
    assert per_a[1].abs() < 1e-5 and (per_a[[0, 2, 3]].abs() > 1e-3).all()


def test_arcface_refuses_a_mixed_batch():
    head, emb = _head_and_batch()
    y = torch.tensor([0, 1, 2, 1])
    with pytest.raises(ValueError, match="arcmix"):
        arcface_loss(head, emb, y, y.flip(0), 0.4)


def test_loss_registry():
    assert LOSSES == {"ce": ce_loss, "arcface": arcface_loss, "arcmix": arcmix_loss,
                      "noisy_arcmix": noisy_arcmix_loss}
    assert MIXUP_LOSSES == {"arcmix", "noisy_arcmix"}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_reach_front_end_encoder_and_class_weights(name):
    torch.manual_seed(0)
    mel = LogMelParams(n_fft=256, hop=128, n_mels=32)
    model = GramMFN(TASTgram(mel, tgram_win_length=256), n_classes=3, width=0.25,
                    embedding_dim=16)
    wave = 0.1 * torch.randn(6, 4000)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    logmel = model.frontend.sgram(wave)
    if name in MIXUP_LOSSES:
        wave, logmel, y_a, y_b, lam = mixup_batch(wave, logmel, labels, 0.5,
                                                  np.random.default_rng(1))
    else:
        y_a, y_b, lam = labels, labels, 1.0
    loss = LOSSES[name](model.head, model(wave, logmel), y_a, y_b, lam)
    loss.backward()
    assert torch.isfinite(loss)
    for part in (model.frontend.tgram, model.encoder, model.head):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    assert model.head.weight.grad.abs().sum() > 0


def test_scores_are_minus_log_softmax_with_margin_and_cosine_distance():
    head, emb = _head_and_batch(seed=5)
    y = torch.tensor([0, 1, 2, 0])
    cos = head.cosine(emb)
    with_margin = -F.log_softmax(arcface_logits(cos, y, S, M), dim=1).gather(1, y[:, None])[:, 0]
    assert torch.allclose(neg_log_softmax_score(head, emb, y), with_margin, atol=1e-5)
    plain = -F.log_softmax(S * cos, dim=1).gather(1, y[:, None])[:, 0]
    assert torch.allclose(neg_log_softmax_score(head, emb, y, margin=False), plain, atol=1e-5)
    assert (with_margin > plain).all()  # the margin lowers the own-class logit
    assert torch.allclose(cosine_distance_to_center(head, emb, y),
                          1 - cos[torch.arange(4), y], atol=1e-6)
    on_center = head.weight.detach()[[0]] * 2.0
    assert cosine_distance_to_center(head, on_center, torch.tensor([0])).abs() < 1e-6


def _linear_head():
    head = LinearHead(2, 3)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, 2.0], [-1.0, 0.0]]))
        head.bias.copy_(torch.tensor([0.5, -1.0, 0.0]))
    return head


def test_linear_head_logits_loss_and_centers_against_a_hand_computation():
    head = _linear_head()
    assert isinstance(head, torch.nn.Linear) and head.bias.shape == (3,)
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits W e + b: row 0 = (3 + 0.5, 0 - 1, -1 + 0), row 1 = (4 + 0.5, 2 - 1, 0)
    z0, z1 = [3.5, -1.0, -1.0], [4.5, 1.0, 0.0]
    assert torch.allclose(head(emb), torch.tensor([z0, z1]))

    def nll(z, k):  # minus the log-softmax at class k
        return math.log(sum(math.exp(v) for v in z)) - z[k]

    y_a, y_b = torch.tensor([0, 1]), torch.tensor([2, 0])
    clean = (nll(z0, 0) + nll(z1, 1)) / 2
    assert linear_ce_loss(head, emb, y_a, y_a, 1.0).item() == pytest.approx(clean, rel=1e-6)
    mixed = 0.3 * clean + 0.7 * (nll(z0, 2) + nll(z1, 0)) / 2
    assert linear_ce_loss(head, emb, y_a, y_b, 0.3, s=S, m=M).item() == pytest.approx(mixed, rel=1e-6)
    assert linear_neg_log_softmax_score(head, emb, y_a).tolist() == pytest.approx([nll(z0, 0), nll(z1, 1)], rel=1e-6)
    # the centers are the rows of W normalised; the cosine is the angle view of the same rows
    assert torch.allclose(head.centers(), torch.tensor([[0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]]))
    assert torch.allclose(head.cosine(emb), torch.tensor([[0.6, 0.0, -1.0], [0.8, 1.0, 0.0]]))
    assert torch.allclose(cosine_distance_to_center(head, emb, y_a), torch.tensor([0.4, 0.0]))


def test_gram_mfn_with_a_linear_head_trains_every_part():
    torch.manual_seed(0)
    mel = LogMelParams(n_fft=256, hop=128, n_mels=32)
    model = GramMFN(TASTgram(mel, tgram_win_length=256), n_classes=3, width=0.25, embedding_dim=16,
                    head="linear")
    assert isinstance(model.head, LinearHead)
    wave, y = 0.1 * torch.randn(6, 4000), torch.tensor([0, 1, 2, 0, 1, 2])
    linear_ce_loss(model.head, model(wave), y, y, 1.0).backward()
    assert model.head.weight.grad.abs().sum() > 0 and model.head.bias.grad.abs().sum() > 0
    assert sum(float(p.grad.abs().sum()) for p in model.encoder.parameters()) > 0
    with pytest.raises(ValueError, match="head='softmax': choose from cosine, linear"):
        GramMFN(TASTgram(mel, tgram_win_length=256), n_classes=3, head="softmax")


def test_lambda_is_seeded_in_unit_interval_and_beta_shaped():
    a = [sample_lambda(0.5, np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    lams = np.array([sample_lambda(0.5, rng) for _ in range(4000)])
    assert ((lams >= 0) & (lams <= 1)).all()
    assert abs(lams.mean() - 0.5) < 0.03
    # Beta(0.5, 0.5) is U-shaped: P(lam < 0.1 or lam > 0.9) = 2 asin(sqrt(0.1)) * 2 / pi ~ 0.41
    assert abs(((lams < 0.1) | (lams > 0.9)).mean() - 0.41) < 0.04
    assert sample_lambda(0.0) == 1.0


def test_mixup_mixes_wave_and_log_mel_with_the_same_lambda_and_permutation():
    wave, logmel = torch.randn(8, 100), torch.randn(8, 4, 5)
    labels = torch.arange(8) * 10  # distinct labels reveal the permutation
    mw, mm, y_a, y_b, lam = mixup_batch(wave, logmel, labels, 0.5, np.random.default_rng(3))
    perm = y_b // 10
    assert 0.0 <= lam <= 1.0
    assert torch.equal(y_a, labels) and sorted(perm.tolist()) == list(range(8))
    assert torch.allclose(mw, lam * wave + (1 - lam) * wave[perm])
    assert torch.allclose(mm, lam * logmel + (1 - lam) * logmel[perm])
    assert torch.equal(mix(wave, lam, perm), mw)
    again = mixup_batch(wave, logmel, labels, 0.5, np.random.default_rng(3))
    assert again[4] == lam and torch.equal(again[3], y_b)


def test_mixup_without_generator_follows_torch_seed():
    wave, logmel, labels = torch.randn(6, 10), torch.randn(6, 2, 3), torch.arange(6)
    torch.manual_seed(11)
    first = mixup_batch(wave, logmel, labels)
    torch.manual_seed(11)
    second = mixup_batch(wave, logmel, labels)
    assert first[4] == second[4] and torch.equal(first[3], second[3])
