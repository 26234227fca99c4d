"""Layer 5: the one training loop, batch samplers, devices, and embedding clips with a trained
encoder (crop policies ``first`` / ``all`` / ``whole``).
"""

from asdlab.train.loop import (  # noqa: F401
    TrainConfig,
    TrainResult,
    resolve_device,
    split_indices,
    epoch_batches,
    atomic_torch_save,
    fit,
    evaluate_loss,
)
