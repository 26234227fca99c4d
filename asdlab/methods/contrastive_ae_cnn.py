"""AutoEncoder + EfficientNet trained jointly with a contrastive loss (seed 003, Small Rice
DCASE2021): method ``contrastive_ae_cnn``.

On median-filtered, standardised log-mel segments ``(B, n_mels, segment_frames)``: an
EfficientNet-B0-style classifier and a 5-frame AutoEncoder, trained with MSE + CE + InfoNCE
between their representations; the score is eq. 3's log-odds of the clip's class; embeddings
are the CNN's pooled features ``(N, out_dim)``. Pipeline, parameters and presets:
``docs/methods/contrastive_ae_cnn.md``.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import scipy.special
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from asdlab.core.atomic import atomic_write, atomic_write_text
from asdlab.data.classes import class_names
from asdlab.core.errors import ConfigError, DataError
from asdlab.features.frames import fix_frames
from asdlab.features.segments import segment_starts
from asdlab.features.transforms import median_filter_time, standardize_clips_in_place
from asdlab.methods import (Embeddings, Method, MethodOutput, RunContext, clip_meta, finish, log_mels,
                            readable_split, register)
from asdlab.core.schema import Bool, Choice, Float, Int, Rule, Schema
from asdlab.nn.composite import ContrastiveAECNN
from asdlab.nn.mixup import mix, sample_lambda, step_rng
from asdlab.train import TrainConfig, atomic_torch_save, fit, resolve_device
from asdlab.train.samplers import DomainBatchSampler

NAME = "contrastive_ae_cnn"
ENSEMBLES = ("mean", "max", "softmax")
MEDIAN_MODES = (None, "smooth", "subtract")
CLASS_MODES = ("section", "attribute")
SCOPES = ("all", "machine")
LOSS_TERMS = ("mse", "ce", "contrastive", "total")

_PAPER = dict(n_mels=128, n_fft=1024, hop=512, median_filter="smooth", median_window=30,
              classes="section", scope="all",
              width=1.0, depth=1.0, drop_path=0.2, dropout=0.2, bn_momentum=0.01,
              ae_frames=5, ae_hidden=128, ae_layers=4, ae_bottleneck=32, proj_dim=256,
              temperature=0.07, contrastive_weight=1.0, contrastive_symmetric=False,
              exclude_positive=False,
              segment_frames=None, eval_hop=None, time_shift=True, time_mask=32, mixup_alpha=0.2,
              target_fraction=0.2, epochs=300, batch_size=32, lr=1e-3, lr_step=30, lr_gamma=0.5,
              weight_decay=0.0, n_models=1, ensemble="mean")
_COURSE = {**_PAPER, "classes": "attribute", "width": 0.25, "depth": 0.25, "drop_path": 0.0, "bn_momentum": 0.1,
           "segment_frames": 64, "eval_hop": 32, "time_mask": 8, "epochs": 14, "lr": 2e-3, "lr_step": 7}
_SMOKE = {**_COURSE, "segment_frames": 32, "eval_hop": 32, "epochs": 2, "batch_size": 16, "lr_step": 30,
          "bn_momentum": None}
PRESETS = {"smoke": _SMOKE, "course": _COURSE, "paper": _PAPER}
_POSITIVE = Float(0, min_open=True)
SCHEMA = Schema({
    "n_mels": Int(1), "n_fft": Int(1), "hop": Int(1), "median_filter": Choice(*MEDIAN_MODES, none="no filter"),
    "median_window": Int(1), "classes": Choice(*CLASS_MODES), "scope": Choice(*SCOPES),
    "width": _POSITIVE, "depth": _POSITIVE, "drop_path": Float(0, 1, max_open=True),
    "dropout": Float(0, 1, max_open=True),
    "bn_momentum": Float(0, 1, none="a cumulative average"), "ae_frames": Int(1), "ae_hidden": Int(1),
    "ae_layers": Int(1), "ae_bottleneck": Int(1), "proj_dim": Int(1), "temperature": _POSITIVE,
    "contrastive_weight": Float(0), "contrastive_symmetric": Bool(), "exclude_positive": Bool(),
    "segment_frames": Int(1, none="whole clips"), "eval_hop": Int(1, none="= segment_frames"), "time_shift": Bool(),
    "time_mask": Int(0), "mixup_alpha": Float(0), "target_fraction": Float(0, 1, none="no re-weighting"),
    "epochs": Int(1), "batch_size": Int(2, doc="an integer >= 2 (the contrastive loss needs negatives)"),
    "lr": _POSITIVE, "lr_step": Int(1), "lr_gamma": _POSITIVE, "weight_decay": Float(0), "n_models": Int(1),
    "ensemble": Choice(*ENSEMBLES)},
    rules=(Rule("segment_frames", lambda p: None if p["segment_frames"] is None
                or p["segment_frames"] >= p["ae_frames"]
                else f"must be None (whole clips) or at least ae_frames={p['ae_frames']}"),))


# ----------------------------------------------------------------------------------------------
# scores


def log_odds(log_probs, own) -> np.ndarray:
    """Eq. 3, ``log((1 - p) / p)`` with ``p`` = the summed probability of the ``own`` classes.

    ``log_probs``: ``(..., C)`` log-softmax outputs; ``own``: ``(C,)`` or ``(..., C)`` bool (one
    True = the clip's class). Computed as ``logsumexp(others) - logsumexp(own)`` in float64:
    finite even where ``p`` rounds to 0 or 1. Returns ``(...)``."""
    lp = np.asarray(log_probs, dtype=np.float64)
    own = np.broadcast_to(np.asarray(own, dtype=bool), lp.shape)
    log_p = scipy.special.logsumexp(np.where(own, lp, -np.inf), axis=-1)
    log_rest = scipy.special.logsumexp(np.where(own, -np.inf, lp), axis=-1)
    return log_rest - log_p


def clip_score(log_probs, own, ensemble: str = "mean") -> float:
    """Anomaly score of one clip from ``log_probs`` ``(n_models, n_segments, C)`` (log-softmax of
    every member on every segment) and its ``own`` classes ``(C,)`` bool.

    ``"mean"``: mean over members of (mean over segments of :func:`log_odds`); ``"max"``: the
    largest member score; ``"softmax"``: the members' softmax outputs are averaged per segment,
    then :func:`log_odds` of that mean is averaged over the segments."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 3:
        raise ValueError(f"log_probs must be (n_models, n_segments, C), got shape {lp.shape}")
    if ensemble == "softmax":
        mean_lp = scipy.special.logsumexp(lp, axis=0) - np.log(len(lp))  # log of the mean softmax
        return float(log_odds(mean_lp, own).mean())
    member = log_odds(lp, own).mean(axis=1)
    if ensemble == "mean":
        return float(member.mean())
    if ensemble == "max":
        return float(member.max())
    raise ConfigError(f"unknown ensemble {ensemble!r}; choose from {', '.join(ENSEMBLES)}")


def build_model(p: dict, n_classes: int) -> ContrastiveAECNN:
    """The network of params ``p`` for ``n_classes`` classes."""
    return ContrastiveAECNN(n_classes, p["n_mels"], p["width"], p["depth"], p["drop_path"], p["dropout"],
                            p["bn_momentum"], p["ae_frames"], p["ae_hidden"], p["ae_layers"],
                            p["ae_bottleneck"], p["proj_dim"])


# ----------------------------------------------------------------------------------------------
# data


class _Group:
    """The clips one network is trained on and scores (all machines, or one machine type):
    standardised log-mels, classes and the ``own``-class mask of every clip (train then test)."""

    def __init__(self, name: str, train_rows: pd.DataFrame, test_rows: pd.DataFrame,
                 train_mels: list, test_mels: list, p: dict):
        self.name = name
        self.train_rows, self.test_rows = train_rows.reset_index(drop=True), test_rows.reset_index(drop=True)
        frames = p["segment_frames"]
        if frames is None:  # whole clips: every clip brought to the most common training length
            frames = Counter(m.shape[1] for m in train_mels).most_common(1)[0][0]
            train_mels = [fix_frames(m, frames) for m in train_mels]
            test_mels = [fix_frames(m, frames) for m in test_mels]
        if frames < p["ae_frames"]:
            raise DataError(f"{name}: clips of {frames} frames are shorter than the AE's {p['ae_frames']}-frame input")
        self.frames = frames
        self.hop = p["eval_hop"] or frames
        self.mean, self.std = standardize_clips_in_place(train_mels, test_mels)  # held once, scaled in place
        self.train, self.test = train_mels, test_mels
        all_rows = pd.concat([self.train_rows, self.test_rows], ignore_index=True)
        section = (all_rows["machine"] + "/" + all_rows["section"].astype(str)).to_numpy()
        label = section if p["classes"] == "section" else class_names(all_rows).to_numpy()
        n_train = len(self.train_rows)
        self.classes = sorted(set(label[:n_train]))
        if len(self.classes) < 2:
            raise ConfigError(f"{NAME} classifies {p['classes']}s and needs at least 2 classes per network; "
                              f"{name} has only {self.classes[0]!r} in training (use scope='all', "
                              "classes='attribute', or data with more sections)")
        index = {c: i for i, c in enumerate(self.classes)}
        self.class_index = np.array([index.get(c, -1) for c in label], dtype=np.int64)
        self.y_train = self.class_index[:n_train]
        class_section = np.array([c.split("/")[0] + "/" + c.split("/")[1] for c in self.classes])
        self.own = np.zeros((len(label), len(self.classes)), dtype=bool)
        for i, (c, s) in enumerate(zip(self.class_index, section)):
            if c >= 0:
                self.own[i, c] = True
            else:
                self.own[i] = class_section == s
        orphan = ~self.own.any(axis=1)
        if orphan.any():
            raise DataError(f"test clips of {', '.join(sorted(set(section[orphan])))} have no training clips "
                            f"in their machine/section: {NAME} cannot score them")
        self.is_target = (self.train_rows["domain"] == "target").to_numpy()


def _groups(ctx: RunContext) -> tuple[list[_Group], list]:
    p = ctx.params
    table = ctx.table
    feats, skipped = log_mels(table, ctx)
    rows, feats, is_train = readable_split(table, feats, NAME)
    if p["median_filter"] is not None:
        for i, f in enumerate(feats):  # one clip at a time: each unfiltered log-mel freed when replaced
            feats[i] = median_filter_time(f, p["median_window"], p["median_filter"])
    keys = ["all"] * len(rows) if p["scope"] == "all" else list(rows["machine"])
    groups = []
    for name in sorted(set(keys)):
        sel = np.array([k == name for k in keys])
        tr, te = sel & is_train, sel & ~is_train
        if not tr.any():
            raise DataError(f"machine type {name!r} has no readable training clips")
        groups.append(_Group(name, rows[tr], rows[te], [f for f, s in zip(feats, tr) if s],
                             [f for f, s in zip(feats, te) if s], p))
    return groups, skipped


# ----------------------------------------------------------------------------------------------
# training


def _crop(mel: np.ndarray, frames: int, rng: np.random.Generator, shift: bool) -> np.ndarray:
    if shift:
        mel = np.roll(mel, int(rng.integers(0, mel.shape[1])), axis=1)
    mel = fix_frames(mel, frames) if mel.shape[1] < frames else mel
    start = int(rng.integers(0, mel.shape[1] - frames + 1))
    return mel[:, start:start + frames]


def batch_getter(group: _Group, p: dict):
    """``get_batch(idx, train) -> (segments (B, n_mels, frames), time_mask (B, frames) bool,
    class index (B,))`` for :func:`asdlab.train.fit` (docs/methods/contrastive_ae_cnn.md, step 4).
    With the weighted sampler only ``len(idx)`` is used: the sampler picks the clips."""
    sampler = DomainBatchSampler(group.is_target, p["target_fraction"]) if p["target_fraction"] is not None else None
    y = torch.from_numpy(group.y_train)
    frames = group.frames

    def get(idx: torch.Tensor, train: bool):
        if not train:  # deterministic: the first segment of each clip
            items = idx.numpy()
            x = np.stack([fix_frames(group.train[i], frames) for i in items])
            return torch.from_numpy(x), torch.zeros(len(items), frames, dtype=torch.bool), y[idx]
        rng = step_rng()
        items = sampler.draw(len(idx), rng) if sampler is not None else idx.numpy()
        x = np.stack([_crop(group.train[i], frames, rng, p["time_shift"]) for i in items])
        mask = np.zeros((len(items), frames), dtype=bool)
        if p["time_mask"] > 0:
            for row in mask:
                width = int(rng.integers(0, min(p["time_mask"], frames) + 1))
                start = int(rng.integers(0, frames - width + 1))
                row[start:start + width] = True
        return torch.from_numpy(x), torch.from_numpy(mask), y[torch.from_numpy(items)]
    return get


def loss_function(p: dict, n_classes: int, record: dict | None = None):
    """``loss(model, (x, mask, y)) -> scalar``: MSE + CE + weight x InfoNCE, with mixup in
    training mode. ``record``: a dict whose ``sums`` (per term) and ``n`` are incremented by
    every training batch, for the per-epoch history."""
    def compute(model: ContrastiveAECNN, batch) -> torch.Tensor:
        x, mask, y = batch
        targets = F.one_hot(y, n_classes).to(x.dtype)
        if model.training and p["mixup_alpha"] > 0:
            rng = step_rng()
            lam = sample_lambda(p["mixup_alpha"], rng)
            perm = torch.from_numpy(rng.permutation(len(y))).to(y.device)
            x, targets = mix(x, lam, perm), mix(targets, lam, perm)
        x_cnn = x.masked_fill(mask[:, None, :], 0.0)
        terms = model.losses(x, x_cnn, targets, p["temperature"], p["contrastive_symmetric"],
                             p["exclude_positive"])
        total = terms["mse"] + terms["ce"] + p["contrastive_weight"] * terms["contrastive"]
        if record is not None and model.training:
            for k, v in {**terms, "total": total}.items():
                record["sums"][k] = record["sums"].get(k, 0.0) + float(v.detach()) * len(y)
            record["n"] += len(y)
        return total
    return compute


def _right(model: ContrastiveAECNN, batch) -> torch.Tensor:
    """Right predictions of the CNN branch (the scoring classifier) on a clean batch."""
    x, _, y = batch
    return (model(x).argmax(dim=1) == y).sum()


def train_member(ctx: RunContext, group: _Group, member: int) -> tuple[ContrastiveAECNN, list[dict]]:
    """Train (or load, when a finished run folder holds it) ensemble member ``member`` of
    ``group``; returns the network (eval mode, CPU) and its per-epoch history. Resumable: the
    epochs run one :func:`asdlab.train.fit` call each on one checkpoint file."""
    p = ctx.params
    tag = f"{group.name}_m{member}"
    seed = ctx.seed + member
    torch.manual_seed(seed)
    model = build_model(p, len(group.classes))
    final = ctx.workdir / "checkpoints" / f"{tag}.pt"
    hist_file = ctx.workdir / "train" / f"{tag}_history.json"
    if final.exists() and hist_file.exists():
        model.load_state_dict(torch.load(final, map_location="cpu"))
        return model.eval(), json.loads(hist_file.read_text())
    ckpt = ctx.workdir / "train" / f"{tag}.ckpt"
    done = torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"] + 1 if ckpt.exists() else 0
    history = json.loads(hist_file.read_text())[:done] if hist_file.exists() else []
    history += [{"epoch": e, **{k: float("nan") for k in LOSS_TERMS}} for e in range(len(history), done)]
    record = {"sums": {}, "n": 0}
    get_batch, loss_fn = batch_getter(group, p), loss_function(p, len(group.classes), record)
    bar = tqdm(range(done, p["epochs"]), desc=f"{NAME} {tag}", disable=not ctx.progress, leave=False)
    for epoch in bar:
        lr = p["lr"] * p["lr_gamma"] ** (epoch // p["lr_step"])
        cfg = TrainConfig(epochs=epoch + 1, batch_size=p["batch_size"], lr=lr, optimizer="adam",
                          weight_decay=p["weight_decay"], val_fraction=0.0, seed=seed)
        record["sums"], record["n"] = {}, 0
        result = fit(model, len(group.train), get_batch, loss_fn, cfg, device=ctx.device, checkpoint=ckpt,
                     progress=False, accuracy_fn=_right)
        row = {"epoch": epoch, "lr": lr, **{k: record["sums"].get(k, float("nan")) / max(record["n"], 1)
                                            for k in LOSS_TERMS}, "train_acc": result.history[-1]["train_acc"]}
        history.append(row)
        atomic_write_text(hist_file, json.dumps(history))
        bar.set_postfix(total=f"{row['total']:.4g}")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["model"]
    model.cpu().load_state_dict(state)  # the last epoch's weights, not fit's lowest-loss epoch
    atomic_torch_save(state, final)
    ckpt.unlink()
    return model.eval(), history


# ----------------------------------------------------------------------------------------------
# scoring


@torch.no_grad()
def clip_outputs(model: ContrastiveAECNN, mels: list[np.ndarray], frames: int, hop: int,
                 device: str = "cpu", batch_size: int = 64) -> tuple[list[np.ndarray], np.ndarray]:
    """Per clip, the log-softmax ``(n_segments, C)`` of its segments (:func:`segment_starts`;
    clips shorter than ``frames`` are tiled), and the clip embeddings ``(N, out_dim)``: pooled
    CNN features averaged over the segments."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    segs, owner = [], []
    for i, m in enumerate(mels):
        m = fix_frames(m, frames) if m.shape[1] < frames else m
        for s in segment_starts(m.shape[1], frames, hop):
            segs.append(m[:, s:s + frames])
            owner.append(i)
    feats, logps = [], []
    for start in range(0, len(segs), batch_size):
        x = torch.from_numpy(np.stack(segs[start:start + batch_size])).to(dev)
        f = model.features(x)
        feats.append(f.cpu())
        logps.append(F.log_softmax(model.classifier(f), dim=1).cpu())
    n_classes = model.classifier.out_features
    feats = torch.cat(feats).numpy() if feats else np.zeros((0, model.cnn.out_dim), np.float32)
    logps = torch.cat(logps).numpy() if logps else np.zeros((0, n_classes), np.float32)
    owner = np.asarray(owner, dtype=np.int64)
    bounds = np.searchsorted(owner, np.arange(len(mels) + 1))
    lp = [logps[a:b] for a, b in itertools.pairwise(bounds)]
    emb = np.stack([feats[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)]) if len(mels) else \
        np.zeros((0, model.cnn.out_dim), np.float32)
    return lp, emb.astype(np.float32)


def _run(ctx: RunContext) -> MethodOutput:
    p = ctx.params
    groups, skipped = _groups(ctx)
    train_rows, test_rows, train_s, test_s, metas, embs, centers, class_list, histories = ([] for _ in range(9))
    norm = {}
    for g in groups:
        mels = g.train + g.test
        outputs = []
        for member in range(p["n_models"]):
            model, history = train_member(ctx, g, member)
            histories += [{"group": g.name, "member": member, **h} for h in history]
            lp, emb = clip_outputs(model, mels, g.frames, g.hop, ctx.device)
            outputs.append(lp)
            if member == 0:
                embs.append(emb)
                w = model.classifier.weight.detach().cpu().numpy()
                centers.append(w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12))
        scores = np.array([clip_score(np.stack([o[i] for o in outputs]), g.own[i], p["ensemble"])
                           for i in range(len(mels))])
        nt = len(g.train)
        train_rows.append(g.train_rows)
        test_rows.append(g.test_rows)
        train_s.append(scores[:nt])
        test_s.append(scores[nt:])
        offset = len(class_list)
        class_list += g.classes
        metas.append(clip_meta(pd.concat([g.train_rows, g.test_rows], ignore_index=True), class_list,
                               np.where(g.class_index >= 0, g.class_index + offset, -1)))
        norm[f"{g.name}_mean"], norm[f"{g.name}_std"] = g.mean, g.std

    folder = ctx.workdir
    atomic_write(folder / "checkpoints" / "normalization.npz", lambda fh: np.savez(fh, **norm))
    atomic_write(folder / "history.csv", lambda fh: pd.DataFrame(histories).to_csv(fh, index=False), text=True)
    shutil.rmtree(folder / "train", ignore_errors=True)
    emb = Embeddings(pd.concat(metas, ignore_index=True), np.concatenate(embs), np.concatenate(centers),
                     class_list)
    return finish(pd.concat(train_rows, ignore_index=True), pd.concat(test_rows, ignore_index=True),
                  np.concatenate(train_s), np.concatenate(test_s), embeddings=emb, skipped=skipped,
                  artifacts=["history.csv"])

register(Method(NAME, "AutoEncoder + EfficientNet-B0 trained jointly with MSE, cross-entropy and an "
                      "InfoNCE loss between their representations; log-odds score of the section", PRESETS, _run,
                SCHEMA))
