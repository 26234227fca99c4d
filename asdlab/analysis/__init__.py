"""Layer 10: run folders -> tables: angles to class centers, UMAP maps, detection by anomaly kind,
every back end on a run's embeddings, sub-clusters, pseudo labels, comparisons of methods.
"""

from asdlab.analysis.angles import (  # noqa: F401
    META,
    angles_deg,
    angle_table,
    angle_summary,
    angle_summary_by_domain,
)
from asdlab.analysis.embedding_maps import (  # noqa: F401
    UMAP_CACHE_VERSION,
    umap_coords,
    run_umap,
)
from asdlab.analysis.detection import (  # noqa: F401
    ALL_KINDS,
    ALL_SEVERITIES,
    DOMAIN_ALL,
    DETECTION_COLUMNS,
    detection_by_kind,
    detection_by_severity,
)
from asdlab.analysis.reports import (  # noqa: F401
    styled_metrics,
    embedding_status,
)
from asdlab.analysis.convergence import (  # noqa: F401
    learning_curves,
    plateau,
    convergence_summary,
    convergence_table,
)
from asdlab.analysis.claims import (  # noqa: F401
    CLAIMS,
    VARIANTS,
    VERDICT_RULE,
    Claim,
    select_claims,
    claims_table,
    claim_rows,
    claims_markdown,
    load_claims,
    verdict,
)
from asdlab.data.groundtruth import factory_ground_truth  # noqa: F401
