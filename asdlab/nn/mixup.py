"""Batch mixup as in the Noisy-ArcMix reference: one ``lam ~ Beta(alpha, alpha)`` per batch, the
partner of item ``i`` is item ``perm[i]`` of a random permutation of the batch, and both the
waveform and the log-mel are mixed with the same ``lam`` and ``perm`` (the log-mel of the mixed
waveform is NOT recomputed).

Randomness comes from a ``numpy.random.Generator``. With ``generator=None`` one is seeded from
torch's global RNG, which :func:`asdlab.train.fit` re-seeds every epoch: a run is then
reproducible and resumes exactly.
"""

from __future__ import annotations

import numpy as np
import torch


def step_rng(generator: np.random.Generator | None = None) -> np.random.Generator:
    """``generator`` when given, else a numpy generator seeded from torch's global RNG, which
    :func:`asdlab.train.fit` re-seeds every epoch: random choices inside a training step are
    then reproducible from the run's seed."""
    if generator is not None:
        return generator
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def sample_lambda(alpha: float, generator: np.random.Generator | None = None) -> float:
    """One mixup weight in [0, 1] drawn from ``Beta(alpha, alpha)`` (reference alpha 0.5: mostly
    near 0 or 1). ``alpha <= 0`` returns 1.0 (no mixing), as the reference does."""
    if alpha <= 0:
        return 1.0
    return float(step_rng(generator).beta(alpha, alpha))


def mix(x: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """``lam * x + (1 - lam) * x[perm]`` for ``x: (B, ...)`` and ``perm: (B,)`` int64."""
    return lam * x + (1 - lam) * x[perm]


def mixup_batch(wave: torch.Tensor, logmel: torch.Tensor, labels: torch.Tensor,
                alpha: float = 0.5, generator: np.random.Generator | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mix a batch: ``wave: (B, n)``, ``logmel: (B, M, T)``, ``labels: (B,)``.

    Returns ``(mixed_wave, mixed_logmel, y_a, y_b, lam)`` with ``y_a = labels`` and
    ``y_b = labels[perm]``, the same ``lam`` and ``perm`` for both inputs.
    """
    rng = step_rng(generator)
    lam = sample_lambda(alpha, rng)
    perm = torch.from_numpy(rng.permutation(len(labels))).to(labels.device)
    return mix(wave, lam, perm), mix(logmel, lam, perm), labels, labels[perm], lam
