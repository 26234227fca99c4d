"""Plotly figure builders. Each returns a ``go.Figure`` that works in JupyterLab and in a
standalone HTML report (selection is done with plotly dropdowns, no kernel needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LABEL_COLORS = {"normal": "#1f77b4", "anomaly": "#d62728"}
ALL = "all"


def _selections(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    machines = sorted(set().union(*(t["machine"].unique() for t in tables.values())))
    domains = sorted(set().union(*(t["domain"].dropna().unique() for t in tables.values())))
    return [(m, d) for m in [ALL, *machines] for d in [ALL, *domains]]


def _select(t: pd.DataFrame, machine: str, domain: str) -> pd.DataFrame:
    keep = np.ones(len(t), bool)
    if machine != ALL:
        keep &= (t["machine"] == machine).to_numpy()
    if domain != ALL:
        keep &= (t["domain"] == domain).to_numpy()
    return t[keep]


def angle_histograms(tables: dict[str, pd.DataFrame], bin_deg: float = 2.5,
                     max_deg: float | None = None) -> go.Figure:
    """The Noisy-ArcMix paper's Figure 1: per loss (panel), overlaid histograms of the angle
    (degrees) between test clips and their class center, normal vs anomalous.

    ``tables``: panel title -> :func:`asdlab.analysis.angle_table` output (columns machine,
    domain, label, angle). A dropdown picks the machine type and domain (all by default).
    ``bin_deg``: bin width in degrees; ``max_deg``: x-axis limit (default: the largest angle).
    """
    names = list(tables)
    hi = max_deg or max(float(t["angle"].max()) for t in tables.values()) + bin_deg
    edges = np.arange(0.0, hi + bin_deg, bin_deg)
    centers = 0.5 * (edges[:-1] + edges[1:])
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True)
    selections = _selections(tables)
    for k, (machine, domain) in enumerate(selections):
        for col, name in enumerate(names, start=1):
            sel = _select(tables[name], machine, domain)
            for label, color in LABEL_COLORS.items():
                angles = sel.loc[sel["label"] == label, "angle"].to_numpy()
                counts, _ = np.histogram(angles, bins=edges)
                share = counts / max(len(angles), 1)
                fig.add_trace(go.Bar(x=centers, y=share, width=bin_deg, name=label, marker_color=color,
                                     opacity=0.6, visible=k == 0, showlegend=col == 1,
                                     legendgroup=label,
                                     hovertemplate=f"{name}<br>{label}: %{{y:.1%}} of clips<br>"
                                                   "angle %{x:.1f} deg<extra></extra>"),
                              row=1, col=col)
    per_sel = 2 * len(names)
    buttons = [dict(label=f"{m} / {d}" if (m, d) != (ALL, ALL) else "all machines / both domains",
                    method="update",
                    args=[{"visible": [j // per_sel == k for j in range(per_sel * len(selections))]}])
               for k, (m, d) in enumerate(selections)]
    fig.update_layout(barmode="overlay", bargap=0, height=360, margin=dict(t=70),
                      title="Angle between test clips and their class center",
                      updatemenus=[dict(buttons=buttons, x=1.0, xanchor="right", y=1.22, yanchor="top")])
    fig.update_xaxes(title_text="angle to class center (deg)", range=[0, hi])
    fig.update_yaxes(title_text="share of clips", row=1, col=1, tickformat=".0%")
    return fig
