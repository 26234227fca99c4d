"""Figures of the angle explorer (:mod:`asdlab.viz.explorer`): the angle panel (histogram or
ECDF of the test clips' angles to their class center, pinned outline, loss curve), the clips and
class centers on the unit circle or sphere, and :func:`plain_figure` for FigureWidgets.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from asdlab.analysis.angles import ecdf
from asdlab.core.errors import ConfigError

ALL = "all"
LABEL_COLORS = {"normal": "#1f77b4", "anomaly": "#d62728"}
CLASS_COLORS = qualitative.Dark24 + qualitative.Light24


VIEWS = ("histogram", "ecdf")
"""Views of the explorer's angle panel: histogram (share of clips per bin) or ECDF (cumulative
share of clips up to each angle)."""
PINNED_COLORS = {"normal": "#08306b", "anomaly": "#67000d"}


def _angle_curve(angles: np.ndarray, edges: np.ndarray, view: str) -> tuple[list, list]:
    """x, y of one label's curve: shares per bin at the bin middles (histogram) or the ECDF
    starting at (0, 0)."""
    if view == "ecdf":
        x, y = ecdf(angles)
        return [0.0, *x.tolist()], [0.0, *y.tolist()]
    share = np.histogram(angles, edges)[0] / max(len(angles), 1)
    return (0.5 * (edges[:-1] + edges[1:])).tolist(), share.tolist()


def explorer_histograms(table: pd.DataFrame, history: np.ndarray | None = None,
                        train_angles: np.ndarray | None = None, bin_deg: float = 2.5,
                        title: str | None = None, view: str = "histogram", pinned: dict | None = None,
                        x_max: float | None = None) -> go.Figure:
    """Left: overlaid histograms (share of clips) of the angle in degrees between test clips and
    their class center, normal vs anomalous (``table``: columns label, angle); legend entries
    carry the medians. ``train_angles`` (degrees) adds the training clips as a grey line.
    Right: the training loss per step (``history``). ``view`` ``"ecdf"``: cumulative share of
    clips with an angle up to x instead (step lines from (0, 0)). ``pinned``: ``{"name": str,
    "normal": angles, "anomaly": angles}`` (degrees) drawn as dark dashed outlines in the same
    view. ``x_max``: a fixed angle axis [0, x_max] (degrees; default: up to the largest angle).
    Traces in a fixed order: normal, anomaly, train, loss, then pinned normal and anomaly when
    ``pinned``, so a FigureWidget can be updated in place."""
    if view not in VIEWS:
        raise ConfigError(f"view={view!r}: choose from {', '.join(VIEWS)}")
    angles = [table.loc[table["label"] == lab, "angle"].to_numpy() for lab in LABEL_COLORS]
    train = np.asarray(train_angles if train_angles is not None else [], float)
    pins = [np.asarray(pinned[lab], float) for lab in LABEL_COLORS] if pinned else []
    top = max([float(a.max()) for a in [*angles, train, *pins] if len(a)] + [bin_deg])
    edges = np.arange(0.0, max(top, x_max or 0.0) + 2 * bin_deg, bin_deg)
    ecdf_view = view == "ecdf"
    unit = "of clips up to" if ecdf_view else "of clips at"
    fig = make_subplots(rows=1, cols=2, column_widths=[0.72, 0.28], horizontal_spacing=0.1,
                        subplot_titles=["angle to class center" + (" (ECDF)" if ecdf_view else ""), "training loss"])
    for (label, color), a in zip(LABEL_COLORS.items(), angles):
        x, y = _angle_curve(a, edges, view)
        med = f"median {np.median(a):.1f} deg" if len(a) else "no clips"
        hover = f"{label}: %{{y:.1%}} {unit}<br>%{{x:.1f}} deg<extra></extra>"
        if ecdf_view:
            trace = go.Scatter(x=x, y=y, mode="lines", line=dict(color=color, shape="hv", width=2),
                               name=f"test {label} ({len(a)}, {med})", hovertemplate=hover)
        else:
            trace = go.Bar(x=x, y=y, width=bin_deg, marker_color=color, opacity=0.6,
                           name=f"test {label} ({len(a)}, {med})", hovertemplate=hover)
        fig.add_trace(trace, row=1, col=1)
    x, y = _angle_curve(train, edges, view)
    med = f"median {np.median(train):.1f} deg" if len(train) else "no clips"
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color="grey", shape="hv" if ecdf_view else "hvh", width=1.5),
                             name=f"train normal ({len(train)}, {med})", visible=True if len(train) else "legendonly"),
                  row=1, col=1)
    hist = np.asarray(history if history is not None else [], float)
    fig.add_trace(go.Scatter(x=np.arange(1, len(hist) + 1), y=hist, mode="lines", name="loss",
                             line=dict(color="black", width=1), showlegend=False), row=1, col=2)
    for label, a in zip(LABEL_COLORS, pins):
        x, y = _angle_curve(a, edges, view)
        med = f"median {np.median(a):.1f} deg" if len(a) else "no clips"
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"pinned {label} ({len(a)}, {med})",
                                 line=dict(color=PINNED_COLORS[label], dash="dash", width=2,
                                           shape="hv" if ecdf_view else "hvh"),
                                 hovertemplate=f"pinned {label}: %{{y:.1%}} {unit}<br>%{{x:.1f}} deg<extra></extra>"),
                      row=1, col=1)
    pin_note = f"<br><sup>dashed: pinned {pinned['name']}</sup>" if pinned else ""
    fig.update_layout(barmode="overlay", bargap=0, height=360 + (14 if pinned else 0), margin=dict(t=90 + (14 if pinned else 0), b=40),
                      # left-aligned and above the panels: clear of the toolbar at the top right
                      title=dict(text=(title or "") + pin_note, x=0.01, xanchor="left", y=0.97, yanchor="top",
                                 pad=dict(t=8), font=dict(size=15)),
                      legend=dict(x=0.45 if not ecdf_view else 0.6, xanchor="right", y=0.98 if not ecdf_view else 0.05,
                                  yanchor="top" if not ecdf_view else "bottom", bgcolor="rgba(255,255,255,0.6)"))
    fig.update_xaxes(title_text="angle (deg)", range=[0, x_max if x_max else edges[-1]], row=1, col=1)
    fig.update_yaxes(title_text="share of clips" + (" with a smaller angle" if ecdf_view else ""), tickformat=".0%",
                     row=1, col=1, **({"range": [0, 1.02]} if ecdf_view else {}))
    fig.update_xaxes(title_text="step", row=1, col=2)
    return fig


def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, float)
    return points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)


def sphere_figure(centers: np.ndarray, points: np.ndarray, point_class: np.ndarray,
                  point_label, class_names: list[str] | None = None,
                  train_points: np.ndarray | None = None, train_class: np.ndarray | None = None,
                  show_classes=None, title: str | None = None, point_colors=None,
                  color_legend: dict | None = None, point_ids=None, point_hover=None) -> go.Figure:
    """Clips and class centers on the unit circle (``dim`` 2) or sphere (``dim`` 3).

    ``centers``: ``(C, dim)``; ``points``: ``(M, dim)`` test clips with ``point_class`` ``(M,)``
    and ``point_label`` (``"normal"`` / ``"anomaly"``); ``train_points`` ``(N, dim)`` with
    ``train_class`` are drawn small and faint in their class color. All points are normalised
    to unit length. Centers are diamonds with a ray from the origin in their class color;
    ``show_classes`` (class indices, default all) limits which centers are drawn; a 3-d camera
looks at the drawn centers from outside the sphere when they crowd one side. Always 6 traces:
    circle/sphere, train, test normal, test anomaly, centers, rays; then one legend-only trace
    per entry of ``color_legend`` (``{name: color}``) when given. ``point_colors`` (``M``
    colors) color the test clips instead of blue / red (e.g. by anomaly kind), ``point_hover``
    (``M`` strings) is added to their hover text, ``point_ids`` (``M`` ints, default 0..M-1)
    become their ``customdata`` (what a click reports).
    """
    centers, points = _unit(centers), _unit(points)
    dim = centers.shape[1]
    if dim not in (2, 3) or points.shape[1:] != (dim,):
        raise ConfigError(f"sphere_figure draws 2-d or 3-d points: centers {centers.shape}, points {points.shape}")
    names = class_names or [f"class {k}" for k in range(len(centers))]
    point_class, point_label = np.asarray(point_class), np.asarray(point_label)
    shown = np.arange(len(centers)) if show_classes is None else np.unique(np.asarray(show_classes, int))
    ccolor = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(len(centers))]
    tp = _unit(train_points) if train_points is not None and len(train_points) else np.zeros((0, dim))
    tc = np.asarray(train_class if train_class is not None else np.zeros(len(tp), int))
    rays = np.full((3 * len(shown), dim), np.nan)
    rays[0::3], rays[1::3] = 0.0, 1.25 * centers[shown]

    def coords(p):
        return dict(x=p[:, 0], y=p[:, 1], **({"z": p[:, 2]} if dim == 3 else {}))

    scatter = go.Scatter3d if dim == 3 else go.Scatter
    fig = go.Figure()
    if dim == 3:
        u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 37), np.linspace(0, np.pi, 19))
        r = 0.985  # just inside, so that points on the sphere stay visible
        fig.add_trace(go.Surface(x=r * np.cos(u) * np.sin(v), y=r * np.sin(u) * np.sin(v), z=r * np.cos(v),
                                 opacity=0.12, showscale=False, hoverinfo="skip", name="unit sphere",
                                 colorscale=[[0, "lightgrey"], [1, "lightgrey"]]))
    else:
        t = np.linspace(0, 2 * np.pi, 181)
        fig.add_trace(go.Scatter(x=np.cos(t), y=np.sin(t), mode="lines", hoverinfo="skip",
                                 line=dict(color="lightgrey"), name="unit circle", showlegend=False))
    small = 3 if dim == 3 else 4
    fig.add_trace(scatter(**coords(tp), mode="markers", name="train clips (class color)",
                          marker=dict(size=small, color=[ccolor[k] for k in tc], opacity=0.35),
                          text=[names[k] for k in tc], hovertemplate="train: %{text}<extra></extra>"))
    # 3-D markers are drawn as text glyphs; "x" is an emoji that shows as an empty box where no
    # emoji font is installed, "cross" is a plain "+"
    ids = np.arange(len(points)) if point_ids is None else np.asarray(point_ids, int)
    extra = None if point_hover is None else np.asarray(point_hover, dtype=object)
    for label, color, symbol in (("normal", LABEL_COLORS["normal"], "circle"),
                                 ("anomaly", LABEL_COLORS["anomaly"], "cross" if dim == 3 else "x")):
        sel = point_label == label
        text = [names[k] for k in point_class[sel]]
        if extra is not None:
            text = [f"{t}<br>{e}" for t, e in zip(text, extra[sel])]
        colors = color if point_colors is None else list(np.asarray(point_colors, dtype=object)[sel])
        fig.add_trace(scatter(**coords(points[sel]), mode="markers", name=f"test {label}",
                              marker=dict(size=small + 1, color=colors, symbol=symbol, opacity=0.8),
                              text=text, customdata=ids[sel],
                              hovertemplate=f"test {label}: %{{text}}<extra></extra>"))
    fig.add_trace(scatter(**coords(centers[shown]), mode="markers", name="class centers",
                          marker=dict(size=small + 5, color=[ccolor[k] for k in shown], symbol="diamond",
                                      line=dict(color="black", width=1)),
                          text=[names[k] for k in shown], hovertemplate="center: %{text}<extra></extra>"))
    fig.add_trace(scatter(**coords(rays), mode="lines", name="center rays", hoverinfo="skip",
                          line=dict(color="rgba(0,0,0,0.4)", width=2 if dim == 3 else 1), showlegend=False))
    for name, color in (color_legend or {}).items():  # legend entries only: the colors of the test clips
        fig.add_trace(scatter(**coords(np.full((1, dim), np.nan)), mode="markers", name=name,
                              marker=dict(size=small + 3, color=color), hoverinfo="skip"))
    lim = dict(range=[-1.3, 1.3], zeroline=False)
    if dim == 3:
        # only directions matter: no coordinate box, and a box just around the ball so the ball
        # fills the scene (a 2.6-wide box left a third of the figure empty above it)
        axis = dict(range=[-1.05, 1.05], zeroline=False, visible=False)
        scene = dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
        toward = centers[shown].mean(0)
        if np.linalg.norm(toward) > 0.3:  # the drawn centers crowd a cap: look at it from outside
            eye = 1.5 * toward / np.linalg.norm(toward)
        else:
            eye = np.full(3, 0.9)
        scene["camera"] = dict(eye=dict(x=eye[0], y=eye[1], z=eye[2]))
        fig.update_layout(scene=scene)
    else:
        fig.update_xaxes(**lim)
        fig.update_yaxes(**lim, scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=520, margin=dict(t=50, l=10, r=10, b=10),
                      legend=dict(x=0, y=0, bgcolor="rgba(255,255,255,0.6)"),
                      uirevision=f"{dim}-{tuple(int(k) for k in shown)}")  # keep the user's view until the classes change
    return fig



def plain_figure(fig: go.Figure) -> dict:
    """``fig`` as a dict of plain Python types (lists, not numpy arrays). FigureWidgets get
    these: plotly's widget compares its traces with the browser's trace deltas by truth value,
    which raises ``ValueError: The truth value of an array ...`` on numpy arrays. NaN and
    infinities become None (a gap, as NaN is for plotly): a widget message must be strict JSON,
    else jupyter_client prints a ``Message serialization failed`` warning under the cell."""
    def plain(obj):
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind == "f" and not np.isfinite(obj).all():
                obj = np.where(np.isfinite(obj), obj, None)
            return obj.tolist()
        if isinstance(obj, dict) and "bdata" in obj and "dtype" in obj:  # plotly's typed-array encoding
            values = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
            shape = [int(n) for n in str(obj.get("shape", "-1")).split(",")]  # e.g. "19, 37"
            return plain(values.reshape(shape))
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [plain(v) for v in obj]
        obj = obj.item() if isinstance(obj, np.generic) else obj
        return None if isinstance(obj, float) and not np.isfinite(obj) else obj

    return plain(fig.to_plotly_json())
