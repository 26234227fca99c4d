"""Whole-clip embeddings from a trained encoder, in eval mode and without gradients.

:func:`embed` takes waveforms of any length and a crop policy; :func:`embed_arrays` takes
inputs that already share one shape (e.g. standardised fixed-length log-mels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from asdlab.core.errors import ConfigError
from asdlab.data.audio import fix_length
from asdlab.features import length_batches
from asdlab.features.segments import segment_starts
from asdlab.train.loop import autocast, resolve_device, resolve_precision, to_device

CROP_POLICIES = ("first", "all", "whole")
"""How :func:`embed` brings clips to the network: ``"first"`` the first ``n_samples`` (copy-padded
when shorter), ``"all"`` the mean over consecutive crops covering the clip, ``"whole"`` as is."""


def _runner(model: torch.nn.Module, dev: torch.device, precision: str | None):
    """``batch (numpy) -> model(batch)`` as float32 numpy, the forward pass in ``precision``
    (:func:`asdlab.train.loop.autocast`), the input copied to ``dev`` by
    :func:`asdlab.train.loop.to_device` (pinned, non-blocking on CUDA)."""
    precision = resolve_precision(precision)
    autocast(dev, precision)  # a device without bf16 autocast stops here, before any work

    def run(batch: np.ndarray) -> np.ndarray:
        with autocast(dev, precision):
            y = model(*to_device([torch.from_numpy(batch)], dev))
        return y.float().cpu().numpy()
    return run


@torch.no_grad()
def embed_arrays(model: torch.nn.Module, x: np.ndarray, device: str = "cpu", batch_size: int = 64,
                 embedding_dim: int = 0, precision: str | None = None) -> np.ndarray:
    """``model(x)`` in eval mode, ``batch_size`` rows at a time: inputs ``(N, ...)`` (e.g.
    standardised log-mels ``(N, n_mels, T)``; an array or anything sliced like one, e.g.
    :class:`asdlab.features.frames.RowsOf`) -> embeddings ``(N, D)`` float32
    (``(0, embedding_dim)`` for no rows). ``precision``: "fp32" / "bf16", None: the run's
    (:func:`asdlab.train.loop.use_precision`)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    run = _runner(model, dev, precision)
    out = [run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, embedding_dim), np.float32)


@torch.no_grad()
def embed(model: torch.nn.Module, waves: Sequence[np.ndarray], n_samples: int | None = None, policy: str = "first",
          hop: int | None = None, device: str = "cpu", batch_size: int = 64, embedding_dim: int = 0,
          precision: str | None = None) -> np.ndarray:
    """Embeddings ``(N, D)`` float32 of the waveforms ``waves`` (``N`` arrays ``(n_i,)``) by
    ``model(batch (B, n)) -> (B, D)`` in eval mode (``(0, embedding_dim)`` for no clips).

    ``policy`` (:data:`CROP_POLICIES`, default ``"first"``):

    - ``"first"``: each clip's first ``n_samples``, copy-padded (tiled) when shorter
      (:func:`asdlab.data.audio.fix_length` "fixed"); ``batch_size`` clips at a time, in order.
    - ``"all"``: the mean of the embeddings of crops of ``n_samples`` starting every ``hop``
      samples (default ``n_samples``: consecutive crops), the last crop ending at the clip's
      end (:func:`asdlab.features.segments.segment_starts`); a clip shorter than ``n_samples``
      is one copy-padded crop. ``batch_size`` crops at a time.
    - ``"whole"``: each clip at its own length (``n_samples`` must be None); clips of equal
      length share a batch (:func:`asdlab.features.length_batches`).

    ``waves``: any sequence (e.g. a :class:`asdlab.features.wavestore.WaveStore`, which reads a
    clip from disk when indexed); one batch of clips or crops is held at a time.

    ``precision``: "fp32" / "bf16" forward passes (:func:`asdlab.train.loop.autocast`), None: the
    run's (:func:`asdlab.train.loop.use_precision`, default "fp32").
    """
    if policy not in CROP_POLICIES:
        raise ConfigError(f"unknown crop policy {policy!r}; choose from {', '.join(CROP_POLICIES)}")
    if (policy == "whole") != (n_samples is None):
        raise ConfigError(f"crop policy {policy!r} needs n_samples "
                          + ("None (the network takes every clip whole)" if policy == "whole" else "> 0"))
    if n_samples is not None and n_samples < 1:
        raise ConfigError(f"n_samples must be positive, got {n_samples}")
    dev = resolve_device(device)
    model = model.to(dev).eval()
    run = _runner(model, dev, precision)
    if not waves:
        return np.zeros((0, embedding_dim), np.float32)
    if policy == "whole":
        parts = [(chunk, run(batch)) for chunk, batch in length_batches(waves, batch_size)]
        out = np.zeros((len(waves), parts[0][1].shape[1]), np.float32)
        for chunk, e in parts:
            out[chunk] = e
        return out
    # one batch of clips (or crops) in memory at a time: ``waves`` may read each clip from disk
    if policy == "first":
        return np.concatenate([run(np.stack([fix_length(waves[j], n_samples, "fixed")
                                             for j in range(i, min(i + batch_size, len(waves)))]))
                               for i in range(0, len(waves), batch_size)])

    def crops():
        for i, w in enumerate(waves):
            w = fix_length(w, n_samples, "fixed") if len(w) < n_samples else w
            for s in segment_starts(len(w), n_samples, hop or n_samples):
                yield i, w[s:s + n_samples]

    parts, owner, batch = [], [], []
    for i, crop in crops():
        owner.append(i)
        batch.append(crop)
        if len(batch) == batch_size:
            parts.append(run(np.stack(batch)))
            batch = []
    if batch:
        parts.append(run(np.stack(batch)))
    e = np.concatenate(parts)
    bounds = np.searchsorted(np.asarray(owner), np.arange(len(waves) + 1))
    return np.stack([e[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])]).astype(np.float32)
