"""Layer 6: back ends: scikit-learn-style scorers of embeddings or residuals (higher = more anomalous),
their registry (:mod:`asdlab.backends.registry`), clustering, and decision thresholds. No I/O, no
networks to train.
"""

from asdlab.backends.residual import (  # noqa: F401
    mse_score,
    per_frame,
    SelectiveMahalanobis,
)
from asdlab.backends.registry import (  # noqa: F401
    BACKENDS,
    NEED_FILES,
    backend_class,
    check_params,
    get_backend,
    list_backends,
)
