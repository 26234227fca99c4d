"""The AE methods save clip embeddings: the mean bottleneck code of each clip."""

import numpy as np
import pandas as pd
import torch

from asdlab.artifacts.embeddings import load_embeddings
from asdlab.features import stack_frames
from asdlab.features.frames import StackedFrames
from asdlab.methods.autoencoder import clip_passes
from asdlab.nn.ae import DenseAutoEncoder


def test_clip_passes_give_each_clips_residuals_and_mean_code_across_chunk_boundaries():
    torch.manual_seed(0)
    model = DenseAutoEncoder(input_dim=3 * 4, hidden=16, n_layers=2, bottleneck=4).eval()
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(4, t)).astype(np.float32) for t in (5, 3, 11, 4)]  # 3, 1, 9, 2 vectors
    for chunk in (4, 1, 100):  # chunks cut across clips, one vector per chunk, one chunk for all
        out = list(clip_passes(model, StackedFrames(mels, 3), chunk=chunk))
        assert len(out) == 4
        with torch.no_grad():
            for mel, (res, code) in zip(mels, out):
                x = torch.from_numpy(stack_frames(mel, 3))
                assert res.shape == x.shape and res.dtype == np.float32 and code.shape == (4,)
                np.testing.assert_allclose(res, (x - model(x)).numpy(), rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(code, model.encode(x).mean(0).numpy(), rtol=1e-5, atol=1e-6)
    assert list(clip_passes(model, StackedFrames([], 3))) == []


def test_ae_runs_save_train_and_test_embeddings(tmp_path):
    from asdlab.runs import run_method
    from asdlab.data.synth import generate_dataset

    data = generate_dataset(tmp_path / "data", preset="smoke", machines=["fan"], progress=False)
    mse = run_method("ae_mse", data, tmp_path / "mse", preset="smoke", progress=False)
    emb = load_embeddings(mse)
    scores = pd.concat([pd.read_csv(mse / "train_scores.csv"), pd.read_csv(mse / "scores.csv")])
    meta = emb["meta"]
    assert emb["embeddings"].shape == (len(scores), 8) and emb["centers"] is None
    assert sorted(meta["file"]) == sorted(scores["file"])
    assert (meta["split"] == "train").sum() == 19 and (meta["class_index"] == -1).all()
    assert np.isfinite(emb["embeddings"]).all() and (emb["embeddings"] >= 0).all()  # after the ReLU
    assert emb["embeddings"].std(axis=0).max() > 0  # clips differ
    # ae_mahala reuses the same AE (model cache), so its embeddings are the same
    maha = load_embeddings(run_method("ae_mahala", data, tmp_path / "maha", preset="smoke", progress=False))
    np.testing.assert_array_equal(maha["embeddings"], emb["embeddings"])
    # ... and both runs carry the training history of that AE, 3 smoke epochs per machine
    h_mse, h_maha = pd.read_csv(mse / "history.csv"), pd.read_csv(tmp_path / "maha" / "history.csv")
    pd.testing.assert_frame_equal(h_mse, h_maha)
    assert list(h_mse["epoch"]) == [0, 1, 2] and set(h_mse["machine"]) == {"fan"}
    assert (h_mse["train_loss"] > 0).all() and h_mse["val_loss"].notna().all()
