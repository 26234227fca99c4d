"""The Noisy-ArcMix family (seed 004, Noisy-ArcMix, ICASSP 2024): ``stgram_arcface``,
``tastgram_ce``, ``tastgram_arcface``, ``tastgram_arcmix``, ``tastgram_noisy_arcmix``.

STgram/TASTgram-MobileFaceNet on waveforms ``(B, seconds * 16000)`` trained with CE, ArcFace,
ArcMix or Noisy-ArcMix to classify machine x section x attribute; embeddings
``(N, embedding_dim)``, scored at the clip's own class. Pipeline, parameters and presets:
``docs/methods/gram_mfn.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from asdlab.backends import get_backend, posterior
from asdlab.data.audio import fix_length
from asdlab.data.classes import encode_classes
from asdlab.features import LogMelParams, log_mel
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, register
from asdlab.methods.pipeline import train_test_waveforms
from asdlab.core.schema import Choice, Float, Int, Schema
from asdlab.nn.frontends import STgram, TASTgram
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES
from asdlab.nn.mixup import mixup_batch, step_rng
from asdlab.nn.mobilefacenet import GramMFN
from asdlab.train import TrainConfig, atomic_torch_save, fit
from asdlab.train.embed import CROP_POLICIES, embed

FRONTENDS = {"stgram": STgram, "tastgram": TASTgram}
BACKENDS = ("logsoftmax", "cosine")
SCORERS = {"logsoftmax": "class_posterior", "cosine": "cosine_center"}
"""``backend`` -> the registered back end (:mod:`asdlab.backends.registry`) that scores the clips."""

# The reference hyperparameters (paper preset); smaller presets change size and schedule only.
_PAPER = dict(n_fft=2048, hop=512, n_mels=128, tgram_win=1024, width=1.0, embedding_dim=128,
              s=30.0, m=0.7, alpha=0.5, epochs=300, batch_size=64, lr=1e-4, min_lr=1e-5,
              weight_decay=0.01, val_fraction=0.05, val_split="stratified", seconds=10.0,
              backend="logsoftmax", crop="first")
_COURSE = {**_PAPER, "width": 0.25, "epochs": 12, "batch_size": 32, "lr": 2e-3, "min_lr": 1e-4,
           "val_fraction": 0.1, "seconds": 4.0}
_SMOKE = {**_COURSE, "width": 0.125, "epochs": 2, "batch_size": 16, "seconds": 1.0}
SCHEMA = Schema({
    "n_fft": Int(1), "hop": Int(1), "n_mels": Int(1), "tgram_win": Int(1), "width": Float(0, min_open=True),
    "embedding_dim": Int(1), "s": Float(0, min_open=True), "m": Float(0), "alpha": Float(0, min_open=True),
    "epochs": Int(1), "batch_size": Int(1), "lr": Float(0, min_open=True), "min_lr": Float(0),
    "weight_decay": Float(0), "val_fraction": Float(0, 1, max_open=True), "seconds": Float(0, min_open=True),
    "backend": Choice(*BACKENDS), "frontend": Choice(*FRONTENDS), "loss": Choice(*LOSSES),
    "crop": Choice(*CROP_POLICIES), "val_split": Choice("stratified", "random")})


def _presets(frontend: str, loss: str) -> dict:
    fixed = {"frontend": frontend, "loss": loss, **({"n_fft": 1024} if frontend == "stgram" else {})}
    return {name: {**base, **fixed} for name, base in
            (("smoke", _SMOKE), ("course", _COURSE), ("paper", _PAPER))}


def build_model(p: dict, n_classes: int) -> GramMFN:
    """The front end + MobileFaceNet + cosine head described by params ``p``."""
    mel = LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"])
    frontend = FRONTENDS[p["frontend"]](mel, tgram_win_length=p["tgram_win"])
    return GramMFN(frontend, n_classes, width=p["width"], embedding_dim=p["embedding_dim"])


def _loss_fn(p: dict, mel: LogMelParams):
    loss, mixup = LOSSES[p["loss"]], p["loss"] in MIXUP_LOSSES

    def compute(model: GramMFN, batch) -> torch.Tensor:
        wave, y = batch
        logmel = log_mel(wave, mel)
        y_a, y_b, lam = y, y, 1.0
        if model.training and mixup:
            rng = step_rng()
            wave, logmel, y_a, y_b, lam = mixup_batch(wave, logmel, y, p["alpha"], rng)
        return loss(model.head, model(wave, logmel), y_a, y_b, lam, s=p["s"], m=p["m"])
    return compute


def _batch_getter(waves: list[np.ndarray], labels: np.ndarray, n_samples: int):
    y = torch.tensor(labels, dtype=torch.int64)

    def get(idx: torch.Tensor, train: bool):
        if train:
            rng = step_rng()
            clips = [fix_length(waves[i], n_samples, "random", rng) for i in idx.tolist()]
        else:
            clips = [fix_length(waves[i], n_samples, "fixed") for i in idx.tolist()]
        return torch.from_numpy(np.stack(clips)), y[idx]
    return get


@torch.no_grad()
def class_scores(model: GramMFN, emb: np.ndarray, class_index: np.ndarray, p: dict,
                 candidates: list[np.ndarray]) -> np.ndarray:
    """Score of each embedding at its class by the model's head
    (:func:`asdlab.backends.posterior.class_scores`); rows with class -1 take the minimum over
    their ``candidates`` (the class indices of their machine and section)."""
    kind = "cosine" if p["backend"] == "cosine" else "logsoftmax"
    return posterior.class_scores(emb, model.head.cpu().centers(), class_index, candidates, kind, p["s"], p["m"])


def default_backend(p: dict, seed: int = 0) -> tuple[str, dict]:
    """The registered back end of ``p["backend"]``: ``class_posterior`` (s, m) for "logsoftmax",
    ``cosine_center`` for "cosine"."""
    name = SCORERS[p["backend"]]
    return name, ({"s": p["s"], "m": p["m"]} if name == "class_posterior" else {})


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    train_w, train_rows, test_w, test_rows, skipped = train_test_waveforms(ctx)
    classes, y_train, y_test = encode_classes(train_rows, test_rows)
    n_samples = int(round(p["seconds"] * 16000))
    torch.manual_seed(ctx.seed)
    model = build_model(p, len(classes))
    cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                      optimizer="adamw", weight_decay=p["weight_decay"], schedule="cosine",
                      min_lr=p["min_lr"], val_fraction=p["val_fraction"], seed=ctx.seed,
                      val_groups=y_train if p["val_split"] == "stratified" else None)
    mel = LogMelParams(n_fft=p["n_fft"], hop=p["hop"], n_mels=p["n_mels"])
    result = fit(model, len(train_w), _batch_getter(train_w, y_train, n_samples), _loss_fn(p, mel),
                 cfg, device=ctx.device, checkpoint=ctx.workdir / "train.ckpt",
                 progress=ctx.progress, desc=f"{p['frontend']}-{p['loss']}")
    model.cpu()
    atomic_torch_save(model.state_dict(), ctx.workdir / "checkpoints" / "model.pt")
    (ctx.workdir / "train.ckpt").unlink(missing_ok=True)
    pd.DataFrame(result.history).to_csv(ctx.workdir / "history.csv", index=False)

    n_crop = None if p["crop"] == "whole" else n_samples
    emb_train, emb_test = (embed(model, w, n_crop, p["crop"], device=ctx.device,
                                 embedding_dim=p["embedding_dim"]) for w in (train_w, test_w))
    meta_train, meta_test = clip_meta(train_rows, classes, y_train), clip_meta(test_rows, classes, y_test)
    centers = model.head.centers().detach().numpy()
    name, kwargs = default_backend(p, ctx.seed)
    scorer = get_backend(name, centers=centers, **kwargs).fit(emb_train, meta_train)
    s_train, s_test = scorer.score(emb_train, meta_train), scorer.score(emb_test, meta_test)

    meta = pd.concat([meta_train, meta_test], ignore_index=True)
    emb = Embeddings(meta, np.concatenate([emb_train, emb_test]), centers, classes)
    return finish(train_rows, test_rows, s_train, s_test, embeddings=emb, skipped=skipped,
                  artifacts=["history.csv"])


_SUMMARIES = {
    ("stgram", "arcface"): "STgram-MFN (Sgram + Tgram, MobileFaceNet) with ArcFace",
    ("tastgram", "ce"): "TASTgram-MFN with softmax cross-entropy on cosine logits",
    ("tastgram", "arcface"): "TASTgram-MFN with ArcFace (s 30, m 0.7)",
    ("tastgram", "arcmix"): "TASTgram-MFN with ArcMix (margin on both mixup labels, two passes)",
    ("tastgram", "noisy_arcmix"): "TASTgram-MFN with Noisy-ArcMix (one pass, margin on the un-permuted label)",
}
for (_fe, _loss), _summary in _SUMMARIES.items():
    register(Method(f"{_fe}_{_loss}", _summary, _presets(_fe, _loss), _run, SCHEMA, default_backend))
