"""The one training loop every neural method uses.

Device-agnostic (``device="auto"`` takes a GPU when there is one), seeded, with a tqdm progress
bar, a validation split of the training data, the best checkpoint by validation loss, and
resumption after an interruption.

Reproducibility: epoch ``e`` shuffles with a generator seeded from ``(seed, e)`` and re-seeds
torch's global RNG with the same pair before its first step, so a run resumed from the
checkpoint of epoch ``e - 1`` takes exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import ConfigError


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings.

    ``epochs``; ``batch_size``; ``lr``; ``optimizer`` "adam" or "adamw"; ``weight_decay``;
    ``schedule`` None (constant) or "cosine" (per epoch down to ``min_lr``); ``val_fraction`` of
    the training items held out to pick the best epoch (0: the epoch with the lowest training loss); ``seed``;
    ``val_groups``: one label per item (e.g. its class) to split each group on its own, never taking
    a group's last ``val_keep`` items (:func:`split_indices`); None: one random split.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str | None = None
    min_lr: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0
    val_groups: np.ndarray | None = None
    val_keep: int = 2


@dataclasses.dataclass
class TrainResult:
    """``history``: one dict per epoch (epoch, train_loss, val_loss, lr); ``best_epoch``."""

    history: list[dict]
    best_epoch: int
    best_val_loss: float


DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""What ``device`` may name (:func:`resolve_device`)."""


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    or ``"mps"`` when this machine has it. Anything else, or an accelerator this machine lacks, is
    one :class:`ConfigError` line naming the device and what is allowed (before any work)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    allowed = ", ".join(DEVICES)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {device!r}: not a device name; use one of {allowed}")
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
            raise ConfigError(f"device {device!r}: this machine has no usable CUDA GPU ({build}); "
                              f"use --device cpu or auto")
        if dev.index is not None and dev.index >= n:
            raise ConfigError(f"device {device!r}: this machine has {n} CUDA GPU(s), cuda:0 to cuda:{n - 1}")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {device!r}: this machine has no Apple MPS GPU; use --device cpu or auto")
    return dev


def split_indices(n: int, val_fraction: float, seed: int, groups=None,
                  keep: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)`` over ``range(n)``, sorted.

    ``groups`` None: one random split, at least one item of each when ``0 < val_fraction`` and
    ``n >= 2``. ``groups`` ``(n,)`` labels: each group is split on its own (stratified): it gives
    ``round(size * val_fraction)`` random items to validation, but never its last ``keep`` items,
    so a class of 3 target clips keeps them all for training."""
    if groups is None:
        perm = np.random.default_rng(seed).permutation(n)
        n_val = 0 if val_fraction <= 0 else min(max(1, int(round(n * val_fraction))), n - 1)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"split_indices: {len(groups)} group labels for {n} items")
    rng = np.random.default_rng(seed)
    val = []
    for g in sorted(set(groups.tolist())):
        items = rng.permutation(np.flatnonzero(groups == g))
        n_val = min(int(round(len(items) * val_fraction)), max(0, len(items) - keep)) if val_fraction > 0 else 0
        val.extend(items[:n_val].tolist())
    val = np.sort(np.array(val, dtype=np.int64))
    return np.setdiff1d(np.arange(n), val), val


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """Shuffled index batches; a trailing batch of one joins the previous batch, because
    BatchNorm cannot train on a single item."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def _make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adam, adamw)")


def _lr_at(cfg: TrainConfig, epoch: int) -> float:
    if cfg.schedule is None:
        return cfg.lr
    if cfg.schedule == "cosine":
        frac = epoch / max(1, cfg.epochs - 1)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * frac))
    raise ValueError(f"unknown schedule {cfg.schedule!r} (None, 'cosine')")


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`asdlab.core.atomic.atomic_write`."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def fit(
    model: torch.nn.Module,
    n_items: int,
    get_batch: Callable[[torch.Tensor, bool], Sequence[torch.Tensor]],
    loss_fn: Callable[[torch.nn.Module, Sequence[torch.Tensor]], torch.Tensor],
    cfg: TrainConfig,
    device: str | torch.device = "auto",
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place and leave it holding the best weights.

    ``n_items``: number of training items (clips, vectors...); ``get_batch(idx, train)`` returns
    the tensors of items ``idx`` (a 1-D LongTensor; ``train`` False for validation, e.g. no
    random crop); ``loss_fn(model, tensors)`` returns a scalar loss. Tensors are moved to the
    device here. ``checkpoint``: a file updated after every epoch; if it exists, training
    resumes after its last completed epoch.
    """
    dev = resolve_device(device) if isinstance(device, str) else device
    model.to(dev)
    train_idx, val_idx = split_indices(n_items, cfg.val_fraction, cfg.seed, cfg.val_groups, cfg.val_keep)
    train_idx_t, val_idx_t = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    opt = _make_optimizer(model.parameters(), cfg)
    history: list[dict] = []
    best_state, best_val, best_epoch, start = None, math.inf, -1, 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, best_val, best_epoch = state["history"], state["best_val"], state["best_epoch"]
        best_state, start = state["best_state"], state["epoch"] + 1

    def to_dev(tensors):
        return [t.to(dev, non_blocking=True) for t in tensors]

    bar = tqdm(range(start, cfg.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        lr = _lr_at(cfg, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        torch.manual_seed(_epoch_seed(cfg.seed, epoch))
        gen = torch.Generator().manual_seed(_epoch_seed(cfg.seed, epoch))
        model.train()
        total, count = 0.0, 0
        for b in epoch_batches(len(train_idx_t), cfg.batch_size, gen):
            batch = to_dev(get_batch(train_idx_t[b], True))
            loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        train_loss = total / max(count, 1)
        val_loss = evaluate_loss(model, val_idx_t, get_batch, loss_fn, cfg.batch_size, to_dev)
        score = val_loss if len(val_idx_t) else train_loss
        if score <= best_val or best_state is None:
            best_val, best_epoch = score, epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": lr})
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
        if ckpt_path is not None:
            atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                "history": history, "best_val": best_val,
                                "best_epoch": best_epoch, "best_state": best_state,
                                "epoch": epoch}, ckpt_path)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(history=history, best_epoch=best_epoch, best_val_loss=best_val)


@torch.no_grad()
def evaluate_loss(model, idx: torch.Tensor, get_batch, loss_fn, batch_size: int, to_dev) -> float:
    """Mean loss over items ``idx`` in eval mode (NaN for no items)."""
    if len(idx) == 0:
        return float("nan")
    model.eval()
    total = 0.0
    for b in idx.split(batch_size):
        total += float(loss_fn(model, to_dev(get_batch(b, False)))) * len(b)
    return total / len(idx)
