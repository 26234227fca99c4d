"""Layer 5: the one training loop, batch samplers and devices.
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
