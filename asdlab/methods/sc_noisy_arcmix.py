"""Sub-cluster Noisy-ArcMix with asymmetric focal loss (seed 000, Small Rice DCASE 2024):
``sc_noisy_arcmix``.

A CED-style transformer on waveforms ``(B, seconds * 16000)`` with a sub-cluster Noisy-ArcMix
head (plus a FeatEx head), mixup and manifold mixup; embeddings ``(N, embed_dim)`` scored by the
k-means cosine back end per section. Pipeline, parameters and presets:
``docs/methods/sc_noisy_arcmix.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from asdlab.core.atomic import atomic_write_text
from asdlab.data.audio import fix_length
from asdlab.data.classes import encode_classes
from asdlab.backends.kmeans import score_sections
from asdlab.methods import Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, register
from asdlab.methods.pipeline import train_test_waveforms
from asdlab.core.schema import Bool, Choice, Float, Int, PathParam, Rule, Schema
from asdlab.nn.asl import asymmetric_focal_loss
from asdlab.nn.ced import CED, SIZES, count_parameters, load_checkpoint
from asdlab.nn.composite import SCNoisyArcMixNet
from asdlab.nn.mixup import mix, sample_lambda, step_rng
from asdlab.nn.subcluster import soft_cross_entropy
from asdlab.nn.subcluster_margin import MARGIN_MODES, featex, manifold_mixup, one_hot
from asdlab.train import TrainConfig, atomic_torch_save, fit
from asdlab.train.embed import CROP_POLICIES, embed

NAME = "sc_noisy_arcmix"
LOSS_NAMES = ("asl", "ce")

_PAPER = dict(size="base", checkpoint=None, bn_momentum=0.01, seconds=10.0, eval_seconds=10.0,
              n_sub=32, featex=True, n_sub_featex=32, featex_p=0.5,
              loss="asl", gamma_pos=0.0, gamma_neg=4.0, asl_eps=0.1, margin="noisy", s=30.0, m=0.7,
              mixup_p=0.25, manifold_p=0.25, alpha=0.5, time_shift=True,
              epochs=20, batch_size=64, lr=1e-4, min_lr=1e-5, weight_decay=0.01, val_fraction=0.0,
              n_clusters=16, crop="all", schedule="cosine", anneal_epochs=0)
# course lr 3e-3: +2.6 ± 0.5 points over 1e-3 at the same cost; the plateau schedule (3e-3 until
# the training accuracy is on a plateau, then 12 epochs of cosine; at most 40 epochs) took 23-27
# epochs where the 30-epoch cosine scored within the spread (61.0 ± 0.4 vs 61.2 ± 0.5; factory data
# seed 1, not the reports', training seeds 0-2); docs/methods/sc_noisy_arcmix.md
_COURSE = {**_PAPER, "size": "nano", "bn_momentum": None, "seconds": 2.0, "eval_seconds": 2.0,
           "n_sub": 16, "n_sub_featex": 16, "epochs": 40, "schedule": "plateau", "anneal_epochs": 12,
           "batch_size": 32, "lr": 3e-3, "min_lr": 1e-4}
_SMOKE = {**_COURSE, "seconds": 1.0, "eval_seconds": 1.0, "n_sub": 4, "n_sub_featex": 4,
          "epochs": 2, "schedule": "cosine", "anneal_epochs": 0, "batch_size": 16, "lr": 1e-3}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}
_PROBABILITY = Float(0, 1)
SCHEMA = Schema({
    "size": Choice(*SIZES),
    "checkpoint": PathParam(none="train from scratch", test=lambda f: Path(f).is_file(),
                            doc="the path of an existing CED checkpoint file (asdlab never downloads weights)"),
    "bn_momentum": Float(0, 1, none="a cumulative average"), "seconds": Float(0.16, min_open=True),
    "eval_seconds": Float(0.16, min_open=True, none="each clip's own length"), "n_sub": Int(1), "featex": Bool(),
    "n_sub_featex": Int(1), "featex_p": _PROBABILITY, "loss": Choice(*LOSS_NAMES), "gamma_pos": Float(0),
    "gamma_neg": Float(0), "asl_eps": Float(0, 1), "margin": Choice(*MARGIN_MODES), "s": Float(0, min_open=True),
    "m": Float(0), "mixup_p": _PROBABILITY, "manifold_p": _PROBABILITY, "alpha": Float(0, min_open=True),
    "time_shift": Bool(), "epochs": Int(1), "batch_size": Int(1), "lr": Float(0, min_open=True), "min_lr": Float(0),
    "weight_decay": Float(0), "val_fraction": Float(0, 1, max_open=True), "n_clusters": Int(1),
    "crop": Choice(*CROP_POLICIES), "schedule": Choice("cosine", "plateau"), "anneal_epochs": Int(0)},
    rules=(Rule("manifold_p", lambda p: None if p["mixup_p"] + p["manifold_p"] <= 1 else
                f"mixup_p + manifold_p = {p['mixup_p'] + p['manifold_p']:g} exceeds 1 (one augmentation per batch)"),))

SWEEP_VALUES = (1, 16, 32, 64)
"""Seed 000 Table 2: SC and SC(FeatEx) both range over these."""
COURSE_GRID = ((1, 1), (1, 16), (16, 1), (16, 16))
"""The reduced Table 2 grid of the smoke and course presets (4 runs instead of 16)."""


def build_model(p: dict, n_classes: int) -> tuple[SCNoisyArcMixNet, dict]:
    """The network of params ``p`` and the encoder record (size, parameter count, whether and
    from where pretrained weights were loaded)."""
    encoder = CED(p["size"], bn_momentum=p["bn_momentum"])
    record = {"size": p["size"], "embed_dim": encoder.embed_dim, "depth": encoder.depth,
              "num_heads": encoder.num_heads, "n_parameters": count_parameters(encoder),
              "pretrained": False, "checkpoint": None}
    if p["checkpoint"] is not None:
        info = load_checkpoint(encoder, p["checkpoint"])
        record.update(pretrained=True, checkpoint=str(Path(p["checkpoint"]).resolve()),
                      loaded_tensors=info["loaded"], ignored_keys=info["ignored"])
    model = SCNoisyArcMixNet(encoder, n_classes, p["n_sub"], p["n_sub_featex"] if p["featex"] else None,
                             p["s"], p["m"], p["margin"])
    return model, record


def loss_function(p: dict, n_classes: int):
    """``loss(model, (wave, y)) -> scalar`` with the augmentations of docs/methods/sc_noisy_arcmix.md
    (training mode only; evaluation mode uses clean batches and ``(e, e)`` FeatEx pairs)."""
    def criterion(log_probs, targets):
        if p["loss"] == "asl":
            return asymmetric_focal_loss(log_probs, targets, p["gamma_pos"], p["gamma_neg"], p["asl_eps"])
        return soft_cross_entropy(log_probs, targets)

    def compute(model: SCNoisyArcMixNet, batch) -> torch.Tensor:
        wave, y = batch
        targets = one_hot(y, n_classes).to(wave.dtype)
        mode, rng = "clean", None
        if model.training:
            rng = step_rng()
            u = rng.random()
            if u < p["mixup_p"]:
                mode = "mixup"
            elif u < p["mixup_p"] + p["manifold_p"]:
                mode = "manifold"
        if mode != "clean":
            lam = sample_lambda(p["alpha"], rng)
            perm = torch.from_numpy(rng.permutation(len(y))).to(y.device)
        if mode == "mixup":
            wave, targets = mix(wave, lam, perm), mix(targets, lam, perm)
        emb = model(wave)
        if mode == "manifold":
            emb, targets = manifold_mixup(emb, targets, lam, perm)
        loss = criterion(model.head.class_log_probs(emb, y, targets), targets)
        if model.head_featex is not None:
            if model.training:
                pair, pair_t = featex(emb, targets, p["featex_p"], rng)
            else:
                keep = torch.zeros(len(y), dtype=torch.bool)
                pair, pair_t = featex(emb, targets, perm=torch.arange(len(y)), exchange=keep)
            loss = loss + criterion(model.head_featex.class_log_probs(pair, y, pair_t), pair_t)
        return loss
    return compute


def _right(model: SCNoisyArcMixNet, batch) -> torch.Tensor:
    """Right predictions on a clean batch: the class whose summed sub-cluster probabilities are
    highest, without a margin (:meth:`asdlab.nn.subcluster_margin.SubClusterMarginHead.class_log_probs`)."""
    wave, y = batch
    return (model.head.class_log_probs(model(wave)).argmax(dim=1) == y).sum()


def _batch_getter(waves: list[np.ndarray], labels: np.ndarray, n_samples: int, time_shift: bool):
    y = torch.tensor(labels, dtype=torch.int64)

    def get(idx: torch.Tensor, train: bool):
        if train:
            rng = step_rng()
            clips = [fix_length(waves[i], n_samples, "random", rng) for i in idx.tolist()]
            if time_shift:
                clips = [np.roll(c, int(rng.integers(0, n_samples))) for c in clips]
        else:
            clips = [fix_length(waves[i], n_samples, "fixed") for i in idx.tolist()]
        return torch.from_numpy(np.stack(clips)), y[idx]
    return get


def _record_encoder(workdir: Path, record: dict) -> None:
    atomic_write_text(workdir / "encoder.json", json.dumps(record, indent=2) + "\n")
    config_file = workdir / "config.json"
    if config_file.exists():  # provenance only: run identity is the params, which name the file
        config = json.loads(config_file.read_text())
        config["encoder"] = record
        atomic_write_text(config_file, json.dumps(config, indent=2, default=str) + "\n")


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    train_w, train_rows, test_w, test_rows, skipped = train_test_waveforms(ctx)
    classes, y_train, y_test = encode_classes(train_rows, test_rows)
    torch.manual_seed(ctx.seed)
    model, record = build_model(p, len(classes))
    _record_encoder(ctx.workdir, record)
    cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                      optimizer="adamw", weight_decay=p["weight_decay"], schedule=p["schedule"],
                      anneal_epochs=p["anneal_epochs"], min_lr=p["min_lr"], val_fraction=p["val_fraction"], seed=ctx.seed)
    n_samples = int(round(p["seconds"] * 16000))
    result = fit(model, len(train_w), _batch_getter(train_w, y_train, n_samples, p["time_shift"]),
                 loss_function(p, len(classes)), cfg, device=ctx.device,
                 checkpoint=ctx.workdir / "train.ckpt", progress=ctx.progress, desc=f"{NAME}-{p['size']}",
                 accuracy_fn=_right)
    model.cpu()
    atomic_torch_save(model.encoder.state_dict(), ctx.workdir / "checkpoints" / "encoder.pt")
    heads = {"head": model.head.state_dict(),
             "head_featex": model.head_featex.state_dict() if model.head_featex is not None else None}
    atomic_torch_save(heads, ctx.workdir / "checkpoints" / "heads.pt")
    (ctx.workdir / "train.ckpt").unlink(missing_ok=True)
    pd.DataFrame(result.history).to_csv(ctx.workdir / "history.csv", index=False)

    n_eval = None if p["eval_seconds"] is None else int(round(p["eval_seconds"] * 16000))
    policy = "whole" if n_eval is None else p["crop"]
    n_eval = None if policy == "whole" else n_eval
    emb_train, emb_test = (embed(model.encoder, w, n_eval, policy, device=ctx.device, batch_size=32,
                                 embedding_dim=model.encoder.embed_dim) for w in (train_w, test_w))
    s = score_sections(emb_train, train_rows, emb_test, test_rows, p["n_clusters"], ctx.seed)

    with torch.no_grad():
        sub = model.head.centers().reshape(len(classes), p["n_sub"], -1)
        class_centers = torch.nn.functional.normalize(sub.mean(dim=1), dim=-1)
        emb_all = torch.from_numpy(np.concatenate([emb_train, emb_test]))
        cos = model.head.cosine(emb_all).reshape(len(emb_all), len(classes), p["n_sub"])
        idx_all = np.concatenate([y_train, y_test])
        own = cos[torch.arange(len(emb_all)), torch.from_numpy(np.maximum(idx_all, 0))].argmax(dim=1).numpy()
    meta = pd.concat([clip_meta(train_rows, classes, y_train), clip_meta(test_rows, classes, y_test)],
                     ignore_index=True)
    meta["subcluster"] = np.where(idx_all >= 0, own, -1)
    meta["kmeans_ref"] = np.concatenate([s["train_nearest"], s["test_nearest"]])
    np.save(ctx.workdir / "subcluster_centers.npy", sub.numpy().astype(np.float32))
    emb = Embeddings(meta, emb_all.numpy(), class_centers.numpy(), classes)
    return finish(train_rows, test_rows, s["train"], s["test"], embeddings=emb, skipped=skipped,
                  artifacts=["subcluster_centers.npy", "history.csv", "encoder.json"])


register(Method(NAME, "CED-style transformer, sub-cluster Noisy-ArcMix + asymmetric focal loss, "
                      "FeatEx, manifold mixup; k-means cosine scoring", PRESETS, _run, SCHEMA,
                lambda p, seed: ("kmeans", {"n_clusters": p["n_clusters"], "seed": seed})))
