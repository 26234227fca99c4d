"""Plotly figure builders. Each returns a ``go.Figure`` that works in JupyterLab and in a
standalone HTML report (selection is done with plotly dropdowns, no kernel needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LABEL_COLORS = {"normal": "#1f77b4", "anomaly": "#d62728"}
ALL = "all"
MENU_ITEM_PX = 36
"""Height in pixels of one entry of an open plotly dropdown (font 12, measured in Chromium: 35 px; used to size figures so
that every entry of a menu is inside the figure)."""
MENU_ROW_PX = 40
"""Height in pixels reserved for a row of closed dropdown menus."""


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
    The tables' ``attrs["note"]`` (what :func:`~asdlab.analysis.angle_table` left out or measured
    to the section's nearest class) is shown under the title; an empty table gives empty panels.
    """
    names = list(tables)
    largest = [float(t["angle"].max()) for t in tables.values() if len(t)]
    hi = max_deg or (max(largest) if largest else 90.0) + bin_deg
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
    n_traces = per_sel * len(selections)
    machines = list(dict.fromkeys(m for m, _ in selections))
    domains = list(dict.fromkeys(d for _, d in selections))

    def visible(machine, domain):
        k = selections.index((machine, domain))
        return [j // per_sel == k for j in range(n_traces)]

    def domain_buttons(machine):
        return [dict(label="both domains" if d == ALL else d, method="update",
                     args=[{"visible": visible(machine, d)}]) for d in domains]

    machine_buttons = [dict(label="all machines" if m == ALL else m, method="update",
                            args=[{"visible": visible(m, ALL)},
                                  {"updatemenus[1].buttons": domain_buttons(m), "updatemenus[1].active": 0}])
                       for m in machines]
    title = _with_notes("Angle between test clips and their class center", tables)
    top = 40 + 18 * title.count("<br>") + MENU_ROW_PX + 30  # title, the menus, the panel titles
    fig.update_layout(barmode="overlay", bargap=0, margin=dict(t=top, b=60),
                      title=dict(text=title, y=1.0, yref="container", yanchor="top", pad=dict(t=12)),
                      height=menu_height(360, top, 60, len(machines)))
    plot_px = fig.layout.height - top - 60
    menu_y = 1.0 + 30 / plot_px  # just above the panel titles
    fig.update_layout(updatemenus=[
        dict(buttons=machine_buttons, x=0.0, xanchor="left", y=menu_y, yanchor="bottom"),
        dict(buttons=domain_buttons(ALL), x=0.25, xanchor="left", y=menu_y, yanchor="bottom")])
    fig.update_xaxes(title_text="angle to class center (deg)", range=[0, hi])
    fig.update_yaxes(title_text="share of clips", row=1, col=1, tickformat=".0%")
    return fig


def menu_height(least: int, top: int, bottom: int, entries: int) -> int:
    """Figure height in pixels (at least ``least``) whose plot area, between margins ``top`` and
    ``bottom``, holds an open dropdown of ``entries`` entries hanging from the top of the plot."""
    return max(least, top + bottom + MENU_ITEM_PX * (entries + 1))


def _with_notes(title: str, tables: dict[str, pd.DataFrame]) -> str:
    """``title`` with the tables' distinct ``attrs["note"]`` lines under it (plotly subtitle)."""
    notes = [n for n in dict.fromkeys(t.attrs.get("note", "") for t in tables.values()) if n]
    return title + "".join(f"<br><sup>{n}</sup>" for n in notes)


# --------------------------------------------------------------------------------------------
# UMAP map of embeddings

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#ad494a", "#8ca252", "#de9ed6", "#e7ba52", "#5254a3",
           "#843c39", "#637939", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")
"""Category colors of :func:`embedding_map`, used in order and cycled beyond 24 categories."""
FIXED_COLORS = {"label": {"normal": LABEL_COLORS["normal"], "anomaly": LABEL_COLORS["anomaly"]},
                "domain": {"source": "#2ca02c", "target": "#ff7f0e"},
                "split": {"train": "#7f7f7f", "test": "#9467bd"}}
COLOR_BY = {"domain": "domain", "label": "label (train clips are normal)", "split": "split",
            "machine": "machine", "attributes": "attributes (file names)",
            "true_attributes": "true attributes (factory)", "anomaly_kind": "anomaly kind (factory)",
            "subcluster": "sub-cluster (class #index)"}
"""Columns :func:`embedding_map` can color by, with their dropdown labels."""
SPLIT_SYMBOLS = {"train": "circle", "test": "diamond"}
HOVER = ["file", "machine", "domain", "label", "split", "attributes", "true_attributes", "anomaly_kind",
         "subcluster"]


def _categories(points: pd.DataFrame, column: str) -> pd.Series:
    """Category of every point for ``column`` as strings ("unknown" where missing)."""
    values = points[column].astype(object)
    if column == "anomaly_kind":
        values = values.where(points["label"] != "normal", "normal")
    values = values.where(values.notna() & (values.astype(str) != ""), "unknown")
    return values.astype(str)


def embedding_map(points: pd.DataFrame, color_by=tuple(COLOR_BY), title: str = "UMAP of the embeddings",
                  max_legend: int = 60) -> go.Figure:
    """2-D scatter of embedded clips with a dropdown choosing what colors them, and one
    choosing the machine type.

    ``points``: :func:`asdlab.analysis.run_umap` output (columns x, y, file, machine, split and
    the ``color_by`` columns). ``color_by``: columns among :data:`COLOR_BY`; those absent from
    ``points`` or without any known value are left out of the dropdown. Symbols tell train
    (circle) from test (diamond) clips; hovering shows file name, machine, domain, label,
    attributes and, where known, the factory's true attributes and anomaly kind. Each point is
    stored once; a color option only adds the points' color strings, so the figure stays light
    for thousands of clips. The legend only names the colors (clicking it does nothing) and lists
    the categories of the machine shown.
    ``max_legend``: categories listed in the legend per option.
    """
    missing = [c for c in ("x", "y", "file", "machine", "split") if c not in points.columns]
    if missing:
        raise ValueError(f"embedding_map: points lack column(s) {', '.join(missing)}")
    unknown = [c for c in color_by if c not in COLOR_BY]
    if unknown:
        raise ValueError(f"embedding_map: cannot color by {unknown}; choose from {list(COLOR_BY)}")
    options = [c for c in color_by if c in points.columns
               and (_categories(points, c) != "unknown").any()]
    if not options:
        raise ValueError("embedding_map: none of the color_by columns has values")
    pts = points.reset_index(drop=True)
    cats, colors = {}, {}
    for c in options:
        values = _categories(pts, c)
        names = sorted(values.unique(), key=lambda v: (v == "unknown", v))
        fixed = FIXED_COLORS.get(c, {})
        colors[c] = {n: fixed.get(n, "#c7c7c7" if n == "unknown" else PALETTE[i % len(PALETTE)])
                     for i, n in enumerate(names)}
        cats[c] = values
    hover = [c for c in HOVER if c in pts.columns]
    machines = sorted(pts["machine"].unique())
    groups = [(m, s) for m in machines for s in ("train", "test")
              if ((pts["machine"] == m) & (pts["split"] == s)).any()]
    fig = go.Figure()
    first = options[0]
    for m, s in groups:
        sel = pts[(pts["machine"] == m) & (pts["split"] == s)]
        custom = sel[hover].astype(object).where(sel[hover].notna(), "").astype(str).to_numpy()
        fig.add_trace(go.Scatter(
            x=sel["x"].to_numpy(np.float32), y=sel["y"].to_numpy(np.float32), mode="markers",
            name=f"{m} {s}", showlegend=False, customdata=custom,
            marker=dict(color=[colors[first][v] for v in cats[first][sel.index]],
                        symbol=SPLIT_SYMBOLS.get(s, "circle"), size=6 if s == "train" else 7,
                        opacity=0.8, line=dict(width=0)),
            hovertemplate="<br>".join(f"{h}: %{{customdata[{i}]}}" for i, h in enumerate(hover))
                          + "<extra></extra>"))
    n_data = len(fig.data)
    # Legend-only traces per (option, machine shown, category present there): the color menu
    # sets their ``showlegend`` (the option), the machine menu their ``visible`` (the machine),
    # so the two menus never undo each other and the legend lists what the machine shown has.
    legend_of = []  # (option, machine or ALL) of each legend-only trace; option None: split symbols
    for c in options:
        for g in [ALL, *machines]:
            present = set(cats[c][pts["machine"] == g] if g != ALL else cats[c])
            for name, color in [(n, col) for n, col in colors[c].items() if n in present][:max_legend]:
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=c,
                                         marker=dict(color=color, size=9), showlegend=c == first,
                                         visible=g == ALL, hoverinfo="skip"))
                legend_of.append((c, g))
    for s, symbol in SPLIT_SYMBOLS.items():
        if (pts["split"] == s).any():
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{s} clips",
                                     marker=dict(color="#444", symbol=symbol, size=8),
                                     legendgroup="split-symbols", hoverinfo="skip"))
            legend_of.append((None, ALL))
    idx = list(range(len(fig.data)))
    color_buttons = []
    for c in options:
        marker_colors = [[colors[c][v] for v in cats[c][pts.index[(pts["machine"] == m) & (pts["split"] == s)]]]
                         for m, s in groups]
        marker_colors += [t.marker.color for t in fig.data[n_data:]]
        shown = [False] * n_data + [o == c or o is None for o, _ in legend_of]
        color_buttons.append(dict(label=COLOR_BY[c], method="update",
                                  args=[{"marker.color": marker_colors, "showlegend": shown},
                                        {"legend.title.text": COLOR_BY[c]}, idx]))
    machine_buttons = [dict(label="all machines" if mm == ALL else mm, method="update",
                            args=[{"visible": [mm in (ALL, m) for m, _ in groups]
                                              + [o is None or g == mm for o, g in legend_of]},
                                  {"xaxis.autorange": True, "yaxis.autorange": True}, idx])
                       for mm in [ALL, *machines]]
    fig.update_layout(
        title=title, height=menu_height(600, 110, 80, max(len(machine_buttons), len(color_buttons))),
        legend=dict(title=dict(text=COLOR_BY[first]), itemclick=False,
                                             itemdoubleclick=False),
        xaxis=dict(title="UMAP 1", showticklabels=False, zeroline=False),
        yaxis=dict(title="UMAP 2", showticklabels=False, zeroline=False),
        margin=dict(t=110, b=80),  # the title, then the two menus right above the plot
        updatemenus=[dict(buttons=color_buttons, x=0.0, xanchor="left", y=1.01, yanchor="bottom"),
                     dict(buttons=machine_buttons, x=0.5, xanchor="left", y=1.01, yanchor="bottom")],
        annotations=[dict(text="color by", x=0.0, xref="paper", xanchor="right", y=1.02, yref="paper",
                          yanchor="bottom", showarrow=False),
                     dict(text="machine", x=0.5, xref="paper", xanchor="right", y=1.02, yref="paper",
                          yanchor="bottom", showarrow=False)])
    return fig


# --------------------------------------------------------------------------------------------
# Scores and detection


def _grid(n: int, cols: int) -> tuple[int, int]:
    cols = max(1, min(cols, n))
    return -(-n // cols), cols


def score_distributions(scores: pd.DataFrame, cols: int = 4, points: bool = True) -> go.Figure:
    """Per machine type (panel), box plots of the anomaly scores of normal and anomalous test
    clips, side by side per domain.

    ``scores``: one row per clip with machine, domain, label, score and optionally file (shown
    on hover). ``points``: draw every clip next to its box. Each panel has its own score axis
    (scores of different machines are not comparable).
    """
    missing = [c for c in ("machine", "label", "score") if c not in scores.columns]
    if missing:
        raise ValueError(f"score_distributions: scores lack column(s) {', '.join(missing)}")
    machines = sorted(scores["machine"].unique())
    rows, cols = _grid(len(machines), cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=machines, horizontal_spacing=0.06,
                        vertical_spacing=0.12 if rows > 1 else 0.1)
    domain = scores["domain"].fillna("no domain") if "domain" in scores.columns else pd.Series("all", scores.index)
    for k, m in enumerate(machines):
        for label, color in LABEL_COLORS.items():
            sel = (scores["machine"] == m) & (scores["label"] == label)
            fig.add_trace(go.Box(x=domain[sel].to_numpy(), y=scores.loc[sel, "score"].to_numpy(float),
                                 name=label, legendgroup=label, showlegend=k == 0, marker_color=color,
                                 boxpoints="all" if points else False, jitter=0.6, pointpos=0,
                                 marker=dict(size=3), line=dict(width=1),
                                 text=scores.loc[sel, "file"].to_numpy() if "file" in scores.columns else None,
                                 hovertemplate=f"{m} {label}<br>%{{x}}: score %{{y:.4g}}<br>%{{text}}<extra></extra>"),
                          row=k // cols + 1, col=k % cols + 1)
    fig.update_layout(boxmode="group", boxgap=0.2, boxgroupgap=0.1, height=280 * rows + 60, title="Anomaly scores of the test clips",
                      margin=dict(t=80))
    fig.update_yaxes(title_text="score", col=1)
    return fig


DOMAIN_COLORS = {"all": "#7f7f7f", "source": "#2ca02c", "target": "#ff7f0e"}


def _group_rank(name: str) -> tuple:
    """Sort key of detection groups: "all ..." first, then severity bins by their lower edge,
    then kinds by name."""
    if name.startswith("all"):
        return (0, 0.0, name)
    try:
        return (1, float(name.split("-")[0]), name)
    except ValueError:
        return (2, 0.0, name)


def detection_figure(by_kind: pd.DataFrame, by_severity: pd.DataFrame | None = None) -> go.Figure:
    """AUC per anomaly kind (top) and per severity bin (bottom), per machine type, with one
    bar color per domain (``all``: both domains pooled) and a dashed line at chance (0.5).

    ``by_kind`` / ``by_severity``: :func:`asdlab.analysis.detection_by_kind` /
    :func:`~asdlab.analysis.detection_by_severity` tables; an empty or None table leaves its
    panel out, and with neither the figure only says that no ground truth is known.
    """
    panels = [(t, col, title) for t, col, title in
              [(by_kind, "kind", "AUC per anomaly kind"), (by_severity, "severity", "AUC per severity bin")]
              if t is not None and len(t)]
    if not panels:
        fig = go.Figure()
        fig.add_annotation(text="no anomaly kinds or severities known for this dataset "
                                "(only the built-in factory data has them)",
                           x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
        fig.update_layout(height=200, xaxis_visible=False, yaxis_visible=False)
        return fig
    fig = make_subplots(rows=len(panels), cols=1, subplot_titles=[p[2] for p in panels],
                        vertical_spacing=0.25 if len(panels) > 1 else 0.1)
    for r, (t, col, _) in enumerate(panels, start=1):
        # plotly orders a multicategory axis by the first appearance of each level's values
        # over all traces: an invisible first trace fixes "all" first, then bins by edge
        pairs = t[["machine", col]].astype(str).drop_duplicates()
        rank = pairs[col].map(_group_rank)
        pairs = pairs.assign(rank=rank).sort_values(["rank", "machine"], kind="stable")
        fig.add_trace(go.Scatter(x=[pairs["machine"].tolist(), pairs[col].tolist()], y=[None] * len(pairs),
                                 mode="markers", showlegend=False, hoverinfo="skip", name="order"),
                      row=r, col=1)
        for d, color in DOMAIN_COLORS.items():
            sel = t[t["domain"] == d]
            if sel.empty:
                continue
            fig.add_trace(go.Bar(x=[sel["machine"].tolist(), sel[col].astype(str).tolist()],
                                 y=sel["auc"].to_numpy(float), name=d, legendgroup=d, showlegend=r == 1,
                                 marker_color=color,
                                 customdata=sel[["n_anomaly", "n_normal"]].to_numpy(),
                                 hovertemplate=f"%{{x}}<br>{d}: AUC %{{y:.3f}}<br>%{{customdata[0]}} anomalous "
                                               "vs %{customdata[1]} normal clips<extra></extra>"),
                          row=r, col=1)
        fig.add_hline(y=0.5, line_dash="dash", line_color="#444", row=r, col=1)
        fig.update_yaxes(title_text="AUC", range=[0, 1.02], row=r, col=1)
    fig.update_layout(barmode="group", height=380 * len(panels), legend_title_text="domain",
                      title="Detection of each anomaly kind and severity", margin=dict(t=80))
    return fig


# --------------------------------------------------------------------------------------------
# Sub-cluster methods


def grid_heatmaps(grids: dict[str, pd.DataFrame]) -> go.Figure:
    """Seed 000 Table 2 as heatmaps, one panel per metric: ``grids`` maps a panel title to a
    :func:`asdlab.runs.sweeps.grid_table` frame (index SC, columns SC(FeatEx),
    values in [0, 1], NaN where no run; with a same-shaped frame of sds over seeds in
    ``attrs["sd"]``, as :func:`asdlab.analysis.claims.claims_grid` gives it, cells read "mean ± sd").
    Cells show the value in percent; each panel has its own color scale (darker = better)."""
    names = list(grids)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.12)
    for col, name in enumerate(names, start=1):
        g = grids[name]
        z = g.to_numpy(float)
        sd = g.attrs.get("sd")
        sd = np.full(z.shape, np.nan) if sd is None else sd.reindex(index=g.index, columns=g.columns).to_numpy(float)
        text = [["" if np.isnan(v) else f"{100 * v:.1f}" + ("" if np.isnan(e) else f" ± {100 * e:.1f}")
                 for v, e in zip(row, erow)] for row, erow in zip(z, sd)]
        fig.add_trace(go.Heatmap(z=z, x=[str(c) for c in g.columns], y=[str(i) for i in g.index],
                                 text=text, texttemplate="%{text}", colorscale="Blues", showscale=False,
                                 hovertemplate=f"{name}<br>SC %{{y}}, SC(FeatEx) %{{x}}: %{{text}} %<extra></extra>"),
                      row=1, col=col)
        fig.update_xaxes(title_text="SC(FeatEx): sub-clusters of the FeatEx head", type="category", row=1, col=col)
        fig.update_yaxes(title_text="SC: sub-clusters of the main head", type="category", autorange="reversed",
                         row=1, col=col)
    fig.update_layout(height=380, width=max(420, 400 * len(names)), margin=dict(t=80),
                      title="Sub-cluster grid (seed 000 Table 2), percent")
    return fig


def subcluster_angle_scatter(table: pd.DataFrame, max_deg: float | None = None) -> go.Figure:
    """Each test clip's angle to its class center (x) against the angle to the nearest
    sub-cluster center of its class (y), in degrees, normal vs anomalous; a dropdown picks the
    machine type. Points below the diagonal are closer to one sub-cluster than to the class's
    mean direction. ``table``: :func:`asdlab.analysis.subclusters.subcluster_table` output."""
    test = table[table["split"] == "test"] if "split" in table.columns else table
    if test.empty:
        raise ValueError("subcluster_angle_scatter: no test clips")
    hi = max_deg or float(test[["angle_class", "angle_subcluster"]].to_numpy().max()) + 2.0
    machines = [ALL, *sorted(test["machine"].unique())]
    fig = go.Figure()
    for k, m in enumerate(machines):
        sel = _select(test, m, ALL)
        for label, color in LABEL_COLORS.items():
            t = sel[sel["label"] == label]
            fig.add_trace(go.Scatter(x=t["angle_class"].to_numpy(float), y=t["angle_subcluster"].to_numpy(float),
                                     mode="markers", name=label, legendgroup=label, visible=k == 0,
                                     marker=dict(color=color, size=5, opacity=0.7),
                                     text=t["file"].to_numpy() if "file" in t.columns else None,
                                     hovertemplate=f"{label}<br>class %{{x:.1f}} deg, sub-cluster %{{y:.1f}} deg"
                                                   "<br>%{text}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi], mode="lines", line=dict(color="#444", dash="dash", width=1),
                             name="equal angles", hoverinfo="skip"))
    n = 2 * len(machines)
    buttons = [dict(label="all machines" if m == ALL else m, method="update",
                    args=[{"visible": [j // 2 == k for j in range(n)] + [True]}])
               for k, m in enumerate(machines)]
    fig.update_layout(height=menu_height(480, 90, 80, len(buttons)), width=560,
                      title="Test clips: class angle vs nearest sub-cluster angle",
                      xaxis=dict(title="angle to the class center (deg)", range=[0, hi]),
                      yaxis=dict(title="angle to the nearest sub-cluster (deg)", range=[0, hi]),
                      margin=dict(t=90, b=80),
                      updatemenus=[dict(buttons=buttons, x=1.0, xanchor="right", y=1.0, yanchor="bottom")])
    return fig


# --------------------------------------------------------------------------------------------
# Pseudo labels


def _category_colors(values: pd.Series) -> dict[str, str]:
    names = sorted(values.unique(), key=lambda v: (v == "unknown", v))
    return {n: "#c7c7c7" if n == "unknown" else PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def pseudo_label_maps(points: pd.DataFrame, machine: str, left: str = "pseudo_label",
                      right: str = "true_attributes") -> go.Figure:
    """One machine's clips on a 2-D map twice, side by side: colored by ``left`` (the pseudo
    labels) and by ``right`` (the factory's true hidden attributes), each panel with its own
    legend. ``points``: :func:`asdlab.analysis.pseudo_labels.machine_points` output (x, y, file and the
    two columns). Agreement shows as the same groups in both panels, whatever their colors. Data
    without ground truth (no ``right`` column, e.g. real DCASE data) show it as all "unknown"."""
    missing = [c for c in ("x", "y", "file", left) if c not in points.columns]
    if missing:
        raise ValueError(f"pseudo_label_maps: points lack column(s) {', '.join(missing)}")
    titles = {"pseudo_label": "pseudo label", "true_attributes": "true attributes (factory)"}
    if right not in points.columns:
        points = points.assign(**{right: np.nan})
        titles[right] = f"{titles.get(right, right)}: unknown for this data"
    fig = make_subplots(rows=1, cols=2, subplot_titles=[titles.get(left, left), titles.get(right, right)],
                        horizontal_spacing=0.22)
    for col, (column, legend) in enumerate([(left, "legend"), (right, "legend2")], start=1):
        values = points[column].astype(object).where(points[column].notna(), "unknown").astype(str)
        for name, color in _category_colors(values).items():
            sel = points[values == name]
            fig.add_trace(go.Scatter(x=sel["x"].to_numpy(np.float32), y=sel["y"].to_numpy(np.float32),
                                     mode="markers", name=name, legend=legend,
                                     marker=dict(color=color, size=7, opacity=0.85), text=sel["file"].to_numpy(),
                                     hovertemplate=f"{column}: {name}<br>%{{text}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(showticklabels=False, zeroline=False, title_text="UMAP 1")
    fig.update_yaxes(showticklabels=False, zeroline=False, title_text="UMAP 2")
    fig.update_layout(height=440, title=f"{machine}: pseudo labels vs true attributes", margin=dict(t=80),
                      legend=dict(title=dict(text=titles.get(left, left)), x=0.39, xanchor="left", y=1),
                      legend2=dict(title=dict(text=titles.get(right, right)), x=1.01, xanchor="left", y=1))
    return fig


def silhouette_figure(sil: pd.DataFrame) -> go.Figure:
    """Silhouette coefficient against the number of clusters k, one line per machine, the
    chosen k marked. ``sil``: :func:`asdlab.analysis.pseudo_labels.silhouettes` (machine, k, silhouette,
    chosen)."""
    fig = go.Figure()
    for i, (machine, g) in enumerate(sil.sort_values("k").groupby("machine", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=g["k"], y=g["silhouette"], mode="lines+markers", name=machine,
                                 legendgroup=machine, line=dict(color=color)))
        chosen = g[g["chosen"].astype(str).str.lower() == "true"]
        fig.add_trace(go.Scatter(x=chosen["k"], y=chosen["silhouette"], mode="markers", name=f"{machine}: chosen",
                                 legendgroup=machine, showlegend=False,
                                 marker=dict(color=color, size=14, symbol="circle-open", line=dict(width=2)),
                                 hovertemplate=f"{machine}: chosen k %{{x}}<extra></extra>"))
    fig.update_layout(height=360, title="Choosing the number of pseudo labels (silhouette, higher is better)",
                      xaxis=dict(title="k (clusters)", dtick=1), yaxis=dict(title="silhouette coefficient"))
    return fig
