"""The official DCASE AutoEncoder baseline (DCASE 2020-2024 Task 2): ``ae_mse`` and ``ae_mahala``.

One dense AE per machine type on 5-frame log-mel vectors ``(n_frames * n_mels,)``, scored by the
mean squared reconstruction error or the selective Mahalanobis score of its residuals; the
embeddings are each clip's mean 8-d bottleneck code ``(N, bottleneck)``. Pipeline, parameters
and presets: ``docs/methods/autoencoder.md``.
"""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pandas as pd
import torch

from asdlab.core.atomic import atomic_write_text
from asdlab.backends import get_backend, mse_score
from asdlab.backends.residual import ResidualMoments, clip_mean_residual
from asdlab.features.cache import file_key
from asdlab.artifacts.residuals import save_residuals
from asdlab.core.errors import DataError
from asdlab.features.frames import StackedFrames, fix_frames
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, log_mels, register
from asdlab.core.schema import Float, Int, Schema
from asdlab.nn.ae import DenseAutoEncoder
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device
from asdlab.train.model_cache import compute_key, model_key

_BASE = dict(n_mels=128, n_fft=1024, hop=512, n_frames=5, hidden=128, n_layers=4,
             bottleneck=8, batch_size=256, lr=1e-3, val_fraction=0.1, ridge=1e-3)
PRESETS = {
    "smoke": {**_BASE, "epochs": 3},
    "course": {**_BASE, "epochs": 30},
    "paper": {**_BASE, "epochs": 100},  # the official hyperparameters
}
SCHEMA = Schema({
    "n_mels": Int(1), "n_fft": Int(1), "hop": Int(1), "n_frames": Int(1), "hidden": Int(1),
    "n_layers": Int(1), "bottleneck": Int(1), "batch_size": Int(1), "lr": Float(0, min_open=True),
    "val_fraction": Float(0, 1, max_open=True), "ridge": Float(0), "epochs": Int(1)})
_TRAIN_KEYS = ("n_mels", "n_fft", "hop", "n_frames", "hidden", "n_layers", "bottleneck",
               "batch_size", "lr", "val_fraction", "epochs")


def _model_key(ctx: RunContext, machine: str, train_paths: list[str]) -> str:
    # the channel policy enters the key when it is not the default 0, so models cached before
    # the policy existed (mono factory data: channel 0 = the old channel mean) stay valid;
    # "compute" (device type, CPU thread count) entered it with issue 16: models cached before
    # are no longer found and are retrained once
    channel = {} if ctx.channel == 0 else {"channel": ctx.channel}
    return model_key({"params": {k: ctx.params[k] for k in _TRAIN_KEYS}, "seed": ctx.seed,
                      "machine": machine, "files": [file_key(p) for p in train_paths], **channel,
                      "compute": compute_key(ctx.device)})


def _train_or_load(ctx: RunContext, machine: str, train_paths: list[str],
                   vectors: StackedFrames) -> tuple[DenseAutoEncoder, pd.DataFrame | None]:
    """The machine's AE from the model cache, or trained and cached; with its per-epoch training
    history (None for models cached before histories were kept)."""
    p = ctx.params
    torch.manual_seed(ctx.seed)
    model = DenseAutoEncoder(vectors.dim, p["hidden"], p["n_layers"], p["bottleneck"])
    cached = ctx.cache_dir / "models" / "ae" / f"{_model_key(ctx, machine, train_paths)}.pt"
    history_file = cached.with_suffix(".history.csv")
    if cached.exists():
        model.load_state_dict(torch.load(cached, map_location="cpu"))
    else:
        cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                          optimizer="adam", val_fraction=p["val_fraction"], seed=ctx.seed)
        result = fit(model, len(vectors), lambda idx, train: (torch.from_numpy(vectors.take(idx.numpy())),),
            lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[0]), cfg, device=ctx.device,
            checkpoint=ctx.workdir / "train" / f"{machine}.ckpt", progress=ctx.progress,
            desc=f"AE {machine}")
        model.cpu()
        atomic_write_text(history_file, pd.DataFrame(result.history).to_csv(index=False))
        atomic_torch_save(model.state_dict(), cached)
        shutil.rmtree(ctx.workdir / "train", ignore_errors=True)
    (ctx.workdir / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, ctx.workdir / "checkpoints" / f"{machine}.pt")
    history = pd.read_csv(history_file).assign(machine=machine) if history_file.exists() else None
    return model.eval(), history


@torch.no_grad()
def clip_passes(model: DenseAutoEncoder, frames: StackedFrames, device: str = "cpu",
                chunk: int = 16384):
    """Yield, clip by clip, ``(residual, code)``: the reconstruction residuals ``x - AE(x)``
    ``(n_vectors_i, dim)`` float32 and the mean bottleneck code ``(bottleneck,)`` of the clip's
    vectors. The vectors go through the AE ``chunk`` at a time, across clip boundaries, so a
    run holds one chunk and one clip, never every vector of a machine."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    ends = np.cumsum(frames.counts)
    res_parts, code_parts, clip = [], [], 0
    for start in range(0, len(frames), chunk):
        stop = min(start + chunk, len(frames))
        x = torch.from_numpy(frames.take(np.arange(start, stop)))
        code = model.encode(x.to(dev))
        res, code = (x - model.decoder(code).cpu()).numpy(), code.cpu().numpy()
        lo = 0  # first row of this chunk not yet handed out
        while clip < len(ends) and ends[clip] <= stop:  # the clips that end in this chunk
            cut = int(ends[clip]) - start
            res_parts.append(res[lo:cut])
            code_parts.append(code[lo:cut])
            yield np.concatenate(res_parts), np.concatenate(code_parts).mean(axis=0)
            res_parts, code_parts, clip, lo = [], [], clip + 1, cut
        if lo < stop - start:  # the start of a clip that ends in a later chunk
            res_parts.append(res[lo:])
            code_parts.append(code[lo:])


def _run_autoencoder(ctx: RunContext, scorer: str) -> MethodOutput:
    p = ctx.params
    metas, emb, mse, mean, stats, skipped, histories = [], [], [], [], {}, [], []
    for machine, rows in ctx.table.groupby("machine", sort=True):
        feats, bad = log_mels(rows, ctx)
        skipped += bad
        keep = np.array([f is not None for f in feats])
        rows = rows[keep]
        # a clip shorter than n_frames frames is tiled to n_frames, as the other methods tile short clips
        feats = [fix_frames(f, p["n_frames"]) if f.shape[1] < p["n_frames"] else f for f in feats if f is not None]
        is_train = (rows["split"] == "train").to_numpy()
        if not is_train.any():
            raise DataError(f"machine {machine!r}: every training clip was unreadable "
                            "(the skipped files are listed above)")
        train_rows, test_rows = rows[is_train], rows[~is_train]
        # the log-mels held once each, side by side; the 5-frame vectors are built per batch
        train = StackedFrames([f for f, t in zip(feats, is_train) if t], p["n_frames"])
        test = StackedFrames([f for f, t in zip(feats, is_train) if not t], p["n_frames"])
        del feats
        model, history = _train_or_load(ctx, machine, list(train_rows["path"]), train)
        # the residual statistics of each (section, domain) of the training clips, accumulated
        # clip by clip; any domain but "target" counts as source
        keys = [(s, "target" if t else "source") for s, t in zip(train_rows["section"], train_rows["domain"] == "target")]
        groups = {key: ResidualMoments(p["n_mels"]) for key in set(keys)}
        for part, frames, group in ((train_rows, train, keys), (test_rows, test, None)):
            metas.append(clip_meta(part))
            clip_mse, clip_mean, codes = [], [], []
            for i, (res, code) in enumerate(clip_passes(model, frames, ctx.device)):
                clip_mse.append(mse_score([res])[0])
                clip_mean.append(clip_mean_residual(res, p["n_mels"]))
                codes.append(code)
                if group is not None:
                    groups[group[i]].add(res)
            mse.append(np.array(clip_mse, dtype=np.float64))
            mean.append(np.stack(clip_mean) if clip_mean else np.zeros((0, p["n_mels"]), np.float32))
            emb.append(np.stack(codes) if codes else np.zeros((0, p["bottleneck"]), np.float32))
        stats.update({(machine, *key): moments.stats() for key, moments in sorted(groups.items())})
        histories.append(history)
    meta, mse, mean = pd.concat(metas, ignore_index=True), np.concatenate(mse), np.concatenate(mean)
    artifacts = save_residuals(ctx.workdir, meta, mse, mean, stats)
    name, kwargs = _BACKENDS[scorer](p, ctx.seed)
    x = mse[:, None] if name == "mse" else mean
    backend = get_backend(name, **kwargs, **({} if name == "mse" else {"residual_stats": stats}))
    tr = (meta["split"] == "train").to_numpy()
    backend.fit(x[tr], meta[tr])
    s_train, s_test = backend.score(x[tr], meta[tr]), backend.score(x[~tr], meta[~tr])
    if histories and all(h is not None for h in histories):
        pd.concat(histories, ignore_index=True).to_csv(ctx.workdir / "history.csv", index=False)
        artifacts.append("history.csv")
    return finish(meta[tr], meta[~tr], s_train, s_test, embeddings=Embeddings(meta, np.concatenate(emb)),
                  skipped=skipped, artifacts=artifacts)


_BACKENDS = {"mse": lambda p, seed: ("mse", {}),
             "mahala": lambda p, seed: ("mahalanobis", {"on": "residuals", "ridge": p["ridge"]})}
"""The registered back end each AE method scores with (a clip's residual statistics)."""

register(Method("ae_mse", "official AutoEncoder baseline, mean squared reconstruction error",
                PRESETS, functools.partial(_run_autoencoder, scorer="mse"), SCHEMA, _BACKENDS["mse"]))
register(Method("ae_mahala", "official AutoEncoder baseline, selective Mahalanobis of residuals",
                PRESETS, functools.partial(_run_autoencoder, scorer="mahala"), SCHEMA, _BACKENDS["mahala"]))
