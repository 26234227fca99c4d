import pytest
import torch

from asdlab.features import LogMelParams
from asdlab.nn.frontends import STgram, TASTgram
from asdlab.nn.mobilefacenet import GramMFN, MobileFaceNet, scaled_channels


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("in_channels", [2, 3])
@pytest.mark.parametrize("n_frames", [5, 63, 247, 313, 376])
def test_embedding_shape_for_any_number_of_frames(in_channels, n_frames):
    net = MobileFaceNet(in_channels, embedding_dim=128, width=0.25)
    x = torch.randn(3, in_channels, 32, n_frames)
    emb = net(x)
    assert emb.shape == (3, 128)
    assert torch.isfinite(emb).all()


def test_ten_second_map_reaches_the_gdconv_unpooled():
    net = MobileFaceNet(3, width=0.25).eval()
    shapes = []
    net.expand.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(out.shape[-2:])))
    net(torch.randn(1, 3, 128, 313))
    assert shapes == [net.gdconv_size] == [(8, 20)]


def test_full_width_parameter_count_is_close_to_the_reference():
    # reference TASTgram-MFN for 41 classes: ~1.16 M, including an unused fc_out (128 x 41 + 41)
    # and per-frame LayerNorm(313) affines; ours: per-channel affines, no fc_out
    model = GramMFN(TASTgram(), n_classes=41)
    n = _count(model)
    assert n == 1_155_456
    assert abs(n - 1.16e6) / 1.16e6 < 0.01
    assert _count(GramMFN(STgram(), n_classes=41)) == n - 9 * 64  # one input channel fewer


def test_width_shrinks_the_encoder_not_the_embedding():
    assert [scaled_channels(c, 0.25) for c in (64, 128, 512)] == [16, 32, 128]
    assert scaled_channels(64, 0.01) == 8
    full, small = MobileFaceNet(3), MobileFaceNet(3, width=0.25)
    assert _count(small) < _count(full) / 5
    assert small(torch.randn(2, 3, 32, 40)).shape == (2, 128)


def test_gram_mfn_embeds_waves_with_or_without_a_given_log_mel():
    mel = LogMelParams(n_fft=256, hop=128, n_mels=32)
    model = GramMFN(TASTgram(mel, tgram_win_length=256), n_classes=5, width=0.25,
                    embedding_dim=16)
    wave = 0.1 * torch.randn(4, 4000)
    assert model(wave).shape == (4, 16)
    logmel = torch.randn(4, 32, 1 + 4000 // 128)
    assert model(wave, logmel).shape == (4, 16)
    assert model.head.weight.shape == (5, 16)
    model.eval()
    assert model(wave[:1]).shape == (1, 16)  # one clip in eval mode


def test_channels_last_activations_compute_what_the_contiguous_layout_does():
    """MobileFaceNet runs in channels-last layout for speed; the numbers stay those of the plain
    layout (to float rounding), in training and in eval mode, and the weights keep their layout."""
    torch.manual_seed(0)
    net = MobileFaceNet(in_channels=3, embedding_dim=16, width=0.25)
    x = torch.randn(4, 3, 64, 40)

    def plain(m, t):  # the same layers on contiguous activations
        t = m.expand(m.blocks(m.stem(t)))
        return m.embed(m.gdconv(torch.nn.functional.adaptive_avg_pool2d(t, m.gdconv_size)))

    for mode in (net.train, net.eval):
        mode()
        torch.manual_seed(1)
        fast = net(x)
        torch.manual_seed(1)
        ref = plain(net, x.contiguous())
        torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5)
    assert all(p.is_contiguous() for p in net.parameters())
