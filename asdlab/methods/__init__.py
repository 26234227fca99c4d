"""Layer 8: recipes and their registry.

A recipe (one module per paper: ``autoencoder``, ``gram_mfn``, ``sc_adacos``, ``sc_noisy_arcmix``,
``contrastive_ae_cnn``, ``guided_clustering``) chooses its network, loss, presets and default back
end and composes the shared stages of :mod:`asdlab.methods.pipeline`; it registers itself in
:mod:`asdlab.methods.registry`. No recipe imports another.
"""

from asdlab.methods.pipeline import (  # noqa: F401
    SCORE_COLUMNS,
    Embeddings,
    MethodOutput,
    RunContext,
    clip_meta,
    finish,
    log_mels,
    readable_split,
    score_frame,
)
from asdlab.methods.registry import (  # noqa: F401
    PRESETS,
    REGISTRY,
    Method,
    get_method,
    list_methods,
    register,
)
