"""Keys of trained models in the feature cache (``<cache>/models/<method>/...``).

A cached model is reused by any later run whose training would produce the same float bytes:
same training files (as they are now: :func:`asdlab.features.cache.file_key`), labels,
training parameters, seed and compute (:func:`compute_key`). Each method states what enters its
key; the AE keeps one file per machine, sub-cluster AdaCos one folder per ensemble member.
"""

from __future__ import annotations

import hashlib
import json

import torch

from asdlab.train.loop import resolve_device, resolve_precision


def compute_key(device: str) -> str:
    """What changes a trained model's float bytes besides the data and parameters: the device type,
    on the CPU torch's intra-op thread count (it changes the summation order), e.g. "cpu-1", and a
    precision other than fp32 (:func:`asdlab.train.loop.use_precision`), e.g. "cpu-1-bf16"."""
    dev = resolve_device(device)
    kind = f"cpu-{torch.get_num_threads()}" if dev.type == "cpu" else dev.type
    precision = resolve_precision()
    return kind if precision == "fp32" else f"{kind}-{precision}"


def model_key(blob: dict) -> str:
    """16 hex digits identifying ``blob`` (JSON-serialisable; key order does not matter)."""
    return hashlib.sha1(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]
