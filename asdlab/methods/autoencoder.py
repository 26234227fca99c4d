"""The official DCASE AutoEncoder baseline: ``ae_mse`` and ``ae_mahala``.

One AE per machine type, trained on the 5-frame log-mel vectors of all its training clips
(source and target together). Both methods train the same AE (same parameters and data give
the same model key), so the second one reuses the model from the cache instead of training
again. See ``shared/METHODS.md`` section 2.

Both also save per-clip embeddings (``embeddings.npy`` / ``embeddings.csv``, see
:mod:`asdlab.artifacts.embeddings`) for maps such as UMAP: the mean over a clip's 5-frame vectors of the
AE's 8-d bottleneck code (after its BatchNorm and ReLU, i.e. exactly what the decoder receives).
The mean is the clip-level summary every pooled classifier embedding uses too; it describes
where the clip's normal-looking frames sit in the AE's code space. The AE has no class head,
so ``class`` is empty and ``class_index`` is -1 and no centers are saved. The embeddings are
computed after scoring, with the same model in eval mode, and never enter the scores.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import torch

from asdlab.core.atomic import atomic_write_text
from asdlab.backends import SelectiveMahalanobis, mse_score
from asdlab.features.cache import file_key
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import DataError
from asdlab.features import stack_frames
from asdlab.methods import SCORE_COLUMNS, Method, MethodOutput, RunContext, log_mels, register, score_frame
from asdlab.nn.ae import DenseAutoEncoder
from asdlab.backends.thresholds import add_decisions
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device

_BASE = dict(n_mels=128, n_fft=1024, hop=512, n_frames=5, hidden=128, n_layers=4,
             bottleneck=8, batch_size=256, lr=1e-3, val_fraction=0.1, ridge=1e-3)
PRESETS = {
    "smoke": {**_BASE, "epochs": 3},
    "course": {**_BASE, "epochs": 30},
    "paper": {**_BASE, "epochs": 100},  # the official hyperparameters
}
_TRAIN_KEYS = ("n_mels", "n_fft", "hop", "n_frames", "hidden", "n_layers", "bottleneck",
               "batch_size", "lr", "val_fraction", "epochs")


def _model_key(ctx: RunContext, machine: str, train_paths: list[str]) -> str:
    blob = json.dumps({"params": {k: ctx.params[k] for k in _TRAIN_KEYS}, "seed": ctx.seed,
                       "machine": machine, "files": [file_key(p) for p in train_paths]},
                      sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _train_or_load(ctx: RunContext, machine: str, train_paths: list[str],
                   vectors: torch.Tensor) -> tuple[DenseAutoEncoder, pd.DataFrame | None]:
    """The machine's AE from the model cache, or trained and cached; with its per-epoch training
    history (None for models cached before histories were kept)."""
    p = ctx.params
    torch.manual_seed(ctx.seed)
    model = DenseAutoEncoder(vectors.shape[1], p["hidden"], p["n_layers"], p["bottleneck"])
    cached = ctx.cache_dir / "models" / "ae" / f"{_model_key(ctx, machine, train_paths)}.pt"
    history_file = cached.with_suffix(".history.csv")
    if cached.exists():
        model.load_state_dict(torch.load(cached, map_location="cpu"))
    else:
        cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                          optimizer="adam", val_fraction=p["val_fraction"], seed=ctx.seed)
        result = fit(model, len(vectors), lambda idx, train: (vectors[idx],),
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
def residuals(model: DenseAutoEncoder, vectors: list[np.ndarray], device: str = "cpu",
              chunk: int = 16384) -> list[np.ndarray]:
    """Reconstruction residuals ``x - AE(x)``, one ``(n_vectors_i, dim)`` array per clip."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    x = torch.from_numpy(np.concatenate(vectors))
    out = torch.cat([(xb - model(xb.to(dev)).cpu()) for xb in x.split(chunk)]).numpy()
    return np.split(out, np.cumsum([len(v) for v in vectors])[:-1])


@torch.no_grad()
def bottleneck_means(model: DenseAutoEncoder, vectors: list[np.ndarray], device: str = "cpu",
                     chunk: int = 16384) -> np.ndarray:
    """Clip embeddings: the mean of ``model.encode`` over each clip's vectors.

    ``vectors``: one ``(n_vectors_i, input_dim)`` array per clip. Returns
    ``(n_clips, bottleneck)`` float32 (``(0, bottleneck)`` for no clips).
    """
    dim = model.encoder[-1][0].out_features
    if not vectors:
        return np.zeros((0, dim), np.float32)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    x = torch.from_numpy(np.concatenate(vectors))
    codes = torch.cat([model.encode(xb.to(dev)).cpu() for xb in x.split(chunk)]).numpy()
    return np.stack([c.mean(axis=0) for c in np.split(codes, np.cumsum([len(v) for v in vectors])[:-1])])


EMBEDDING_COLUMNS = ["file", "machine", "section", "domain", "label", "split", "attributes",
                     "class", "class_index"]


def _run_autoencoder(ctx: RunContext, scorer: str) -> MethodOutput:
    p = ctx.params
    train_out, test_out, skipped, emb_meta, emb, histories = [], [], [], [], [], []
    for machine, rows in ctx.table.groupby("machine", sort=True):
        feats, bad = log_mels(rows, ctx)
        skipped += bad
        keep = np.array([f is not None for f in feats])
        rows = rows[keep]
        vecs = [stack_frames(f, p["n_frames"]).astype(np.float32) for f in feats if f is not None]
        is_train = (rows["split"] == "train").to_numpy()
        train_vecs = [v for v, t in zip(vecs, is_train) if t]
        test_vecs = [v for v, t in zip(vecs, is_train) if not t]
        if not train_vecs:
            raise DataError(f"machine {machine!r}: every training clip was unreadable "
                            "(the skipped files are listed above)")
        model, history = _train_or_load(ctx, machine, list(rows["path"][is_train]),
                               torch.from_numpy(np.concatenate(train_vecs)))
        res_train = residuals(model, train_vecs, ctx.device)
        res_test = residuals(model, test_vecs, ctx.device) if test_vecs else []
        train_rows, test_rows = rows[is_train], rows[~is_train]
        if scorer == "mse":
            s_train, s_test = mse_score(res_train), mse_score(res_test)
        else:
            s_train, s_test = np.empty(len(train_rows)), np.empty(len(test_rows))
            for section in sorted(rows["section"].unique()):
                tr = (train_rows["section"] == section).to_numpy()
                te = (test_rows["section"] == section).to_numpy()
                dom = train_rows["domain"].to_numpy()
                src = [r for r, a, d in zip(res_train, tr, dom) if a and d != "target"]
                tgt = [r for r, a, d in zip(res_train, tr, dom) if a and d == "target"]
                maha = SelectiveMahalanobis(frame_dim=p["n_mels"], ridge=p["ridge"]).fit(src, tgt)
                s_train[tr] = maha.score([r for r, a in zip(res_train, tr) if a])
                if te.any():
                    s_test[te] = maha.score([r for r, a in zip(res_test, te) if a])
        train_out.append(score_frame(train_rows, s_train))
        test_out.append(score_frame(test_rows, s_test))
        histories.append(history)
        emb_meta += [train_rows, test_rows]
        emb += [bottleneck_means(model, train_vecs, ctx.device), bottleneck_means(model, test_vecs, ctx.device)]
    train_scores, scores = pd.concat(train_out, ignore_index=True), pd.concat(test_out, ignore_index=True)
    add_decisions(train_scores, scores)
    meta = pd.concat(emb_meta, ignore_index=True).assign(**{"class": ""}, class_index=-1)
    artifacts = save_embeddings(ctx.workdir, meta[EMBEDDING_COLUMNS], np.concatenate(emb))
    if histories and all(h is not None for h in histories):
        pd.concat(histories, ignore_index=True).to_csv(ctx.workdir / "history.csv", index=False)
        artifacts.append("history.csv")
    return MethodOutput(scores=scores[SCORE_COLUMNS], train_scores=train_scores[SCORE_COLUMNS],
                        skipped=skipped, artifacts=artifacts)


register(Method("ae_mse", "official AutoEncoder baseline, mean squared reconstruction error",
                PRESETS, functools.partial(_run_autoencoder, scorer="mse")))
register(Method("ae_mahala", "official AutoEncoder baseline, selective Mahalanobis of residuals",
                PRESETS, functools.partial(_run_autoencoder, scorer="mahala")))
