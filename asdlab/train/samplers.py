"""Batch samplers that control the domain mix of training batches.

:class:`DomainBatchSampler` (seed 003, Small Rice DCASE2021: "we applied a weighted sampler to
ensure 20 % samples come from target domain during training"): every batch holds a fixed share
of target-domain clips although they are few (6-10 per machine against hundreds of source
clips). The paper gives no details; here:

- the number of target clips in a batch of ``B`` is ``floor(f B)`` or ``floor(f B) + 1``, the
  latter with probability ``f B - floor(f B)`` (stochastic rounding): the share is exactly ``f``
  in expectation and never off by more than one clip in any batch (with ``B = 32``, ``f = 0.2``:
  6 or 7 target clips, 7 with probability 0.4);
- target clips are drawn uniformly without replacement within the batch (with replacement when
  the batch needs more than there are), source clips likewise; the batch is then shuffled;
- draws are independent across batches (like ``torch.utils.data.WeightedRandomSampler``), so
  an "epoch" is a number of batches, not a pass over every clip;
- all randomness comes from the ``numpy.random.Generator`` passed in: the same seed gives the
  same batches.

``target_fraction=0`` gives source-only batches. A dataset without target clips samples every
batch from the source clips, one without source clips from the target clips. (Methods that
want no re-weighting at all shuffle the clips instead of using this sampler.)
"""

from __future__ import annotations

import numpy as np


class DomainBatchSampler:
    """Index batches with a ``target_fraction`` share of target-domain items.

    ``is_target``: ``(n,)`` bool, True for target-domain items; ``target_fraction`` in [0, 1]
    (0.2). :meth:`draw` returns one batch of indices into the ``n`` items.
    """

    def __init__(self, is_target, target_fraction: float = 0.2):
        is_target = np.asarray(is_target, dtype=bool)
        if is_target.ndim != 1 or is_target.size == 0:
            raise ValueError(f"is_target must be a non-empty 1-D boolean array, got shape {is_target.shape}")
        if not 0.0 <= target_fraction <= 1.0:
            raise ValueError(f"target_fraction must lie in [0, 1], got {target_fraction!r}")
        self.target = np.flatnonzero(is_target)
        self.source = np.flatnonzero(~is_target)
        self.target_fraction = float(target_fraction)

    def n_target(self, batch_size: int, rng: np.random.Generator) -> int:
        """How many target items the next batch of ``batch_size`` gets (stochastic rounding of
        ``target_fraction * batch_size``; all or none when one domain is empty)."""
        if len(self.target) == 0:
            return 0
        if len(self.source) == 0:
            return batch_size
        exact = self.target_fraction * batch_size
        low = int(np.floor(exact))
        return low + int(rng.random() < exact - low)

    def draw(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """One batch: ``(batch_size,)`` int64 indices, shuffled."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size!r}")
        k = self.n_target(batch_size, rng)
        parts = [rng.choice(self.target, k, replace=k > len(self.target)) if k else np.zeros(0, np.int64),
                 rng.choice(self.source, batch_size - k, replace=batch_size - k > len(self.source))
                 if batch_size > k else np.zeros(0, np.int64)]
        batch = np.concatenate(parts).astype(np.int64)
        return batch[rng.permutation(batch_size)]
