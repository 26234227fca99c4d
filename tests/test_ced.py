"""CED-style encoder: front end, shapes, parameter counts, checkpoint loading."""

import pytest
import torch

from asdlab.core.errors import ConfigError
from asdlab.nn.ced import SIZES, CED, Block, CEDFrontEnd, count_parameters, load_checkpoint, n_patches


@pytest.mark.parametrize("seconds, frames", [(1.0, 101), (10.0, 1001)])
def test_front_end_is_64_mel_hop_160_with_120_db_range(seconds, frames):
    wave = torch.zeros(2, int(seconds * 16000))
    wave[0, ::97] = 1.0  # impulses: a wide dB range
    wave[1] = 0.1 * torch.randn(wave.shape[1])
    mel = CEDFrontEnd()(wave)
    assert mel.shape == (2, 64, frames)
    span = mel.amax(dim=(1, 2)) - mel.amin(dim=(1, 2))
    assert (span <= 120.0 + 1e-4).all()
    assert n_patches(seconds) == 4 * (frames // 16)


@pytest.mark.parametrize("seconds", [0.5, 2.0, 10.0, 12.0])
def test_embedding_shape_for_any_clip_length(seconds):
    torch.manual_seed(0)
    model = CED("nano").eval()
    with torch.no_grad():
        emb = model(0.1 * torch.randn(3, int(seconds * 16000)))
    assert emb.shape == (3, 64) and torch.isfinite(emb).all()


def test_long_clips_average_chunk_embeddings():
    torch.manual_seed(0)
    model = CED("nano", target_length=64).eval()  # 4 time patches per chunk
    mel = torch.randn(2, 64, 128)  # exactly two chunks
    with torch.no_grad():
        whole = model.forward_mel(mel)
        x = model.normalize(mel)
        parts = [model.tokens(c).mean(1) for c in x.split(64, dim=-1)]
    assert torch.allclose(whole, (parts[0] + parts[1]) / 2, atol=1e-5)


def test_too_short_a_clip_is_a_clear_error():
    with pytest.raises(ValueError, match="shorter than one 16-frame patch"):
        CED("nano")(torch.zeros(1, 1600))


def test_batch_norm_is_over_mel_bins():
    model = CED("nano")
    assert model.init_bn.num_features == 64 and model.patch_embed.proj.kernel_size == (16, 16)
    assert model.time_pos_embed.shape == (1, 64, 1, 63) and model.freq_pos_embed.shape == (1, 64, 4, 1)


def test_parameter_counts_match_the_published_sizes():
    tiny = count_parameters(CED("tiny"))
    assert SIZES["tiny"] == (192, 3, 12) and SIZES["base"] == (768, 12, 12)
    # base is built with one block and completed with 11 more (building 85 M parameters is slow)
    base = count_parameters(CED("base", depth=1)) + 11 * count_parameters(Block(768, 12))
    for n, dim, published in ((tiny, 192, 5.5e6), (base, 768, 86e6)):
        assert abs(n - published) / published < 0.03
        # CED's figures include its AudioSet output layer: LayerNorm + Linear(dim, 527)
        assert abs(n + 2 * dim + dim * 527 + 527 - published) / published < 0.01


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    a = CED("nano", bn_momentum=None)
    a.train()(0.1 * torch.randn(4, 16000))  # move the batch-norm statistics off their init
    torch.save(a.state_dict(), tmp_path / "enc.pt")
    b = CED("nano")
    info = load_checkpoint(b, tmp_path / "enc.pt")
    assert info["loaded"] == len(a.state_dict()) and info["ignored"] == []
    x = 0.1 * torch.randn(2, 16000)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))


def test_published_key_names_are_mapped(tmp_path):
    torch.manual_seed(0)
    a = CED("nano")
    original = {k.replace("init_bn.", "init_bn.1."): v for k, v in a.state_dict().items()}
    original["front_end.0.mel_scale.fb"] = torch.zeros(257, 64)
    original["outputlayer.1.weight"] = torch.zeros(527, 64)
    torch.save({"model": original}, tmp_path / "orig.pt")
    b = CED("nano")
    info = load_checkpoint(b, tmp_path / "orig.pt")
    assert sorted(info["ignored"]) == ["front_end.0.mel_scale.fb", "outputlayer.1.weight"]
    assert torch.equal(b.blocks[1].mlp.fc2.weight, a.blocks[1].mlp.fc2.weight)
    hf = {f"encoder.{k}": v for k, v in a.state_dict().items()}
    hf["encoder.time_pos_embed"] = torch.cat([hf["encoder.time_pos_embed"]] * 2, dim=-1)  # longer: cut
    torch.save(hf, tmp_path / "hf.pt")
    c = CED("nano")
    load_checkpoint(c, tmp_path / "hf.pt")
    assert torch.equal(c.time_pos_embed, a.time_pos_embed)


def test_a_wrong_checkpoint_is_a_clear_error(tmp_path):
    torch.save(CED("micro").state_dict(), tmp_path / "micro.pt")
    with pytest.raises(ConfigError, match=r"micro\.pt does not fit a CED-nano encoder.*"
                                          r"unexpected keys: blocks\.2\..*shape mismatches"):
        load_checkpoint(CED("nano"), tmp_path / "micro.pt")
    with pytest.raises(ConfigError, match="missing.pt not found.*never downloads"):
        load_checkpoint(CED("nano"), tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="junk.pt: not a readable torch checkpoint"):
        load_checkpoint(CED("nano"), tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match="unknown CED size 'huge'"):
        CED("huge")
