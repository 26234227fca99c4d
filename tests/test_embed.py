"""asdlab.train.embed: whole-clip embeddings under each crop policy, by hand with toy models."""

import numpy as np
import pytest
import torch

from asdlab.core.errors import ConfigError
from asdlab.train.embed import CROP_POLICIES, embed, embed_arrays

N = 8  # crop length of the toy linear encoder


def linear_encoder() -> tuple[torch.nn.Module, np.ndarray]:
    """``(B, N) -> (B, 3)``, ``x @ W.T`` with known weights ``W`` (3, N)."""
    w = np.arange(3 * N, dtype=np.float32).reshape(3, N) / 10 - 1
    model = torch.nn.Linear(N, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w))
    return model, w


class Stats(torch.nn.Module):
    """Takes any length: ``(B, n) -> (B, 3)`` = mean, max and first sample of each clip."""

    def forward(self, x):
        return torch.stack([x.mean(dim=1), x.amax(dim=1), x[:, 0]], dim=1)


def waves(*lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n).astype(np.float32) for n in lengths]


def test_first_takes_the_first_samples_and_tiles_short_clips():
    model, w = linear_encoder()
    clips = waves(5, 8, 12, 20)
    got = embed(model, clips, N, "first", batch_size=3)  # two batches
    first = [np.tile(clips[0], 2)[:N], clips[1], clips[2][:N], clips[3][:N]]
    assert got.dtype == np.float32 and got.shape == (4, 3)
    np.testing.assert_allclose(got, np.stack(first) @ w.T, rtol=1e-5, atol=1e-6)


def test_all_is_the_mean_over_crops_covering_the_clip():
    model, w = linear_encoder()
    clips = waves(20, 5, 8)
    got = embed(model, clips, N, "all", batch_size=2)  # crops of several clips share batches
    c = clips[0]
    crops = [c[0:8], c[8:16], c[12:20]]  # consecutive crops, the last one aligned to the end
    expected = [np.mean([x @ w.T for x in crops], axis=0),
                np.tile(clips[1], 2)[:N] @ w.T,  # shorter than a crop: one copy-padded crop
                clips[2] @ w.T]
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-5, atol=1e-6)
    hop4 = embed(model, clips[:1], N, "all", hop=4)  # overlapping crops at 0, 4, 8, 12
    np.testing.assert_allclose(hop4[0], np.mean([c[s:s + N] @ w.T for s in (0, 4, 8, 12)], axis=0),
                               rtol=1e-5, atol=1e-6)


def test_all_equals_first_for_clips_of_one_crop():
    model, _ = linear_encoder()
    clips = waves(8, 3, 8)
    np.testing.assert_array_equal(embed(model, clips, N, "all"), embed(model, clips, N, "first"))


def test_whole_batches_clips_by_length_and_keeps_their_order():
    clips = waves(4, 7, 4, 9)
    got = embed(Stats(), clips, None, "whole", batch_size=2)
    expected = [[c.mean(), c.max(), c[0]] for c in clips]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_no_clips_and_bad_arguments():
    model, _ = linear_encoder()
    for policy in CROP_POLICIES:
        out = embed(model, [], None if policy == "whole" else N, policy, embedding_dim=3)
        assert out.shape == (0, 3) and out.dtype == np.float32
    with pytest.raises(ConfigError, match="unknown crop policy 'middle'; choose from first, all, whole"):
        embed(model, waves(8), N, "middle")
    with pytest.raises(ConfigError, match="crop policy 'whole' needs n_samples None"):
        embed(Stats(), waves(8), N, "whole")
    with pytest.raises(ConfigError, match="crop policy 'first' needs n_samples > 0"):
        embed(model, waves(8), None, "first")
    with pytest.raises(ConfigError, match="n_samples must be positive, got 0"):
        embed(model, waves(8), 0, "all")


def test_embed_arrays_runs_in_eval_mode_in_batches():
    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.9))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    model.train()
    got = embed_arrays(model, x, batch_size=2)
    with torch.no_grad():
        expected = model[0](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)  # no dropout: eval mode
    assert embed_arrays(model, x[:0], embedding_dim=2).shape == (0, 2)
