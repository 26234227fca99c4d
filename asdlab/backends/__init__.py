"""Layer 6: back ends: scikit-learn-style scorers of embeddings or residuals (higher = more anomalous),
clustering, and decision thresholds. No I/O, no networks to train.
"""

from asdlab.backends.residual import (  # noqa: F401
    mse_score,
    per_frame,
    SelectiveMahalanobis,
)
