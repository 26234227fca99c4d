"""Layer 2: features computed from waveforms (log-mel, frame stacking, fixed-length inputs,
segments, standardisation, median filtering) and the feature cache.

Imports core and data only.
"""

from asdlab.features.logmel import (  # noqa: F401
    EPS,
    LogMelParams,
    mel_power,
    log_mel,
    log_mel_many,
    length_batches,
    stack_frames,
)
