"""Layer 3: the official DCASE metrics of each year's protocol, their jackknife interval and
submission files (pure functions of score tables).

Below the models on purpose: methods that pick an ensemble by a metric (sc_adacos' oracle) and the
run folders both use it, and it needs nothing but core and data.
"""

from asdlab.metrics.protocols import (  # noqa: F401
    PROTOCOLS,
    AUTO,
    DEFAULT_PROTOCOL,
    check_protocol,
    describe_protocol,
    detect_protocol,
    protocol_rule,
    resolve_protocol,
)
from asdlab.metrics.official import (  # noqa: F401
    MAX_FPR,
    EPS,
    DOMAINS,
    LABELS,
    ALL_ROW,
    ALL_ROW_MEAN,
    SUMMARY_ROWS,
    SECTION_COLUMNS,
    REQUIRED_COLUMNS,
    labelled_sections,
    section_metrics,
    official_values,
    official_score,
    official_2020,
    metrics_table,
    summary_row,
    read_metrics_table,
    format_table,
)
from asdlab.metrics.jackknife import (  # noqa: F401
    leave_one_out,
    jackknife_ci95,
    official_jackknife,
)
