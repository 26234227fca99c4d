"""The angle explorer: retrain a toy margin head on a run's frozen embeddings and see where the
clips land on the unit circle or sphere.

A run of the Noisy-ArcMix family saves 128-d embeddings of every clip (see
:mod:`asdlab.artifacts.embeddings`). :class:`AngleExplorer` trains :func:`asdlab.analysis.toyhead.fit_head` (a
small projection to 2 or 3 dimensions + a cosine head with the chosen loss) on the TRAINING
embeddings and their class indices, within a second on a CPU, then draws

* :func:`explorer_histograms`: the angle between each TEST clip and its class center, normal vs
  anomalous (the Noisy-ArcMix paper's Figure 1 for the toy head), with the training clips'
  angles and the loss curve;
* :func:`sphere_figure`: the clips and class centers (markers + rays) on the unit circle or
  sphere, the very space where those angles are measured.

Sliders set the margin ``m``, the scale ``s`` and the mixup ``alpha``, a dropdown the loss.

Design choices. The head is trained on every class of every machine type, as the real
methods train one head over all machine types: with a single machine type a machine whose
attributes are hidden has one class, and a softmax over one class has zero loss and zero
gradient, so it would learn nothing. The machine dropdown therefore only FILTERS what is drawn
(no retraining): one machine has at most ~10 classes, which makes the sphere legible. ``m`` is
disabled for CE (no margin) and ``alpha`` for CE and ArcFace (trained on clean batches, as in
the paper). The figures depend only on the settings and the seed: the same settings give the
same figure.

In a batch HTML report no kernel runs the sliders: use :meth:`AngleExplorer.static` (ordinary
figures for the current settings) and :meth:`AngleExplorer.loss_tables` (the toy head under
each loss, for :func:`asdlab.viz.angle_histograms`).
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from asdlab.analysis import angle_summary
from asdlab.artifacts.embeddings import load_embeddings
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES
from asdlab.analysis.toyhead import HeadFit, fit_head

ALL = "all"
LABEL_COLORS = {"normal": "#1f77b4", "anomaly": "#d62728"}
CLASS_COLORS = qualitative.Dark24 + qualitative.Light24
FIGURE1_METHODS = ("tastgram_ce", "tastgram_linear_ce", "tastgram_arcface", "tastgram_arcmix",
                   "tastgram_noisy_arcmix")
"""The losses of the Noisy-ArcMix paper's Figure 1, as registered methods; its CE in two readings
(cosine softmax ``tastgram_ce``, linear softmax ``tastgram_linear_ce``)."""
LOSS_TITLES = {"ce": "CE", "linear_ce": "CE (linear)", "arcface": "ArcFace", "arcmix": "ArcMix",
               "noisy_arcmix": "Noisy-ArcMix"}


# ------------------------------------------------------------------ notebook helpers

def check_figure1_params(methods, explorer_run: str, preset: str = "course") -> list[str]:
    """Validate the angle notebook's ``methods`` (a non-empty subset of
    :data:`FIGURE1_METHODS`) and ``explorer_run`` (a registered method that saves embeddings of
    a class head). Returns the runs to train or reuse: ``methods`` then ``explorer_run`` if it is
    not among them. Raises :class:`ConfigError` naming the parameter."""
    from asdlab.methods import get_method

    if isinstance(methods, str) or not isinstance(methods, (list, tuple)) or not methods:
        raise ConfigError(f"notebook parameter methods={methods!r}: must be a non-empty list drawn "
                          f"from {', '.join(FIGURE1_METHODS)}")
    bad = [m for m in methods if m not in FIGURE1_METHODS]
    if bad:
        raise ConfigError(f"notebook parameter methods: {', '.join(map(repr, bad))} not among the "
                          f"Figure 1 losses {', '.join(FIGURE1_METHODS)}")
    if not isinstance(explorer_run, str):
        raise ConfigError(f"notebook parameter explorer_run={explorer_run!r}: must be a method name")
    if "loss" not in get_method(explorer_run).params(preset):
        raise ConfigError(f"notebook parameter explorer_run={explorer_run!r}: this method has no class "
                          f"head and saves no class embeddings; choose e.g. one of {', '.join(FIGURE1_METHODS)}")
    return list(dict.fromkeys([*methods, explorer_run]))


def loss_title(method: str) -> str:
    """Panel title of a Figure 1 method: ``"tastgram_noisy_arcmix"`` -> ``"Noisy-ArcMix"``."""
    return LOSS_TITLES.get(method.removeprefix("tastgram_"), method)


PAPER_ORDER = ("CE", "ArcFace", "Noisy-ArcMix")
"""The paper's ordering of median normal angles, largest first (its Figure 1: about 35, 10 and
5 degrees; ArcMix about 2 degrees, with many anomalies near 0 too)."""


def paper_ordering_note(summary: pd.DataFrame, what: str = "these runs") -> str:
    """One Markdown sentence saying whether ``summary`` (:func:`asdlab.analysis.angle_summary`
    rows named by loss title, e.g. the ``"all"`` part of :func:`asdlab.analysis.angle_summary_by_domain`)
    reproduces the paper's CE > ArcFace > Noisy-ArcMix order of median normal angles; ``what``
    names the source of the numbers in the sentence."""
    med = summary["median_normal_angle"]
    present = [name for name in PAPER_ORDER if name in med.index]
    measured = ", ".join(f"{name} {med[name]:.1f} deg" for name in med.index)
    if len(present) < 2:
        return (f"Median normal angles: {measured}. The paper's order CE > ArcFace > Noisy-ArcMix needs at "
                f"least two of those losses in `methods`.")
    values = [med[name] for name in present]
    holds = all(a > b for a, b in zip(values, values[1:]))
    ranked = " > ".join(sorted(present, key=lambda n: -med[n]))
    return (f"Median normal angles: {measured}. Paper: {' > '.join(present)}; here: {ranked}, so the paper's "
            f"order **{'holds' if holds else 'does not hold'}** for {what}.")


PAPER_CE_PEAK_DEG = 35.0
"""The normal peak of CE in the paper's Figure 1 (degrees)."""


def ce_readings_note(summary: pd.DataFrame) -> str:
    """One Markdown sentence: the median normal angles of the two CE readings in ``summary``
    (rows "CE", the cosine softmax, and "CE (linear)", as :func:`paper_ordering_note` reads) and
    which of them is nearer the paper's CE normal peak (:data:`PAPER_CE_PEAK_DEG`)."""
    med = summary["median_normal_angle"]
    names = {"CE": "cosine softmax (scale s)", "CE (linear)": "linear softmax (W e + b)"}
    present = [n for n in names if n in med.index and np.isfinite(med[n])]
    measured = "; ".join(f"{names[n]} {med[n]:.1f} deg" for n in present)
    if len(present) < 2:
        return (f"CE readings: {measured or 'none measured'}. Comparing the two with the paper's CE peak "
                f"(about {PAPER_CE_PEAK_DEG:.0f} deg) needs both `tastgram_ce` and `tastgram_linear_ce` in `methods`.")
    nearest = min(present, key=lambda n: abs(med[n] - PAPER_CE_PEAK_DEG))
    return (f"Median normal angle of CE: {measured}. The paper's CE peak is about {PAPER_CE_PEAK_DEG:.0f} deg; "
            f"the **{names[nearest]}** is nearer to it here ({abs(med[nearest] - PAPER_CE_PEAK_DEG):.1f} deg off).")


# ------------------------------------------------------------------ data and fitting

def explorer_data(emb: dict) -> dict:
    """Split :func:`asdlab.artifacts.embeddings.load_embeddings` output into what the explorer trains on
    and draws: ``{"train_x": (N, D), "train_y": (N,), "train_meta", "test_x": (M, D),
    "test_y": (M,), "test_candidates": [M arrays], "test_meta", "classes": [C names],
    "machines": [...], "note": str}``. Class indices are renumbered 0..C-1 over the training
    classes. A labelled test clip of a class unseen in training (DCASE 2021 test names carry no
    attributes; a DCASE 2020 ID without training clips) gets ``test_y`` -1 and is measured to the
    nearest of ``test_candidates`` (its machine type and section's classes); it is left out when
    its section has none, as are clips without a label. ``note``: one line saying so ("" if not)."""
    meta, x = emb["meta"], np.asarray(emb["embeddings"])
    idx = meta["class_index"].to_numpy()
    train = (meta["split"] == "train").to_numpy() & (idx >= 0)
    if train.sum() < 2:
        raise AsdlabError("the run has fewer than 2 training embeddings with a class")
    known = np.unique(idx[train])
    remap = np.full(max(idx.max(), 0) + 1, -1)
    remap[known] = np.arange(len(known))
    names = emb.get("classes")
    by_index = meta.loc[train].drop_duplicates("class_index").set_index("class_index")["class"]
    classes = [str(names[k]) if names is not None else str(by_index[k]) for k in known]
    section_of = [tuple(c.split("/", 2)[:2]) for c in classes]
    own = np.where(idx >= 0, remap[np.maximum(idx, 0)], -1)
    test = (meta["split"] == "test").to_numpy() & meta["label"].isin(list(LABEL_COLORS)).to_numpy()
    candidates = [np.array([k for k, sec in enumerate(section_of) if sec == (str(m), str(s_))], int) if o < 0
                  else np.array([o]) for m, s_, o in zip(meta["machine"], meta["section"], own)]
    reachable = np.array([len(c) > 0 for c in candidates], bool)
    unseen = test & (own < 0) & reachable
    notes = []
    if unseen.any():
        notes.append(f"{int(unseen.sum())} test clip(s) of classes unseen in training measured to the nearest "
                     f"class center of their section")
    if (test & ~reachable).any():
        notes.append(f"{int((test & ~reachable).sum())} test clip(s) left out: their section has no class in training")
    unlabelled = (meta["split"] == "test").to_numpy() & ~meta["label"].isin(list(LABEL_COLORS)).to_numpy()
    if unlabelled.any():
        notes.append(f"{int(unlabelled.sum())} test clip(s) without a label (evaluation data) left out")
    test &= reachable
    return {"train_x": x[train], "train_y": remap[idx[train]],
            "train_meta": meta.loc[train].reset_index(drop=True),
            "test_x": x[test], "test_y": own[test], "test_candidates": [candidates[i] for i in np.flatnonzero(test)],
            "test_meta": meta.loc[test].reset_index(drop=True),
            "classes": classes, "machines": sorted(meta.loc[train, "machine"].unique()), "note": "; ".join(notes)}


def clip_angle_table(fit: HeadFit, data: dict) -> pd.DataFrame:
    """The test clips of ``data`` (:func:`explorer_data`) with ``angle`` (degrees to their class
    center in the fitted head's space, or to the nearest center of their section's classes for
    a class unseen in training) and ``head_class`` (the class measured to), in
    :func:`asdlab.analysis.angle_table` form (``attrs["note"]``: ``data["note"]``)."""
    cols = [c for c in ("file", "machine", "section", "domain", "label", "split", "class")
            if c in data["test_meta"].columns]
    out = data["test_meta"][cols].copy()
    candidates = data.get("test_candidates") or [np.array([k]) for k in data["test_y"]]
    flat = np.concatenate(candidates) if candidates else np.zeros(0, int)
    owner = np.repeat(np.arange(len(candidates)), [len(c) for c in candidates])
    angles = fit.angles_to_centers(data["test_x"][owner], flat) if len(flat) else np.zeros(0)
    best_angle, best_class = np.full(len(out), np.inf), np.zeros(len(out), int)
    for i, a, k in zip(owner, angles, flat):
        if a < best_angle[i]:
            best_angle[i], best_class[i] = a, k
    out["angle"] = best_angle
    out["head_class"] = best_class
    out.attrs["note"] = data.get("note", "")
    return out


# ------------------------------------------------------------------ figures

def _machine_mask(meta: pd.DataFrame, machine: str) -> np.ndarray:
    return np.ones(len(meta), bool) if machine == ALL else (meta["machine"] == machine).to_numpy()


def explorer_histograms(table: pd.DataFrame, history: np.ndarray | None = None,
                        train_angles: np.ndarray | None = None, bin_deg: float = 2.5,
                        title: str | None = None) -> go.Figure:
    """Left: overlaid histograms (share of clips) of the angle in degrees between test clips and
    their class center, normal vs anomalous (``table``: columns label, angle); legend entries
    carry the medians. ``train_angles`` (degrees) adds the training clips as a grey line.
    Right: the training loss per step (``history``). Always 4 traces in the same order (normal,
    anomaly, train, loss), so a FigureWidget can be updated in place."""
    angles = [table.loc[table["label"] == lab, "angle"].to_numpy() for lab in LABEL_COLORS]
    train = np.asarray(train_angles if train_angles is not None else [], float)
    top = max([float(a.max()) for a in [*angles, train] if len(a)] + [bin_deg])
    edges = np.arange(0.0, top + 2 * bin_deg, bin_deg)
    mids = 0.5 * (edges[:-1] + edges[1:])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.72, 0.28], horizontal_spacing=0.1,
                        subplot_titles=["angle to class center", "training loss"])
    for (label, color), a in zip(LABEL_COLORS.items(), angles):
        share = np.histogram(a, edges)[0] / max(len(a), 1)
        med = f"median {np.median(a):.1f} deg" if len(a) else "no clips"
        fig.add_trace(go.Bar(x=mids, y=share, width=bin_deg, marker_color=color, opacity=0.6,
                             name=f"test {label} ({len(a)}, {med})",
                             hovertemplate=f"{label}: %{{y:.1%}} of clips<br>%{{x:.1f}} deg<extra></extra>"),
                      row=1, col=1)
    share = np.histogram(train, edges)[0] / max(len(train), 1)
    med = f"median {np.median(train):.1f} deg" if len(train) else "no clips"
    fig.add_trace(go.Scatter(x=mids, y=share, mode="lines", line=dict(color="grey", shape="hvh", width=1.5),
                             name=f"train normal ({len(train)}, {med})", visible=True if len(train) else "legendonly"),
                  row=1, col=1)
    hist = np.asarray(history if history is not None else [], float)
    fig.add_trace(go.Scatter(x=np.arange(1, len(hist) + 1), y=hist, mode="lines", name="loss",
                             line=dict(color="black", width=1), showlegend=False), row=1, col=2)
    fig.update_layout(barmode="overlay", bargap=0, height=360, margin=dict(t=90, b=40),
                      # left-aligned and above the panels: clear of the toolbar at the top right
                      title=dict(text=title, x=0.01, xanchor="left", y=0.97, yanchor="top", pad=dict(t=8), font=dict(size=15)),
                      legend=dict(x=0.45, xanchor="right", y=0.98, bgcolor="rgba(255,255,255,0.6)"))
    fig.update_xaxes(title_text="angle (deg)", range=[0, edges[-1]], row=1, col=1)
    fig.update_yaxes(title_text="share of clips", tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    return fig


def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, float)
    return points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)


def sphere_figure(centers: np.ndarray, points: np.ndarray, point_class: np.ndarray,
                  point_label, class_names: list[str] | None = None,
                  train_points: np.ndarray | None = None, train_class: np.ndarray | None = None,
                  show_classes=None, title: str | None = None) -> go.Figure:
    """Clips and class centers on the unit circle (``dim`` 2) or sphere (``dim`` 3).

    ``centers``: ``(C, dim)``; ``points``: ``(M, dim)`` test clips with ``point_class`` ``(M,)``
    and ``point_label`` (``"normal"`` / ``"anomaly"``); ``train_points`` ``(N, dim)`` with
    ``train_class`` are drawn small and faint in their class color. All points are normalised
    to unit length. Centers are diamonds with a ray from the origin in their class color;
    ``show_classes`` (class indices, default all) limits which centers are drawn; a 3-d camera
looks at the drawn centers from outside the sphere when they crowd one side. Always 6 traces:
    circle/sphere, train, test normal, test anomaly, centers, rays.
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
    for label, color, symbol in (("normal", LABEL_COLORS["normal"], "circle"),
                                 ("anomaly", LABEL_COLORS["anomaly"], "cross" if dim == 3 else "x")):
        sel = point_label == label
        fig.add_trace(scatter(**coords(points[sel]), mode="markers", name=f"test {label}",
                              marker=dict(size=small + 1, color=color, symbol=symbol, opacity=0.8),
                              text=[names[k] for k in point_class[sel]],
                              hovertemplate=f"test {label}: %{{text}}<extra></extra>"))
    fig.add_trace(scatter(**coords(centers[shown]), mode="markers", name="class centers",
                          marker=dict(size=small + 5, color=[ccolor[k] for k in shown], symbol="diamond",
                                      line=dict(color="black", width=1)),
                          text=[names[k] for k in shown], hovertemplate="center: %{text}<extra></extra>"))
    fig.add_trace(scatter(**coords(rays), mode="lines", name="center rays", hoverinfo="skip",
                          line=dict(color="rgba(0,0,0,0.4)", width=2 if dim == 3 else 1), showlegend=False))
    lim = dict(range=[-1.3, 1.3], zeroline=False)
    if dim == 3:
        axis = dict(**lim, visible=False)  # only directions matter: no coordinate box
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
                      uirevision=f"{dim}-{tuple(shown)}")  # keep the user's view until the classes change
    return fig


# ------------------------------------------------------------------ the interactive explorer

def plain_figure(fig: go.Figure) -> dict:
    """``fig`` as a dict of plain Python types (lists, not numpy arrays). FigureWidgets get
    these: plotly's widget compares its traces with the browser's trace deltas by truth value,
    which raises ``ValueError: The truth value of an array ...`` on numpy arrays."""
    def plain(obj):
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, dict) and "bdata" in obj and "dtype" in obj:  # plotly's typed-array encoding
            values = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
            shape = [int(n) for n in str(obj.get("shape", "-1")).split(",")]  # e.g. "19, 37"
            return values.reshape(shape).tolist()
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [plain(v) for v in obj]
        return obj.item() if isinstance(obj, np.generic) else obj

    return plain(fig.to_plotly_json())


def _timed_fit(data: dict, settings: dict) -> tuple[HeadFit, float]:
    start = time.perf_counter()
    fit = fit_head(data["train_x"], data["train_y"], **settings)
    return fit, time.perf_counter() - start


class AngleExplorer:
    """Sliders and figures around :func:`asdlab.analysis.toyhead.fit_head` on the embeddings of a run.

    ``run_dir``: a run folder with ``embeddings.npy`` (any method of the Noisy-ArcMix family).
    Starting settings: ``loss`` (a key of :data:`asdlab.nn.margins.LOSSES`), ``m`` (radians),
    ``s``, ``alpha``, ``dim`` (2 circle / 3 sphere), ``machine`` ("all" or a machine type, only
    filters the drawing), ``steps``, ``seed``. Widgets are built lazily by :meth:`widget`;
    changing ``loss_dropdown``, ``m_slider``, ``s_slider``, ``alpha_slider`` or ``dim_toggle``
    calls :meth:`refresh` (retrain + redraw, < 1 s of CPU time on course data), changing
    ``machine_dropdown`` only redraws.
    """

    def __init__(self, run_dir: str | os.PathLike, loss: str = "noisy_arcmix", m: float = 0.7,
                 s: float = 30.0, alpha: float = 0.5, dim: int = 3, machine: str = ALL,
                 steps: int = 300, seed: int = 0):
        self.run_dir = Path(run_dir)
        self.data = explorer_data(load_embeddings(self.run_dir))
        if machine != ALL and machine not in self.data["machines"]:
            raise ConfigError(f"machine={machine!r}: not in {self.run_dir} (has {', '.join(self.data['machines'])})")
        self.settings = dict(loss=loss, m=float(m), s=float(s), alpha=float(alpha), dim=int(dim),
                             steps=int(steps), seed=int(seed))
        self.machine = machine
        self._widgets_built = False
        self._table, self._table_of = None, None  # clip_angle_table of the fit it was computed for
        self.fit, self.fit_seconds = _timed_fit(self.data, self.settings)

    # -- state -> figures
    def table(self) -> pd.DataFrame:
        """Test angle table of the current fit (all machines), see :func:`clip_angle_table`."""
        if self._table_of is not self.fit:
            self._table, self._table_of = clip_angle_table(self.fit, self.data), self.fit
        return self._table.copy()

    def _title(self) -> str:
        p = self.settings
        parts = [LOSS_TITLES[p["loss"]]]
        if p["loss"] != "ce":
            parts.append(f"m {p['m']:.2f} rad ({np.degrees(p['m']):.0f} deg)")
        parts.append(f"s {p['s']:g}")
        if p["loss"] in MIXUP_LOSSES:
            parts.append(f"alpha {p['alpha']:g}")
        where = "all machines" if self.machine == ALL else self.machine
        return f"{', '.join(parts)} — {where}"

    def static(self) -> tuple[go.Figure, go.Figure]:
        """``(histograms, sphere)``: ordinary figures of the current settings (for reports)."""
        table = self.table()
        test_sel = _machine_mask(self.data["test_meta"], self.machine)
        train_sel = _machine_mask(self.data["train_meta"], self.machine)
        hist = explorer_histograms(table[test_sel], self.fit.history, self.fit.angles[train_sel],
                                   title=f"{self._title()}<br><sup>toy head on the embeddings of "
                                         f"{self.run_dir.name}</sup>")
        shown = (np.unique(self.data["train_y"][train_sel]) if self.machine != ALL else None)
        sphere = sphere_figure(self.fit.centers, self.fit.transform(self.data["test_x"][test_sel]),
                               table.loc[test_sel, "head_class"].to_numpy(), table.loc[test_sel, "label"].to_numpy(),
                               self.data["classes"], self.fit.points[train_sel],
                               self.data["train_y"][train_sel], show_classes=shown,
                               title=f"{'sphere' if self.settings['dim'] == 3 else 'circle'}: "
                                     f"angles are measured here")
        return hist, sphere

    def summary(self) -> pd.DataFrame:
        """:func:`asdlab.analysis.angle_summary` of the current fit for the drawn machine(s)."""
        table = self.table()
        return angle_summary({self._title(): table[_machine_mask(table, self.machine)]})

    def loss_tables(self, losses=tuple(LOSSES)) -> dict[str, pd.DataFrame]:
        """Test angle tables of the toy head trained with each loss (current m, s, alpha, dim,
        seed), keyed by loss title: pass them to :func:`asdlab.viz.angle_histograms`."""
        out = {}
        for loss in losses:
            fit, _ = _timed_fit(self.data, {**self.settings, "loss": loss})
            out[LOSS_TITLES[loss]] = clip_angle_table(fit, self.data)
        return out

    # -- widgets
    def _build_widgets(self) -> None:
        import ipywidgets as w

        p = self.settings
        self.loss_dropdown = w.Dropdown(options=[(LOSS_TITLES[k], k) for k in LOSSES], value=p["loss"],
                                        description="loss")
        self.machine_dropdown = w.Dropdown(options=[("all machines", ALL)] + [(m, m) for m in self.data["machines"]],
                                           value=self.machine, description="show")
        self.dim_toggle = w.ToggleButtons(options=[("circle (2-D)", 2), ("sphere (3-D)", 3)], value=p["dim"],
                                          description="space")
        slider = dict(continuous_update=False, style={"description_width": "initial"},
                      layout=w.Layout(width="340px"))
        self.m_slider = w.FloatSlider(value=p["m"], min=0.0, max=1.5, step=0.05, readout_format=".2f",
                                      description="margin m (rad)", **slider)
        self.s_slider = w.FloatSlider(value=p["s"], min=1.0, max=64.0, step=1.0, readout_format=".0f",
                                      description="scale s", **slider)
        self.alpha_slider = w.FloatSlider(value=p["alpha"], min=0.0, max=2.0, step=0.05,
                                          readout_format=".2f", description="mixup alpha", **slider)
        self.status = w.HTML()
        hist, sphere = self.static()
        self.hist_widget = go.FigureWidget(plain_figure(hist))
        self.sphere_widget = go.FigureWidget(plain_figure(sphere))
        for control in (self.loss_dropdown, self.dim_toggle, self.m_slider, self.s_slider, self.alpha_slider):
            control.observe(self._on_setting, names="value")
        self.machine_dropdown.observe(self._on_machine, names="value")
        self._widgets_built = True
        self._sync_controls()

    def widget(self):
        """The ipywidgets box: controls, status line, histogram and sphere FigureWidgets."""
        import ipywidgets as w

        if not self._widgets_built:
            self._build_widgets()
        controls = w.VBox([w.HBox([self.loss_dropdown, self.machine_dropdown]), self.dim_toggle,
                           w.HBox([self.m_slider, self.s_slider, self.alpha_slider])])
        return w.VBox([controls, self.status, self.hist_widget, self.sphere_widget])

    def show(self, interactive: bool = True) -> None:
        """Display :meth:`widget` (``interactive``) or the :meth:`static` figures (reports)."""
        from IPython.display import display

        if interactive:
            display(self.widget())
        else:
            for fig in self.static():
                fig.show()

    def _on_setting(self, change) -> None:
        self.settings.update(loss=self.loss_dropdown.value, m=float(self.m_slider.value),
                             s=float(self.s_slider.value), alpha=float(self.alpha_slider.value),
                             dim=int(self.dim_toggle.value))
        self.refresh()

    def _on_machine(self, change) -> None:
        self.machine = self.machine_dropdown.value
        self.redraw()

    def refresh(self) -> float:
        """Retrain the toy head with the current settings and redraw; returns the seconds taken."""
        start = time.perf_counter()
        self.fit, self.fit_seconds = _timed_fit(self.data, self.settings)
        self.redraw()
        return time.perf_counter() - start

    def redraw(self) -> None:
        """Push the current fit into the FigureWidgets (no-op before :meth:`widget`). A sphere
        the user rotated keeps its camera while the drawn classes stay the same."""
        if not self._widgets_built:
            return
        hist, sphere = self.static()
        for widget, fig in ((self.hist_widget, hist), (self.sphere_widget, sphere)):
            same = [type(a) for a in widget.data] == [type(b) for b in fig.data]
            layout = fig.layout
            if same and widget.layout.uirevision == layout.uirevision and "scene" in layout:
                layout.scene.camera = widget.layout.scene.camera
            plain = plain_figure(fig)
            with widget.batch_update():
                if same:
                    for old, new in zip(widget.data, plain["data"]):
                        old.update(new, overwrite=True)
                else:
                    widget.data = ()
                    widget.add_traces(plain["data"])
                widget.layout = layout
        self._sync_controls()

    def _sync_controls(self) -> None:
        loss = self.settings["loss"]
        self.m_slider.disabled = loss == "ce"
        self.alpha_slider.disabled = loss not in MIXUP_LOSSES
        s = self.summary().iloc[0]
        self.status.value = (f"trained in {self.fit_seconds:.2f} s &nbsp;|&nbsp; median test angle: "
                             f"normal <b>{s['median_normal_angle']:.1f}</b> deg, anomalous "
                             f"<b>{s['median_anomaly_angle']:.1f}</b> deg &nbsp;|&nbsp; AUC of the angle "
                             f"as anomaly score <b>{s['angle_auc']:.3f}</b>")
