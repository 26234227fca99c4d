"""Layer 3: the official DCASE metrics, their jackknife interval and submission files (pure
functions of score tables).

Below the models on purpose: methods that pick an ensemble by a metric (sc_adacos' oracle) and the
run folders both use it, and it needs nothing but core and data.
"""

from asdlab.metrics.official import (  # noqa: F401
    MAX_FPR,
    EPS,
    DOMAINS,
    LABELS,
    ALL_ROW,
    SECTION_COLUMNS,
    REQUIRED_COLUMNS,
    section_metrics,
    official_values,
    official_score,
    metrics_table,
    read_metrics_table,
    format_table,
)
from asdlab.metrics.jackknife import (  # noqa: F401
    leave_one_out,
    jackknife_ci95,
    official_jackknife,
)
