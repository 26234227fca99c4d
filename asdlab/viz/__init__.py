"""Layer 11: tables -> plotly figures and ipywidgets explorers.
"""

from asdlab.viz.figures import (  # noqa: F401
    LABEL_COLORS,
    ALL,
    angle_histograms,
    PALETTE,
    FIXED_COLORS,
    COLOR_BY,
    SPLIT_SYMBOLS,
    HOVER,
    embedding_map,
    score_distributions,
    DOMAIN_COLORS,
    detection_figure,
    grid_heatmaps,
    subcluster_angle_scatter,
    pseudo_label_maps,
    silhouette_figure,
)
from asdlab.viz.tables import format_table  # noqa: F401
