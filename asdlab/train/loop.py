"""The one training loop every neural method uses.

Device-agnostic (``device="auto"`` takes a GPU when there is one), seeded, with a tqdm progress
bar, a validation split of the training data, the best checkpoint by validation loss, and
resumption after an interruption.

Reproducibility: epoch ``e`` shuffles with a generator seeded from ``(seed, e)`` and re-seeds
torch's global RNG with the same pair before its first step, so a run resumed from the
checkpoint of epoch ``e - 1`` takes exactly the steps an uninterrupted run would have taken.

GPU path (issue 18): the epoch's loss is summed on the device in float64 and read once per epoch
(no per-batch host synchronisation; the numbers equal the former per-batch Python sums bit for
bit); batches reach a CUDA device from pinned host memory with non-blocking copies; the forward
passes run in ``precision`` "fp32" (default) or "bf16" (``torch.autocast``, on CUDA and CPU).
A run's precision reaches every :func:`fit` and :func:`asdlab.train.embed.embed` inside it through
:func:`use_precision`, so the recipes need not pass it on.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from asdlab.core.atomic import atomic_write
from asdlab.core.errors import ConfigError
from asdlab.train.plateau import ACC_COLUMNS, monitor_kind, plateau


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings.

    ``epochs``; ``batch_size``; ``lr``; ``optimizer`` "adam" or "adamw"; ``weight_decay``;
    ``schedule`` None (constant), "cosine" (per epoch down to ``min_lr``) or "plateau" (constant
    ``lr`` until the monitored curve reaches a plateau, then a cosine down to ``min_lr`` over
    ``anneal_epochs`` epochs; see :func:`fit`); ``val_fraction`` of
    the training items held out to pick the best epoch (0: the epoch with the lowest training loss); ``seed``;
    ``val_groups``: one label per item (e.g. its class) to split each group on its own, never taking
    a group's last ``val_keep`` items (:func:`split_indices`); None: one random split;
    ``precision``: "fp32" or "bf16" (:data:`PRECISIONS`); None (default): the run's precision
    (:func:`use_precision`), which is "fp32" unless a run asks for bf16; ``acc_items``: the size of
    the fixed training sample whose accuracy is recorded when there is no validation split and the
    method gives an ``accuracy_fn`` (default 256); ``anneal_epochs``, ``plateau_min_epochs``
    (default 8) and ``plateau_tol`` (None: the rule's default, 2 % of a loss or 2 points of an
    accuracy): the ``"plateau"`` schedule's settings.
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
    precision: str | None = None
    acc_items: int = 256
    anneal_epochs: int = 0
    plateau_min_epochs: int = 8
    plateau_tol: float | None = None


@dataclasses.dataclass
class TrainResult:
    """``history``: one dict per epoch (epoch, train_loss, val_loss, lr, and with an
    ``accuracy_fn`` ``val_acc`` or ``train_acc``); ``best_epoch``."""

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


PRECISIONS = ("fp32", "bf16")
"""Numeric precisions of the forward passes: ``"fp32"`` (default, every score as before) or
``"bf16"`` (``torch.autocast`` to bfloat16: matrix products and convolutions in bf16, reductions
and losses in float32; weights, gradients and optimiser state stay float32)."""

_PRECISION: contextvars.ContextVar[str] = contextvars.ContextVar("asdlab_precision", default="fp32")


def check_precision(precision) -> str:
    """``precision`` when it is one of :data:`PRECISIONS`, else one :class:`ConfigError` line."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: not a precision; use fp32 (default) or bf16")
    return precision


@contextlib.contextmanager
def use_precision(precision: str) -> Iterator[str]:
    """Within the block, :func:`fit` (``TrainConfig.precision`` None) and
    :func:`asdlab.train.embed.embed` / ``embed_arrays`` (``precision`` None) run in ``precision``
    ("fp32" or "bf16").
    :func:`asdlab.runs.run_method` wraps a method's run in it; per thread / asyncio task."""
    token = _PRECISION.set(check_precision(precision))
    try:
        yield precision
    finally:
        _PRECISION.reset(token)


def resolve_precision(precision: str | None = None) -> str:
    """``precision`` checked, or for None the precision of the enclosing :func:`use_precision`
    (default "fp32")."""
    return _PRECISION.get() if precision is None else check_precision(precision)


def autocast(device: torch.device | str, precision: str | None = None):
    """The context the forward passes run in: a no-op for "fp32", ``torch.autocast(device type,
    bfloat16)`` for "bf16". A device type without autocast is one :class:`ConfigError` line."""
    precision = resolve_precision(precision)
    kind = torch.device(device).type
    if precision == "fp32":
        return contextlib.nullcontext()
    if not torch.amp.is_autocast_available(kind):
        raise ConfigError(f"precision {precision!r}: torch {torch.__version__} has no autocast on device "
                          f"{kind!r}; use fp32")
    return torch.autocast(kind, dtype=torch.bfloat16)


def to_device(tensors: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """``tensors`` on ``device``; to CUDA from pinned host memory with non-blocking copies (the
    copy overlaps the work queued before it), elsewhere plain ``.to``."""
    if device.type != "cuda":
        return [t.to(device) for t in tensors]
    return [(t.pin_memory() if t.device.type == "cpu" else t).to(device, non_blocking=True) for t in tensors]


def _weighted(loss: torch.Tensor, n: int) -> torch.Tensor:
    """``loss * n`` in float64 on the loss's device (CPU for MPS, which has no float64): summed
    over batches, it equals the former ``float(loss) * n`` Python sums bit for bit."""
    t = loss.detach()
    return t.to("cpu" if t.device.type == "mps" else t.device, torch.float64) * n


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclasses.dataclass
class EpochProbe:
    """What :func:`probe_epoch` measured: one dict per probed :func:`fit` epoch with ``desc``,
    ``items`` and ``batches`` trained, ``seconds`` (first batch included), and ``steady_items`` /
    ``steady_seconds`` (from the end of the first batch: no start-up, warm-up or autotuning)."""

    max_batches: int | None = None
    records: list[dict] = dataclasses.field(default_factory=list)


class ProbeStop(Exception):
    """Raised by :func:`fit` after the epoch an :class:`EpochProbe` measured (ends the run)."""


_PROBE: contextvars.ContextVar[EpochProbe | None] = contextvars.ContextVar("asdlab_probe", default=None)


@contextlib.contextmanager
def probe_epoch(max_batches: int | None = None) -> Iterator[EpochProbe]:
    """Benchmark hook: the first :func:`fit` epoch started within the block is timed (the device
    synchronised after its first and last batch), stopped after ``max_batches`` batches (None: the
    whole epoch), recorded in the yielded :class:`EpochProbe`, and ends the run with
    :class:`ProbeStop` (no validation, checkpoint or scoring). Used by ``benchmarks/gpu.py``."""
    probe = EpochProbe(max_batches=max_batches)
    token = _PROBE.set(probe)
    try:
        yield probe
    finally:
        _PROBE.reset(token)


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


FUSED_DEVICES = ("cpu", "cuda")
"""Devices whose parameters get torch's fused Adam / AdamW: one kernel per step instead of a
Python loop over the parameter tensors (the same update up to float rounding; on this 2-core
machine the dense AE's training step took 16.6 ms -> 13.9 ms and the course AE run 273 -> 237 s;
MobileFaceNet's step 260 -> 224 ms alone, though its report pages showed no gain end to end)."""


def _make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if cfg.optimizer not in classes:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adam, adamw)")
    params = list(params)
    fused = all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in params) or None
    return classes[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def _lr_at(cfg: TrainConfig, epoch: int, anneal_start: int | None = None) -> float:
    """The learning rate of ``epoch``; ``anneal_start``: the first annealing epoch of a
    ``"plateau"`` schedule (None while its constant phase lasts)."""
    if cfg.schedule is None:
        return cfg.lr
    if cfg.schedule == "cosine":
        frac = epoch / max(1, cfg.epochs - 1)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * frac))
    if cfg.schedule == "plateau":
        if anneal_start is None or epoch < anneal_start:
            return cfg.lr
        frac = (epoch - anneal_start + 1) / max(1, cfg.anneal_epochs)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(frac, 1.0)))
    raise ValueError(f"unknown schedule {cfg.schedule!r} (None, 'cosine', 'plateau')")


def plateau_phase(cfg: TrainConfig, history: list[dict]) -> int | None:
    """The first annealing epoch of a ``"plateau"`` schedule given the epochs trained so far,
    or None while the constant phase goes on. The constant phase ends after the first epoch
    ``e >= plateau_min_epochs - 1`` at which :func:`asdlab.train.plateau.plateau` calls the
    monitored curve of epochs ``0..e`` "converged" (an accuracy where recorded, else the
    validation loss, else the training loss), or after ``epochs - anneal_epochs`` epochs at most."""
    for row in history:
        if row.get("phase") == "anneal":
            return int(row["epoch"])
    n = len(history)
    if n >= max(1, cfg.epochs - cfg.anneal_epochs):
        return n
    if n < max(cfg.plateau_min_epochs, 1):
        return None
    column = monitored_column(history)
    values = [row[column] for row in history]
    if plateau(values, tol=cfg.plateau_tol, kind=monitor_kind(column))["verdict"] == "converged":
        return n
    return None


def monitored_column(history: list[dict]) -> str:
    """The history column the plateau rule reads: ``val_acc`` / ``train_acc`` when recorded,
    else ``val_loss`` when finite, else ``train_loss``."""
    last = history[-1]
    for column in ACC_COLUMNS:
        if column in last:
            return column
    return "val_loss" if math.isfinite(last.get("val_loss", math.nan)) else "train_loss"


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
    accuracy_fn: Callable[[torch.nn.Module, Sequence[torch.Tensor]], torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave it holding the best weights.

    ``n_items``: number of training items (clips, vectors...); ``get_batch(idx, train)`` returns
    the tensors of items ``idx`` (a 1-D LongTensor; ``train`` False for validation, e.g. no
    random crop); ``loss_fn(model, tensors)`` returns a scalar loss. Tensors are moved to the
    device here (:func:`to_device`); ``loss_fn`` runs in ``cfg.precision`` (:func:`autocast`), the
    backward pass and the optimiser step outside it. ``checkpoint``: a file updated after every
    epoch; if it exists, training resumes after its last completed epoch.

    ``accuracy_fn(model, tensors)``: the number of items of a clean batch (``get_batch(idx,
    False)``, eval mode) whose class the model predicts right. With it, every epoch also records
    the classification accuracy: ``val_acc`` on the validation items, or where there are none
    ``train_acc`` on ``cfg.acc_items`` training items drawn once from ``cfg.seed``. A margin loss
    keeps falling while it tightens angles the decisions no longer need; the accuracy shows when
    the classifier itself stopped learning (:mod:`asdlab.analysis.convergence`).

    ``cfg.schedule == "plateau"``: training runs at ``cfg.lr`` until :func:`plateau_phase` finds
    the monitored curve on a plateau (early stopping at the plateau), then anneals to
    ``cfg.min_lr`` over ``cfg.anneal_epochs`` epochs and stops; ``cfg.epochs`` caps the whole.
    Each history row then has ``phase`` "train" or "anneal"; the verdict of the report reads the
    "train" rows.
    """
    dev = resolve_device(device) if isinstance(device, str) else device
    precision = resolve_precision(cfg.precision)
    cast = lambda: autocast(dev, precision)  # noqa: E731
    cast()  # a device without bf16 autocast stops here, before any work
    model.to(dev)
    train_idx, val_idx = split_indices(n_items, cfg.val_fraction, cfg.seed, cfg.val_groups, cfg.val_keep)
    train_idx_t, val_idx_t = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    acc_col, acc_idx_t = accuracy_items(train_idx, val_idx, cfg)
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
        return to_device(tensors, dev)

    probe = _PROBE.get()
    bar = tqdm(range(start, cfg.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        anneal_start = plateau_phase(cfg, history) if cfg.schedule == "plateau" else None
        if anneal_start is not None and epoch >= anneal_start + cfg.anneal_epochs:
            break  # the plateau schedule's annealing is done
        lr = _lr_at(cfg, epoch, anneal_start)
        for group in opt.param_groups:
            group["lr"] = lr
        torch.manual_seed(_epoch_seed(cfg.seed, epoch))
        gen = torch.Generator().manual_seed(_epoch_seed(cfg.seed, epoch))
        model.train()
        total, count = 0.0, 0  # total: a float64 tensor on the device after the first batch
        clock = _Clock(probe, dev) if probe is not None else None
        for i, b in enumerate(epoch_batches(len(train_idx_t), cfg.batch_size, gen)):
            if clock is not None and clock.stop_before(i, count):
                break
            batch = to_dev(get_batch(train_idx_t[b], True))
            with cast():
                loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total = total + _weighted(loss, len(b))
            count += len(b)
        if clock is not None:
            clock.finish(desc, count)
        train_loss = float(total) / max(count, 1)  # the epoch's one host synchronisation
        val_loss = evaluate_loss(model, val_idx_t, get_batch, loss_fn, cfg.batch_size, to_dev, cast)
        score = val_loss if len(val_idx_t) else train_loss
        if score <= best_val or best_state is None:
            best_val, best_epoch = score, epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": lr}
        if accuracy_fn is not None:
            row[acc_col] = evaluate_accuracy(model, acc_idx_t, get_batch, accuracy_fn, cfg.batch_size, to_dev, cast)
        if cfg.schedule == "plateau":
            row["phase"] = "train" if anneal_start is None else "anneal"
        history.append(row)
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


class _Clock:
    """The timing of one probed epoch (:func:`probe_epoch`)."""

    def __init__(self, probe: EpochProbe, device: torch.device):
        self.probe, self.device = probe, device
        self.t0 = self.t1 = time.perf_counter()
        self.items1 = self.batches = 0

    def stop_before(self, i: int, count: int) -> bool:
        """True when batch ``i`` is past the probe's limit; marks the end of the first batch."""
        if self.probe.max_batches is not None and i >= self.probe.max_batches:
            return True
        self.batches = i + 1
        if i == 1:
            _synchronize(self.device)
            self.t1, self.items1 = time.perf_counter(), count
        return False

    def finish(self, desc: str, count: int) -> None:
        """Record the epoch (``count`` items trained) and end the run with :class:`ProbeStop`."""
        _synchronize(self.device)
        t = time.perf_counter()
        steady = count > self.items1 > 0
        self.probe.records.append({"desc": desc, "items": count, "batches": self.batches, "seconds": t - self.t0,
                                   "steady_items": count - self.items1 if steady else count,
                                   "steady_seconds": t - self.t1 if steady else t - self.t0})
        raise ProbeStop(f"{desc}: probed one epoch ({count} items)")


def accuracy_items(train_idx: np.ndarray, val_idx: np.ndarray, cfg: TrainConfig) -> tuple[str, torch.Tensor]:
    """``(column, items)`` whose accuracy :func:`fit` records: ``("val_acc", val_idx)`` with a
    validation split, else ``("train_acc", sample)``, ``cfg.acc_items`` training items drawn without
    replacement from ``cfg.seed`` (all of them when fewer), sorted."""
    if len(val_idx):
        return "val_acc", torch.from_numpy(np.asarray(val_idx))
    rng = np.random.default_rng([cfg.seed, 7_177])
    n = min(len(train_idx), max(1, cfg.acc_items))
    sample = np.sort(rng.choice(np.asarray(train_idx), size=n, replace=False)) if len(train_idx) else train_idx
    return "train_acc", torch.from_numpy(np.asarray(sample, dtype=np.int64))


def evaluate_accuracy(model, idx: torch.Tensor, get_batch, accuracy_fn, batch_size: int, to_dev,
                      cast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> float:
    """Fraction of items ``idx`` that ``accuracy_fn`` counts as right, in eval mode on clean
    batches (NaN for no items)."""
    return _mean_over(model, idx, get_batch, accuracy_fn, batch_size, to_dev, cast, lambda right, n: right)


def evaluate_loss(model, idx: torch.Tensor, get_batch, loss_fn, batch_size: int, to_dev,
                  cast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> float:
    """Mean loss over items ``idx`` in eval mode (NaN for no items); ``cast()``: the context of the
    forward passes (:func:`autocast`). Summed on the device, read once."""
    return _mean_over(model, idx, get_batch, loss_fn, batch_size, to_dev, cast, _weighted)


@torch.no_grad()
def _mean_over(model, idx: torch.Tensor, get_batch, fn, batch_size: int, to_dev, cast, per_batch) -> float:
    """``sum(per_batch(fn(model, batch), len(batch))) / len(idx)`` over eval-mode clean batches of
    ``idx``, summed on the device and read once; NaN for no items."""
    if len(idx) == 0:
        return float("nan")
    model.eval()
    total = 0.0
    for b in idx.split(batch_size):
        with cast():
            value = fn(model, to_dev(get_batch(b, False)))
        total = total + per_batch(value, len(b))
    return float(total) / len(idx)
