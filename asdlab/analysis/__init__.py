"""Layer 10: run folders -> tables: angles, UMAP, detection by kind, sub-clusters, pseudo labels,
comparisons.
"""

from asdlab.analysis.tables import (  # noqa: F401
    META,
    angles_deg,
    angle_table,
    angle_summary,
    angle_summary_by_domain,
    factory_ground_truth,
    UMAP_CACHE_VERSION,
    umap_coords,
    run_umap,
    ALL_KINDS,
    ALL_SEVERITIES,
    DOMAIN_ALL,
    DETECTION_COLUMNS,
    detection_by_kind,
    detection_by_severity,
    styled_metrics,
    embedding_status,
)
