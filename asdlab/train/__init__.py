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
    PRECISIONS,
    check_precision,
    use_precision,
    resolve_precision,
    autocast,
    to_device,
    probe_epoch,
    EpochProbe,
    ProbeStop,
)
