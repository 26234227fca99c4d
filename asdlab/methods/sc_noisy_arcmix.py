"""Sub-cluster Noisy-ArcMix with asymmetric focal loss (seed 000, Small Rice DCASE 2024):
``sc_noisy_arcmix``.

A CED-style transformer (:mod:`asdlab.nn.ced`) embeds each clip; a sub-cluster margin head
(:mod:`asdlab.nn.subcluster_margin`: ``n_sub`` centers per class, the Noisy-ArcMix margin on
the sub-clusters of the un-permuted sample's class, class probability = sum over its
sub-clusters) classifies machine x section x attribute (:mod:`asdlab.data.classes`), trained
with the asymmetric focal loss (:mod:`asdlab.nn.asl`, ``loss="asl"``) or soft cross-entropy
(``loss="ce"``). One model is trained over all machine types.

Training batch, in order:

1. clips brought to ``seconds`` (copy-pad when shorter, random crop when longer) and, with
   ``time_shift``, rolled circularly by a random offset;
2. one draw per batch: with probability ``mixup_p`` waveform mixup, else with probability
   ``manifold_p`` manifold mixup on the embeddings (seed 000 eq. 1), else clean. Both use
   ``lam ~ Beta(alpha, alpha)`` and a random permutation as partner; targets are mixed the
   same way, and the margin stays on the un-permuted class (the "noisy" part);
3. with ``featex``, a second head with ``n_sub_featex`` sub-clusters classifies the simplified
   FeatEx embeddings: ``(e_i, e_j)`` with target ``0.5 y_i + 0.5 y_j`` for a random half of the
   batch (``featex_p``), ``(e, e)`` with ``y`` otherwise; the two heads' losses are summed.

Scoring: every clip is embedded at ``eval_seconds`` (None: its own length) and scored by the
k-means cosine back end per section (:mod:`asdlab.backends.kmeans`: ``n_clusters`` centroids of
the source training embeddings plus every target training embedding; minimum cosine distance).
Decisions: the official gamma-fit threshold on the training scores (target training clips
scored leave-one-out).

Encoder: ``size`` from :data:`asdlab.nn.ced.SIZES`; ``checkpoint``: the path of a CED
checkpoint file to start from (None: from scratch). The run folder's ``encoder.json`` and the
``encoder`` entry that this method adds to ``config.json`` record whether pretrained weights were
loaded, from which file, and how many tensors.

Presets (``paper`` = seed 000 where it is explicit: CED-base, 10 s, AdamW, 20 epochs, batch 64,
mixup and manifold mixup p 0.25, SC 32 + FeatEx 32, K 16; the learning rate, its cosine
schedule, s 30 and m 0.7 are the Noisy-ArcMix reference's, since seed 000 does not give them):

======================  ===========  ============  ===========
parameter               smoke        course        paper
======================  ===========  ============  ===========
size                    nano         nano          base
seconds / eval_seconds  1 / 1        2 / 2         10 / 10
epochs, batch           2, 16        30, 32        20, 64
lr -> min_lr            1e-3 -> 1e-4 1e-3 -> 1e-4  1e-4 -> 1e-5
n_sub, n_sub_featex     4, 4         16, 16        32, 32
bn_momentum             None         None          0.01
======================  ===========  ============  ===========

All presets: AdamW with weight decay 0.01, cosine schedule, no validation split
(``val_fraction`` 0: :func:`asdlab.train.fit` then keeps the epoch with the lowest training
loss), ASL gamma_pos 0 / gamma_neg 4 / eps 0.1, ``alpha`` 0.5, FeatEx on with ``featex_p`` 0.5,
K 16. ``bn_momentum`` None (a cumulative average) gives exact mel statistics after the few
hundred steps of the small presets, where CED's 0.01 would still be near its initial values.
``course`` is ``nano`` at 2 s because on factory-course data it scored as well as the 5x
larger ``micro`` or 4 s crops at a fraction of the time (official score 0.617, about 45 s on
2 idle cores). Fine-tuning a published CED: ``--set checkpoint=PATH`` with the matching
``--set size=...`` (e.g. ``audiotransformer_base_mAP_4999.pt`` with the paper preset).

Run folder extras: ``checkpoints/encoder.pt`` (the encoder's state dict: loadable with
:func:`asdlab.nn.ced.load_checkpoint`), ``checkpoints/heads.pt``, ``encoder.json``,
``history.csv``, ``embeddings.npy`` / ``embeddings.csv`` (with ``subcluster``: the nearest
sub-cluster of the clip's own class, -1 when the class is unknown, and ``kmeans_ref``: the
nearest back-end reference of its section, ``< K`` a centroid, ``K + i`` target clip ``i``),
``centers.npy`` / ``classes.csv`` (per class the normalised mean of its sub-cluster centers) and
``subcluster_centers.npy`` ``(C, n_sub, D)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from asdlab.core.atomic import atomic_write_text
from asdlab.data.audio import fix_length, read_many
from asdlab.data.classes import encode_classes
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import ConfigError
from asdlab.backends.kmeans import score_sections
from asdlab.features import length_batches
from asdlab.methods import REGISTRY, SCORE_COLUMNS, Method, MethodOutput, RunContext, register, score_frame
from asdlab.nn.asl import asymmetric_focal_loss
from asdlab.nn.ced import CED, SIZES, count_parameters, load_checkpoint
from asdlab.nn.mixup import mix, sample_lambda
from asdlab.nn.subcluster import soft_cross_entropy
from asdlab.nn.subcluster_margin import MARGIN_MODES, SubClusterMarginHead, featex, manifold_mixup, one_hot
from asdlab.backends.thresholds import add_decisions
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device

NAME = "sc_noisy_arcmix"
LOSS_NAMES = ("asl", "ce")

_PAPER = dict(size="base", checkpoint=None, bn_momentum=0.01, seconds=10.0, eval_seconds=10.0,
              n_sub=32, featex=True, n_sub_featex=32, featex_p=0.5,
              loss="asl", gamma_pos=0.0, gamma_neg=4.0, asl_eps=0.1, margin="noisy", s=30.0, m=0.7,
              mixup_p=0.25, manifold_p=0.25, alpha=0.5, time_shift=True,
              epochs=20, batch_size=64, lr=1e-4, min_lr=1e-5, weight_decay=0.01, val_fraction=0.0,
              n_clusters=16)
_COURSE = {**_PAPER, "size": "nano", "bn_momentum": None, "seconds": 2.0, "eval_seconds": 2.0,
           "n_sub": 16, "n_sub_featex": 16, "epochs": 30, "batch_size": 32, "lr": 1e-3, "min_lr": 1e-4}
_SMOKE = {**_COURSE, "seconds": 1.0, "eval_seconds": 1.0, "n_sub": 4, "n_sub_featex": 4,
          "epochs": 2, "batch_size": 16}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}

SWEEP_VALUES = (1, 16, 32, 64)
"""Seed 000 Table 2: SC and SC(FeatEx) both range over these."""
COURSE_GRID = ((1, 1), (1, 16), (16, 1), (16, 16))
"""The reduced Table 2 grid of the smoke and course presets (4 runs instead of 16)."""


class SCNoisyArcMixNet(nn.Module):
    """CED encoder + sub-cluster margin head (+ FeatEx head on ``2 * embed_dim``).

    ``forward(wave: (B, n)) -> (B, embed_dim)`` embeddings."""

    def __init__(self, encoder: CED, n_classes: int, n_sub: int, n_sub_featex: int | None,
                 s: float = 30.0, m: float = 0.7, margin: str = "noisy"):
        super().__init__()
        d = encoder.embed_dim
        self.encoder = encoder
        self.head = SubClusterMarginHead(d, n_classes, n_sub, s, m, margin)
        self.head_featex = (SubClusterMarginHead(2 * d, n_classes, n_sub_featex, s, m, margin)
                            if n_sub_featex else None)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder(wave)


def check_params(p: dict) -> None:
    """Raise :class:`ConfigError` naming the first bad parameter of ``p``."""
    def bad(key, why):
        raise ConfigError(f"{NAME}: parameter {key}={p[key]!r} {why}")
    if p["size"] not in SIZES:
        bad("size", f"is not a CED size ({', '.join(SIZES)})")
    if p["loss"] not in LOSS_NAMES:
        bad("loss", f"is not one of {', '.join(LOSS_NAMES)}")
    if p["margin"] not in MARGIN_MODES:
        bad("margin", f"is not one of {', '.join(MARGIN_MODES)}")
    for key in ("n_sub", "n_sub_featex", "n_clusters", "epochs", "batch_size"):
        if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 1:
            bad(key, "must be a positive integer")
    for key in ("mixup_p", "manifold_p", "featex_p"):
        if not 0.0 <= float(p[key]) <= 1.0:
            bad(key, "must be a probability in [0, 1]")
    if p["mixup_p"] + p["manifold_p"] > 1.0:
        bad("manifold_p", f"+ mixup_p={p['mixup_p']} exceeds 1 (one augmentation per batch)")
    if not float(p["seconds"]) > 0.16:
        bad("seconds", "must exceed one 16-frame patch (0.16 s)")
    if p["eval_seconds"] is not None and not float(p["eval_seconds"]) > 0.16:
        bad("eval_seconds", "must be None (whole clips) or exceed 0.16 s")
    if p["checkpoint"] is not None and not Path(p["checkpoint"]).is_file():
        bad("checkpoint", "is not a file (asdlab never downloads CED weights)")


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


def _step_rng() -> np.random.Generator:
    """A generator seeded from torch's global RNG, which :func:`asdlab.train.fit` re-seeds per epoch."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,))))


def loss_function(p: dict, n_classes: int):
    """``loss(model, (wave, y)) -> scalar`` with the augmentations of the module docstring
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
            rng = _step_rng()
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


def _batch_getter(waves: list[np.ndarray], labels: np.ndarray, n_samples: int, time_shift: bool):
    y = torch.tensor(labels, dtype=torch.int64)

    def get(idx: torch.Tensor, train: bool):
        if train:
            rng = _step_rng()
            clips = [fix_length(waves[i], n_samples, "random", rng) for i in idx.tolist()]
            if time_shift:
                clips = [np.roll(c, int(rng.integers(0, n_samples))) for c in clips]
        else:
            clips = [fix_length(waves[i], n_samples, "fixed") for i in idx.tolist()]
        return torch.from_numpy(np.stack(clips)), y[idx]
    return get


@torch.no_grad()
def embed(encoder: CED, waves: list[np.ndarray], seconds: float | None, device: str = "cpu",
          batch_size: int = 32) -> np.ndarray:
    """Embeddings ``(N, embed_dim)`` of clips brought to ``seconds`` (first ``seconds``, copy-
    padded when shorter); ``seconds=None`` embeds each clip at its own length (batched by length)."""
    dev = resolve_device(device)
    encoder = encoder.to(dev).eval()
    if seconds is not None:
        n = int(round(seconds * 16000))
        waves = [fix_length(w, n, "fixed") for w in waves]
    out = np.zeros((len(waves), encoder.embed_dim), np.float32)
    for chunk, batch in length_batches(waves, batch_size):
        out[chunk] = encoder(torch.from_numpy(batch).to(dev)).cpu().numpy()
    return out


def _waves(rows: pd.DataFrame, ctx: RunContext):
    waves, skipped = read_many(list(rows["path"]), skip_unreadable=ctx.skip_unreadable)
    bad = {str(p) for p, _ in skipped}
    keep = ~rows["path"].astype(str).isin(bad).to_numpy()
    return waves, rows[keep].reset_index(drop=True), skipped


def _record_encoder(workdir: Path, record: dict) -> None:
    atomic_write_text(workdir / "encoder.json", json.dumps(record, indent=2) + "\n")
    config_file = workdir / "config.json"
    if config_file.exists():  # provenance only: run identity is the params, which name the file
        config = json.loads(config_file.read_text())
        config["encoder"] = record
        atomic_write_text(config_file, json.dumps(config, indent=2, default=str) + "\n")


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    check_params(p)
    table = ctx.table
    train_w, train_rows, skipped = _waves(table[table["split"] == "train"], ctx)
    test_w, test_rows, skipped_test = _waves(table[table["split"] == "test"], ctx)
    classes, y_train, y_test = encode_classes(train_rows, test_rows)
    torch.manual_seed(ctx.seed)
    model, record = build_model(p, len(classes))
    _record_encoder(ctx.workdir, record)
    cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"],
                      optimizer="adamw", weight_decay=p["weight_decay"], schedule="cosine",
                      min_lr=p["min_lr"], val_fraction=p["val_fraction"], seed=ctx.seed)
    n_samples = int(round(p["seconds"] * 16000))
    result = fit(model, len(train_w), _batch_getter(train_w, y_train, n_samples, p["time_shift"]),
                 loss_function(p, len(classes)), cfg, device=ctx.device,
                 checkpoint=ctx.workdir / "train.ckpt", progress=ctx.progress, desc=f"{NAME}-{p['size']}")
    model.cpu()
    atomic_torch_save(model.encoder.state_dict(), ctx.workdir / "checkpoints" / "encoder.pt")
    heads = {"head": model.head.state_dict(),
             "head_featex": model.head_featex.state_dict() if model.head_featex is not None else None}
    atomic_torch_save(heads, ctx.workdir / "checkpoints" / "heads.pt")
    (ctx.workdir / "train.ckpt").unlink(missing_ok=True)
    pd.DataFrame(result.history).to_csv(ctx.workdir / "history.csv", index=False)

    emb_train = embed(model.encoder, train_w, p["eval_seconds"], ctx.device)
    emb_test = embed(model.encoder, test_w, p["eval_seconds"], ctx.device)
    s = score_sections(emb_train, train_rows, emb_test, test_rows, p["n_clusters"], ctx.seed)

    with torch.no_grad():
        sub = model.head.centers().reshape(len(classes), p["n_sub"], -1)
        class_centers = torch.nn.functional.normalize(sub.mean(dim=1), dim=-1)
        emb_all = torch.from_numpy(np.concatenate([emb_train, emb_test]))
        cos = model.head.cosine(emb_all).reshape(len(emb_all), len(classes), p["n_sub"])
        idx_all = np.concatenate([y_train, y_test])
        own = cos[torch.arange(len(emb_all)), torch.from_numpy(np.maximum(idx_all, 0))].argmax(dim=1).numpy()
    meta = pd.concat([train_rows.assign(**{"class": [classes[i] for i in y_train]}, class_index=y_train),
                      test_rows.assign(**{"class": [classes[i] if i >= 0 else "" for i in y_test]},
                                       class_index=y_test)], ignore_index=True)
    meta["subcluster"] = np.where(idx_all >= 0, own, -1)
    meta["kmeans_ref"] = np.concatenate([s["train_nearest"], s["test_nearest"]])
    cols = ["file", "machine", "section", "domain", "label", "split", "attributes", "class",
            "class_index", "subcluster", "kmeans_ref"]
    artifacts = save_embeddings(ctx.workdir, meta[cols], emb_all.numpy(),
                                centers=class_centers.numpy(), classes=classes)
    np.save(ctx.workdir / "subcluster_centers.npy", sub.numpy().astype(np.float32))
    train_scores = score_frame(train_rows, s["train"])
    scores = score_frame(test_rows, s["test"])
    add_decisions(train_scores, scores)
    return MethodOutput(scores=scores[SCORE_COLUMNS], train_scores=train_scores[SCORE_COLUMNS],
                        skipped=skipped + skipped_test,
                        artifacts=artifacts + ["subcluster_centers.npy", "history.csv", "encoder.json"])


register(Method(NAME, "CED-style transformer, sub-cluster Noisy-ArcMix + asymmetric focal loss, "
                      "FeatEx, manifold mixup; k-means cosine scoring", PRESETS, _run))
