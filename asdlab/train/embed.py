"""Embedding clips with a trained encoder."""

from __future__ import annotations

import numpy as np
import torch

from asdlab.train.loop import resolve_device


@torch.no_grad()
def embed_arrays(model: torch.nn.Module, x: np.ndarray, device: str = "cpu", batch_size: int = 64,
                 embedding_dim: int = 0) -> np.ndarray:
    """``model(x)`` in eval mode, ``batch_size`` rows at a time: inputs ``(N, ...)`` (e.g.
    standardised log-mels ``(N, n_mels, T)``) -> embeddings ``(N, D)`` float32
    (``(0, embedding_dim)`` for no rows)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = [model(torch.from_numpy(x[i:i + batch_size]).to(dev)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, embedding_dim), np.float32)
