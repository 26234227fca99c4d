"""EfficientNet-B0-style CNN: scaling rules, parameter count, shapes, GAMP, SE and MBConv."""

import numpy as np
import pytest
import torch

from asdlab.nn.efficientnet import B0_STAGES, EfficientNet, MBConv, SqueezeExcitation, round_filters, round_repeats


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_scaling_rules():
    assert round_filters(32, 1.0) == 32 and round_filters(1280, 1.0) == 1280
    assert round_filters(1280, 0.25) == 320 and round_filters(16, 0.25) == 8   # at least the divisor
    assert round_filters(40, 0.25) == 16        # 10 -> 8 loses 20 % -> bumped to 16
    assert round_filters(112, 0.5) == 56 and round_filters(40, 1.1) == 48   # B2-style widening
    assert [round_repeats(r, 1.0) for _, _, r, _, _ in B0_STAGES] == [1, 2, 2, 3, 3, 4, 1]
    assert [round_repeats(r, 0.34) for _, _, r, _, _ in B0_STAGES] == [1, 1, 1, 2, 2, 2, 1]
    assert round_repeats(3, 1.2) == 4


def test_full_b0_trunk_parameter_count():
    # torchvision's B0: 5,288,548 = 4,007,548 trunk (3 input channels) + 1,281,000 classifier;
    # one input channel saves 2 x 9 x 32 = 576 stem weights
    net = EfficientNet()
    assert n_params(net) == 4_006_972
    assert n_params(EfficientNet(in_channels=3)) == 4_007_548
    assert net.out_dim == 1280 and len(net.blocks) == 16
    assert net.stem[0].in_channels == 1
    kernels = [b.depthwise[0].kernel_size[0] for b in net.blocks]
    assert kernels == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]


def test_small_preset_network_and_shapes():
    torch.manual_seed(0)
    net = EfficientNet(width=0.25, depth=0.25, bn_momentum=0.1).eval()
    assert net.out_dim == 320 and len(net.blocks) == 7 and n_params(net) < 200_000
    for t in (17, 64, 100):                             # any number of frames
        assert net(torch.randn(2, 128, t)).shape == (2, 320)
    assert net.feature_map(torch.randn(2, 128, 64)).shape == (2, 320, 4, 2)   # stride 32
    assert net(torch.randn(3, 1, 40, 50)).shape == (3, 320)
    with pytest.raises(ValueError, match="expected 1 input channel"):
        net(torch.randn(2, 3, 64, 64))


def test_pooling_is_global_mean_plus_max():
    torch.manual_seed(1)
    net = EfficientNet(width=0.25, depth=0.25).eval()
    x = torch.randn(2, 64, 96)
    fmap = net.feature_map(x).detach().numpy()
    expected = fmap.mean(axis=(2, 3)) + fmap.max(axis=(2, 3))
    np.testing.assert_allclose(net(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_squeeze_excitation_against_a_hand_computation():
    torch.manual_seed(2)
    se = SqueezeExcitation(6, 2)
    x = torch.randn(2, 6, 3, 4)
    w1, b1 = se.reduce.weight[:, :, 0, 0].detach().numpy(), se.reduce.bias.detach().numpy()
    w2, b2 = se.expand.weight[:, :, 0, 0].detach().numpy(), se.expand.bias.detach().numpy()
    xn = x.numpy()
    s = xn.mean(axis=(2, 3))                       # (2, 6)
    h = s @ w1.T + b1
    h = h / (1 + np.exp(-h))                       # SiLU
    gate = 1 / (1 + np.exp(-(h @ w2.T + b2)))      # (2, 6)
    np.testing.assert_allclose(se(x).detach().numpy(), xn * gate[:, :, None, None], rtol=1e-5, atol=1e-6)


def test_mbconv_residual_and_strides():
    torch.manual_seed(3)
    block = MBConv(16, 16, 6, 3, 1).eval()
    assert block.residual
    torch.nn.init.zeros_(block.project[1].weight)  # the branch outputs its BN bias (0): identity
    x = torch.randn(2, 16, 8, 10)
    torch.testing.assert_close(block(x), x)
    down = MBConv(16, 24, 6, 5, 2)
    assert not down.residual and down(x).shape == (2, 24, 4, 5)
    assert isinstance(MBConv(16, 16, 1, 3, 1).expand, torch.nn.Identity)   # expand 1: no 1x1 conv
    assert block.se.reduce.out_channels == 4       # SE squeezes to c_in / 4


def test_drop_path_only_in_training():
    torch.manual_seed(4)
    net = EfficientNet(width=0.25, depth=1.0, drop_path=0.5)
    assert net.blocks[0].drop_path == 0 and net.blocks[-1].drop_path == pytest.approx(0.5 * 15 / 16)
    x = torch.randn(4, 64, 64)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    torch.manual_seed(0)
    a = net(x)
    torch.manual_seed(0)
    torch.testing.assert_close(net(x), a)          # seeded: reproducible
