"""Layer 4: neural building blocks, no I/O: front ends, encoders, heads, losses, augmentations,
and the composite models recipes train (:mod:`asdlab.nn.composite`)."""
