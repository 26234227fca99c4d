"""Small pieces of the angle explorer (:mod:`asdlab.viz.explorer`): colors of the test clips by
anomaly kind or severity, the Beta(alpha, alpha) density of the mixup weight, the drawing of
which label gets the margin, the AUC table, and the clip a click on the sphere points at (its
file, log-mel and audio).

Everything here is a plain function of its arguments (no widgets), so it is tested directly.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from asdlab.core.errors import DataError
from asdlab.data.audio import read_audio
from asdlab.data.layout import FOLDERS, find_machine_dirs
from asdlab.features.logmel import LogMelParams, log_mel
from asdlab.nn.margins import angular_margin

NORMAL_COLOR = "#1f77b4"
COLOR_MODES = {"label": "normal / anomalous", "anomaly_kind": "anomaly kind (factory)",
               "severity": "severity (factory)"}
"""What colors the test clips on the sphere; the last two need the factory's ground truth."""
KIND_COLORS = ("#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
               "#7f7f7f", "#393b79", "#ad494a", "#637939")
"""Anomaly kinds in sorted order (cycled); normal clips keep :data:`NORMAL_COLOR`."""
SEVERITY_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)
SEVERITY_COLORS = ("#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
"""Severity bins ``(lo, hi]`` of anomalous clips (the first also takes 0) and their reds, light
(mild) to dark (severe)."""
UNKNOWN_COLOR = "#bbbbbb"


# ------------------------------------------------------------------ coloring the test clips

def clip_colors(table: pd.DataFrame, mode: str = "label", kinds=None) -> tuple[list[str] | None, dict[str, str]]:
    """Per-clip marker colors of the test clips of ``table`` (columns label and, for the factory
    modes, anomaly_kind / severity) and the legend ``{name: color}`` of the colors used.
    ``mode``: a key of :data:`COLOR_MODES`; ``"label"`` returns ``(None, {})`` (the sphere's own
    blue / red). ``kinds``: every anomaly kind, so that a kind keeps its color whatever part of
    the clips is drawn (default: the kinds in ``table``). Anomalies without ground truth are grey."""
    all_kinds = kinds
    if mode == "label":
        return None, {}
    if mode not in COLOR_MODES or mode not in table.columns:
        raise KeyError(f"color mode {mode!r}: needs a column {mode!r} (the factory's ground truth)")
    anomalous = (table["label"] == "anomaly").to_numpy()
    colors = np.full(len(table), NORMAL_COLOR, dtype=object)
    legend = {}  # normal clips keep the sphere's "test normal" legend entry
    if mode == "anomaly_kind":
        kinds = table["anomaly_kind"].astype(object).where(table["anomaly_kind"].notna(), "")
        present = sorted({str(k) for k in kinds[anomalous] if str(k)})
        names = sorted({str(k) for k in all_kinds if str(k)} | set(present)) if all_kinds is not None else present
        palette = {k: KIND_COLORS[i % len(KIND_COLORS)] for i, k in enumerate(names)}
        for i in np.flatnonzero(anomalous):
            colors[i] = palette.get(str(kinds.iloc[i]), UNKNOWN_COLOR)
        legend.update({k: palette[k] for k in present})
    else:
        sev = pd.to_numeric(table["severity"], errors="coerce").to_numpy(float)
        edges = np.asarray(SEVERITY_BINS)
        which = np.clip(np.searchsorted(edges, sev, side="left") - 1, 0, len(SEVERITY_COLORS) - 1)
        for i in np.flatnonzero(anomalous):
            colors[i] = SEVERITY_COLORS[which[i]] if np.isfinite(sev[i]) else UNKNOWN_COLOR
        present = set(which[anomalous & np.isfinite(sev)])
        for b, color in enumerate(SEVERITY_COLORS):
            if b in present:
                legend[f"severity ({edges[b]:g}, {edges[b + 1]:g}]"] = color
    if (colors == UNKNOWN_COLOR).any():
        legend["anomaly (no ground truth)"] = UNKNOWN_COLOR
    return colors.tolist(), legend


# ------------------------------------------------------------------ mixup and margin drawings

def beta_density(alpha: float, x) -> np.ndarray:
    """Density of ``Beta(alpha, alpha)`` at ``x`` in (0, 1): ``x^(a-1) (1-x)^(a-1) / B(a, a)``
    (``alpha`` > 0), the law of the mixup weight lambda."""
    a = float(alpha)
    x = np.asarray(x, float)
    log_b = 2.0 * math.lgamma(a) - math.lgamma(2.0 * a)
    return np.exp((a - 1.0) * (np.log(x) + np.log1p(-x)) - log_b)


def beta_figure(alpha: float, points: int = 199, y_cap: float = 5.0) -> go.Figure:
    """Small figure of the ``Beta(alpha, alpha)`` density of lambda on ``points`` grid points in
    [0.005, 0.995] (the density is infinite at 0 and 1 for alpha < 1; the y axis stops at
    ``y_cap``). ``alpha`` 0 means no mixup: a spike at lambda = 1. One trace, always."""
    if alpha <= 0:
        x, y, name = [1.0, 1.0], [0.0, y_cap], "alpha 0: no mixup (lambda = 1)"
        top = y_cap
    else:
        x = np.linspace(0.005, 0.995, points)
        y = beta_density(alpha, x)
        x, y, name = x.tolist(), y.tolist(), f"Beta({alpha:g}, {alpha:g})"
        top = min(max(y) * 1.08, y_cap)
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", fill="tozeroy", line=dict(color="#9467bd"), name=name,
                               hovertemplate="lambda %{x:.2f}: density %{y:.2f}<extra></extra>"))
    fig.update_layout(width=250, height=170, margin=dict(t=10, l=35, r=10, b=38), showlegend=False)
    fig.update_xaxes(range=[0, 1], title_text=f"mixup weight lambda ~ {name}" if alpha > 0 else name,
                     title_standoff=2, title_font_size=11, tickvals=[0, 0.5, 1])
    fig.update_yaxes(range=[0, top])
    return fig


MARGIN_RULES = {
    "ce": "CE: a clean batch, no margin; the target is the clip's own class.",
    "arcface": "ArcFace: a clean batch; the margin m is added to the angle of the clip's own class.",
    "arcmix": "ArcMix: two passes over the mixed clip: the margin on y_a in the first (weight lambda), on y_b "
              "in the second (weight 1 - lambda). Both labels get it.",
    "noisy_arcmix": "Noisy-ArcMix: one pass, the margin on y_a (the un-permuted clip's class, weight lambda) "
                    "whatever lambda is; y_b (weight 1 - lambda) never gets it, so when lambda < 0.5 the "
                    "margin sits on the minority component.",
}
"""One line per loss of :data:`asdlab.nn.margins.LOSSES`: where the margin goes (as coded there)."""
MARGIN_LABELS = ("y_a", "y_b", "other")
ILLUSTRATIVE_THETA = (30.0, 20.0, 80.0)
"""Angles (degrees) of the illustrative mixed clip to the centers of y_a, y_b and another class:
with lambda = 0.3 the clip is mostly y_b, so it sits nearer y_b's center."""


def margin_passes(loss: str, m: float, lam: float = 0.3, theta_deg=ILLUSTRATIVE_THETA) -> list[dict]:
    """The softmax passes of ``loss`` for one mixed clip at angles ``theta_deg`` (to the centers
    of y_a, y_b, another class), as :mod:`asdlab.nn.margins` computes them. Per pass:
    ``{"cos": [3] cosines, "used": [3] logits / s (cos(theta + m) where the margin is),
    "margin_on": "y_a" | "y_b" | None, "target": [3] cross-entropy weights}``. CE and ArcFace
    train on clean batches, so lambda is 1 there."""
    cos = np.cos(np.radians(np.asarray(theta_deg, float)))
    with_margin = angular_margin(torch.as_tensor(cos, dtype=torch.float64), m).numpy()

    def one(margin_on, target):
        used = cos.copy()
        if margin_on is not None:
            k = MARGIN_LABELS.index(margin_on)
            used[k] = with_margin[k]
        return {"cos": cos.tolist(), "used": used.tolist(), "margin_on": margin_on, "target": target}

    if loss == "ce":
        return [one(None, [1.0, 0.0, 0.0])]
    if loss == "arcface":
        return [one("y_a", [1.0, 0.0, 0.0])]
    if loss == "arcmix":
        return [one("y_a", [lam, 0.0, 0.0]), one("y_b", [0.0, 1.0 - lam, 0.0])]
    if loss == "noisy_arcmix":
        return [one("y_a", [lam, 1.0 - lam, 0.0])]
    raise KeyError(f"loss {loss!r}: no margin drawing (choose from {', '.join(MARGIN_RULES)})")


def margin_figure(loss: str, m: float, lam: float = 0.3) -> go.Figure:
    """Which label gets the margin under ``loss``: per softmax pass (1 or 2 panels), grey bars
    = cosine to the centers of y_a, y_b and another class, colored bars = the logit / s the loss
    uses (red where the margin ``m`` lowers it to cos(theta + m)); each bar's text is the
    cross-entropy target weight (lambda = ``lam`` for illustration). Always 4 traces (2 per
    panel; the second panel empty for one-pass losses)."""
    passes = margin_passes(loss, m, lam)
    clean = loss in ("ce", "arcface")
    titles = [f"pass {i + 1}" + (f": margin on {p['margin_on']}" if p["margin_on"] else ": no margin")
              for i, p in enumerate(passes)] + ["(one pass only)"] * (2 - len(passes))
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.12, shared_yaxes=True)
    labels = ["own class", "class 2", "class 3"] if clean else list(MARGIN_LABELS)
    for col in (1, 2):
        p = passes[col - 1] if col <= len(passes) else None
        fig.add_trace(go.Bar(x=labels, y=p["cos"] if p else [], marker_color="#cccccc", name="cos theta",
                             showlegend=col == 1, hovertemplate="cos theta %{y:.2f}<extra></extra>"), row=1, col=col)
        colors = [("#d62728" if p and p["margin_on"] == lab else "#1f77b4") for lab in MARGIN_LABELS]
        fig.add_trace(go.Bar(x=labels, y=p["used"] if p else [], marker_color=colors, name="logit / s used",
                             showlegend=col == 1, text=[f"target {t:g}" for t in p["target"]] if p else [],
                             textposition="outside", textfont=dict(size=9),
                             hovertemplate="logit / s %{y:.2f}<extra></extra>"), row=1, col=col)
    title = "clean batch" if clean else f"lambda = {lam:g}"
    fig.update_layout(barmode="group", width=380, height=200, margin=dict(t=48, l=35, r=10, b=25),
                      title=dict(text=f"{title}; red: m {m:.2f}", font=dict(size=11), x=0.02),
                      legend=dict(orientation="h", y=-0.25, font=dict(size=9)), bargap=0.25)
    fig.update_annotations(font_size=10)
    fig.update_yaxes(range=[-0.6, 1.25])
    return fig


# ------------------------------------------------------------------ AUC table

def auc_table_html(auc: pd.DataFrame, machine: str | None = None, domain: str | None = None) -> str:
    """A small HTML table of :func:`asdlab.analysis.angles.angle_auc_table` (3 decimals, "-" where
    undefined); the row of ``machine`` and the column of ``domain`` (the drawn ones) in bold."""
    def cell(value, bold, tag="td"):
        text = "-" if not np.isfinite(value) else f"{value:.3f}"
        return f"<{tag} style='padding:1px 8px;text-align:right'>{'<b>' + text + '</b>' if bold else text}</{tag}>"

    head = "".join(f"<th style='padding:1px 8px'>{html.escape(str(c))}</th>" for c in auc.columns)
    rows = []
    for name, row in auc.iterrows():
        on_row = name == machine
        cells = "".join(cell(float(v), on_row or c == domain) for c, v in row.items())
        label = html.escape(str(name))
        rows.append(f"<tr><th style='padding:1px 8px;text-align:left'>{'<u>' + label + '</u>' if on_row else label}"
                    f"</th>{cells}</tr>")
    return ("<div style='font-size:12px'>AUC of the angle as anomaly score, per machine type and domain:"
            f"<table style='border-collapse:collapse'><tr><th></th>{head}</tr>{''.join(rows)}</table></div>")


# ------------------------------------------------------------------ the clip behind a point

def find_clip(data_root: str | os.PathLike | None, machine: str, split: str, file: str) -> Path | None:
    """Path of clip ``file`` of ``machine`` and ``split`` ("train" / "test") under the dataset
    root ``data_root`` (any layout of :func:`asdlab.data.layout.find_machine_dirs`; dev_data
    before eval_data), or None when the root or the file is missing."""
    if data_root is None:
        return None
    try:
        dirs = find_machine_dirs(data_root)
    except DataError:
        return None
    for _, name, folder in dirs:
        if name != machine:
            continue
        for sub, sp in FOLDERS.items():
            if sp == split and (folder / sub / file).is_file():
                return folder / sub / file
    return None


def clip_logmel(path: str | os.PathLike, channel: int | str = 0,
                params: LogMelParams = LogMelParams()) -> tuple[np.ndarray, float]:
    """Log-mel (dB) ``(n_mels, T)`` of the clip at ``path`` (``params``: default the AE
    baseline's 128 mels, n_fft 1024, hop 512 at 16 kHz) and the seconds per frame."""
    wave = read_audio(path, sr=params.sr, channel=channel)
    return log_mel(wave, params).numpy(), params.hop / params.sr


def logmel_figure(mel: np.ndarray | None = None, seconds_per_frame: float = 0.032, title: str = "") -> go.Figure:
    """Heatmap of a log-mel ``(n_mels, T)`` (dB) over time (s) and mel bin; an empty heatmap
    when ``mel`` is None. One trace."""
    mel = np.zeros((0, 0)) if mel is None else np.asarray(mel, float)
    t = (np.arange(mel.shape[1]) * seconds_per_frame).round(4).tolist()
    fig = go.Figure(go.Heatmap(z=mel.round(2).tolist(), x=t, y=list(range(mel.shape[0])), colorscale="Viridis",
                               colorbar=dict(title="dB", thickness=10),
                               hovertemplate="%{x:.2f} s, mel %{y}: %{z:.1f} dB<extra></extra>"))
    fig.update_layout(width=420, height=230, margin=dict(t=30, l=45, r=10, b=35),
                      title=dict(text=title, font=dict(size=11), x=0.02))
    fig.update_xaxes(title_text="time (s)", title_standoff=2)
    fig.update_yaxes(title_text="mel bin", title_standoff=2)
    return fig
