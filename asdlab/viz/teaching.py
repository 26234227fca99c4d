"""Small figures and tables for the teaching notebook ``notebooks/00_asd_in_one_hour.py``.

Everything here returns a ``plotly.graph_objects.Figure`` or a ``pandas.DataFrame``:

- :func:`tiny_example`: ten hand-made scores whose official metrics can be checked by eye;
- :func:`auc_by_counting`: AUC as the share of (normal, anomaly) pairs that are ranked right;
- :func:`roc_figure`: an ROC curve with the pAUC region (FPR <= ``max_fpr``) shaded;
- :func:`example_clips` and :func:`spectrogram_figure`: log-mel spectrograms side by side;
- :func:`anomaly_kinds`, :func:`top_clips`, :func:`kind_auc`: what the factory ground truth
  says about the anomalies and about the clips a method ranks highest (:func:`no_ground_truth`:
  the note shown instead on data without it);
- :func:`load_history` and :func:`history_figure`: a run's learning curves with their
  converged / still improving verdicts, when it saved a history.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import roc_auc_score, roc_curve

from asdlab.analysis.convergence import (ACC_TOL, LOSS_TOL, NOT_JUDGED, convergence_summary, judged, learning_curves,
                                         monitor_kind, plateau)
from asdlab.core.errors import AsdlabError, MetricsError
from asdlab.features import LogMelParams, log_mel
from asdlab.metrics import DOMAINS, MAX_FPR

DOMAIN_COLORS = {"source": "#2ca02c", "target": "#9467bd"}
CELLS = (("source", "normal"), ("target", "normal"), ("source", "anomaly"), ("target", "anomaly"))


# --- metrics by hand --------------------------------------------------------------------------

def tiny_example() -> pd.DataFrame:
    """Ten test clips of one made-up machine ``demo`` (section 00), small enough to check by eye.

    Columns: file, machine, section, domain, label, score (1.0 ... 10.0, higher = more
    anomalous), the same columns a run's ``scores.csv`` has. Three source-domain normals score
    lowest (1, 2, 3); the three target-domain normals score 4, 6 and 8, as if the domain shift
    made them sound unfamiliar; the anomalies score 5 and 9 (source) and 7 and 10 (target).
    Official metrics: AUC source 12/12 = 1.0, AUC target 9/12 = 0.75, pAUC (max_fpr 0.1)
    0.7368, official score (harmonic mean) 0.8129.
    """
    clips = [  # (score, domain, label), listed from lowest to highest score
        (1.0, "source", "normal"), (2.0, "source", "normal"), (3.0, "source", "normal"),
        (4.0, "target", "normal"), (5.0, "source", "anomaly"), (6.0, "target", "normal"),
        (7.0, "target", "anomaly"), (8.0, "target", "normal"), (9.0, "source", "anomaly"),
        (10.0, "target", "anomaly"),
    ]
    counters: dict[tuple[str, str], int] = {}
    rows = []
    for score, domain, label in clips:
        counters[domain, label] = counters.get((domain, label), 0) + 1
        name = f"section_00_{domain}_test_{label}_{counters[domain, label]:04d}_noAttribute.wav"
        rows.append({"file": name, "machine": "demo", "section": "00", "domain": domain,
                     "label": label, "score": score})
    return pd.DataFrame(rows)


def _binary_labels(labels, where: str = "labels") -> np.ndarray:
    """0/1 array from 0/1, booleans or "normal"/"anomaly" strings."""
    arr = np.asarray(labels)
    if arr.dtype.kind in "OUS":
        bad = ~np.isin(arr, ("normal", "anomaly"))
        if bad.any():
            raise MetricsError(f"{where}: expected 'normal'/'anomaly', got {arr[bad][0]!r}")
        return (arr == "anomaly").astype(int)
    y = arr.astype(int)
    if not np.isin(y, (0, 1)).all() or not np.array_equal(y, arr.astype(float)):
        raise MetricsError(f"{where}: expected 0 (normal) / 1 (anomaly) values")
    return y


def auc_by_counting(scores: pd.DataFrame) -> pd.DataFrame:
    """AUC as a count: the share of (normal, anomaly) pairs in which the anomaly scores higher
    (a tie counts half), for the official per-domain sets and for all clips.

    ``scores``: columns domain, label, score (one section). Rows ``source`` (source normals +
    ALL anomalies), ``target`` (target normals + ALL anomalies), ``all``; columns n_normal,
    n_anomaly, pairs, anomaly_higher, ties, auc. Equals scikit-learn's ``roc_auc_score``.
    """
    missing = [c for c in ("domain", "label", "score") if c not in scores.columns]
    if missing:
        raise MetricsError(f"scores table lacks column(s) {', '.join(missing)}")
    y = _binary_labels(scores["label"], "scores column 'label'")
    s = scores["score"].to_numpy(dtype=float)
    anomalies = s[y == 1]
    rows = {}
    for name in (*DOMAINS, "all"):
        keep = (y == 0) if name == "all" else (y == 0) & (scores["domain"] == name).to_numpy()
        normals = s[keep]
        higher = int((anomalies[:, None] > normals[None, :]).sum())
        ties = int((anomalies[:, None] == normals[None, :]).sum())
        pairs = len(normals) * len(anomalies)
        rows[name] = {"n_normal": len(normals), "n_anomaly": len(anomalies), "pairs": pairs,
                      "anomaly_higher": higher, "ties": ties,
                      "auc": (higher + 0.5 * ties) / pairs if pairs else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def _partial_roc(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve cut at ``max_fpr`` (its TPR interpolated there), as scikit-learn does."""
    stop = np.searchsorted(fpr, max_fpr, "right")
    x = np.append(fpr[:stop], max_fpr)
    y = np.append(tpr[:stop], np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1]))
    return x, y


def roc_figure(labels, scores, max_fpr: float = MAX_FPR, domains=None, title: str | None = None) -> go.Figure:
    """ROC curve of all clips with the pAUC region (FPR in [0, ``max_fpr``]) shaded.

    ``labels``: 0/1 or "normal"/"anomaly" per clip; ``scores``: floats, higher = more
    anomalous; ``domains``: optional "source"/"target" per clip, which adds one dashed curve per
    domain (its normals against ALL anomalies, the official AUC(source) / AUC(target)).
    Traces, in order: the shaded region (name starts with "pAUC region"), the ROC of all clips,
    the chance diagonal, then the domain curves. The title states AUC, the standardised pAUC
    (scikit-learn's ``roc_auc_score(max_fpr=...)``, McClish) and the raw shaded area.
    """
    y = _binary_labels(labels)
    s = np.asarray(scores, dtype=float)
    if s.shape != y.shape or s.ndim != 1:
        raise MetricsError(f"labels ({y.shape}) and scores ({s.shape}) must be 1-d and of equal length")
    if not np.isfinite(s).all():
        raise MetricsError("scores must be finite numbers")
    if not 0 < y.sum() < len(y):
        raise MetricsError("an ROC curve needs both normal and anomalous clips")
    if not 0.0 < max_fpr <= 1.0:
        raise MetricsError(f"max_fpr={max_fpr}: must be in (0, 1]")
    fpr, tpr, thr = roc_curve(y, s)
    px, py = _partial_roc(fpr, tpr, max_fpr)
    raw = float(np.trapezoid(py, px))
    pauc = roc_auc_score(y, s, max_fpr=max_fpr) if max_fpr < 1 else roc_auc_score(y, s)
    auc = roc_auc_score(y, s)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=px, y=py, mode="lines", fill="tozeroy", line={"width": 0},
                             fillcolor="rgba(214, 39, 40, 0.25)",
                             name=f"pAUC region (FPR <= {max_fpr:g}): area {raw:.4f}",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines+markers", line={"color": "#d62728", "shape": "linear"},
                             name=f"all clips: AUC {auc:.4f}", customdata=thr,
                             hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<br>threshold %{customdata:.4g}"
                                           "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.5)",
                             line={"color": "grey", "dash": "dot"}, hoverinfo="skip"))
    if domains is not None:
        d = np.asarray(domains, dtype=object)
        if d.shape != y.shape:
            raise MetricsError(f"domains ({d.shape}) must have one entry per clip ({y.shape})")
        for dom in DOMAINS:
            keep = ((d == dom) & (y == 0)) | (y == 1)
            if not ((d == dom) & (y == 0)).any():
                continue
            f, t, _ = roc_curve(y[keep], s[keep])
            fig.add_trace(go.Scatter(x=f, y=t, mode="lines", line={"dash": "dash", "color": DOMAIN_COLORS[dom]},
                                     name=f"{dom} normals + all anomalies: AUC {roc_auc_score(y[keep], s[keep]):.4f}"))
    fig.add_vline(x=max_fpr, line={"color": "#d62728", "dash": "dot", "width": 1})
    fig.update_layout(
        title=title or f"ROC: AUC {auc:.4f}, pAUC {pauc:.4f} (standardised; raw area {raw:.4f} of {max_fpr:g})",
        xaxis={"title": "false positive rate (share of normals above the threshold)", "range": [0, 1]},
        yaxis={"title": "true positive rate (share of anomalies above)", "range": [0, 1.02],
               "scaleanchor": "x", "scaleratio": 1},
        width=620, height=560, legend={"x": 0.98, "xanchor": "right", "y": 0.02, "yanchor": "bottom"})
    return fig


# --- looking at clips -------------------------------------------------------------------------

def pick_machine(table: pd.DataFrame, machine: str | None, prefer: str = "valve") -> str:
    """The machine type a notebook looks at: ``machine`` when the clip ``table`` has it (else a
    :class:`~asdlab.core.errors.ConfigError` listing those it has); ``None``: ``prefer`` when
    present, else the first machine type in alphabetical order, among those with labelled normal
    and anomalous test clips when there are any (evaluation data have none)."""
    from asdlab.core.errors import ConfigError

    have = sorted(table["machine"].unique())
    if machine is None:
        labelled = []
        if {"split", "label"} <= set(table.columns):
            test = table[table["split"] == "test"]
            labels = test.groupby("machine")["label"].agg(lambda s: set(s.dropna()))
            labelled = [m for m in have if {"normal", "anomaly"} <= labels.get(m, set())]
        pool = labelled or have
        return prefer if prefer in pool else pool[0]
    if machine not in have:
        raise ConfigError(f"notebook parameter machine={machine!r}: not in this dataset; it has {', '.join(have)}")
    return machine


def example_clips(table: pd.DataFrame, machine: str, ground_truth: pd.DataFrame | None = None) -> dict[str, str]:
    """One test clip per (domain, label) cell of ``machine``: ``{"source normal": path, ...}``
    in the order source normal, target normal, source anomaly, target anomaly. Data without
    domains (DCASE 2020 names) give the cells of the first two machine IDs instead:
    ``{"id 00 normal": path, "id 02 normal": ..., "id 00 anomaly": ..., "id 02 anomaly": ...}``.

    ``table``: :func:`asdlab.data.build_clip_table` output. The first clip (by file name) of
    each cell, except that with ``ground_truth`` (:func:`asdlab.analysis.factory_ground_truth`)
    the anomaly is the most severe one of the cell. Cells without clips are left out.
    """
    rows = table[(table["machine"] == machine) & (table["split"] == "test")].sort_values("file")
    if rows.empty:
        known = sorted(table["machine"].unique())
        raise AsdlabError(f"machine {machine!r}: no test clips in the clip table (machines: {known})")
    if ground_truth is not None:
        gt = ground_truth.loc[ground_truth["machine"] == machine, ["file", "severity"]]
        rows = rows.merge(gt, on="file", how="left")
    out = {}
    if rows["domain"].isna().all():
        ids = sorted(rows["section"].unique())[:2]
        cells = [(("section", i), f"id {i}", label) for label in ("normal", "anomaly") for i in ids]
    else:
        cells = [(("domain", domain), domain, label) for domain, label in CELLS]
    for (column, value), name, label in cells:
        cell = rows[(rows[column] == value) & (rows["label"] == label)]
        if cell.empty:
            continue
        if label == "anomaly" and "severity" in cell.columns and cell["severity"].notna().any():
            cell = cell.sort_values("severity", ascending=False, kind="stable")
        out[f"{name} {label}"] = cell["path"].iloc[0]
    return out


def spectrogram_figure(clips: dict[str, str | os.PathLike], params: LogMelParams = LogMelParams(),
                       cols: int = 2, dynamic_db: float = 80.0) -> go.Figure:
    """Log-mel spectrograms (dB) of ``clips`` (title -> WAV path) in a grid, ``cols`` per row.

    One shared colour scale from ``max - dynamic_db`` to the loudest bin of all clips, so
    loudness compares across panels. Each heatmap's ``z`` is ``(n_mels, 1 + n // hop)``; ``x``
    is time in seconds, ``y`` the mel band index.
    """
    from asdlab.data import read_audio

    if not clips:
        raise AsdlabError("spectrogram_figure: no clips given")
    mels = {name: log_mel(read_audio(path, params.sr), params).numpy() for name, path in clips.items()}
    n_rows = -(-len(mels) // cols)
    titles = [f"{name}<br><sup>{Path(path).name}</sup>" for name, path in clips.items()]
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=0.18 / n_rows)
    zmax = max(float(m.max()) for m in mels.values())
    for i, (name, mel) in enumerate(mels.items()):
        seconds = np.arange(mel.shape[1]) * params.hop / params.sr
        fig.add_trace(go.Heatmap(z=mel, x=seconds, coloraxis="coloraxis", name=name,
                                 hovertemplate="%{x:.2f} s, mel band %{y}: %{z:.1f} dB<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(title_text="time (s)", row=n_rows)
    fig.update_yaxes(title_text="mel band", col=1)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "cmin": zmax - dynamic_db, "cmax": zmax,
                                 "colorbar": {"title": "dB"}},
                      height=260 * n_rows + 60, margin={"t": 60})
    return fig


# --- ground truth and rankings ----------------------------------------------------------------

def no_ground_truth(what: str):
    """A one-line Markdown note for a notebook section that needs the factory's ground truth on
    data that have none (real DCASE data): ``what`` is what cannot be shown."""
    from IPython.display import Markdown

    return Markdown(f"*These data have no factory ground truth (`ground_truth/clips/`, written only by "
                    f"`asdlab synth`): {what} cannot be shown.*")


def anomaly_kinds(ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The anomaly kinds of each machine type: index (machine, anomaly_kind), columns clips,
    severity_min, severity_max (severity in [0, 1]; 0.1 is barely measurable)."""
    anom = ground_truth[ground_truth["anomaly_kind"].fillna("") != ""]
    if anom.empty:
        raise AsdlabError("the ground truth lists no anomalous clips")
    return (anom.groupby(["machine", "anomaly_kind"])["severity"]
            .agg(clips="size", severity_min="min", severity_max="max"))


def _with_truth(scores: pd.DataFrame, ground_truth: pd.DataFrame | None) -> pd.DataFrame:
    if ground_truth is None:
        return scores.copy()
    gt = ground_truth[["file", "machine", "anomaly_kind", "severity"]]
    return scores.merge(gt, on=["file", "machine"], how="left")


def top_clips(scores: pd.DataFrame, ground_truth: pd.DataFrame | None = None, n: int = 5,
              machine: str | None = None) -> pd.DataFrame:
    """The ``n`` highest-scoring test clips of each machine type (or only ``machine``).

    ``scores``: a run's ``scores.csv`` (file, machine, domain, label, score, ...). Scores are
    compared within a machine type only (each has its own model and scale). Adds ``rank`` (1 =
    most anomalous) and, with ``ground_truth``, anomaly_kind and severity.
    """
    t = scores if machine is None else scores[scores["machine"] == machine]
    if t.empty:
        raise AsdlabError(f"machine {machine!r}: no scores (machines: {sorted(scores['machine'].unique())})")
    t = t.sort_values(["machine", "score"], ascending=[True, False], kind="stable").copy()
    t.insert(0, "rank", t.groupby("machine").cumcount() + 1)
    t = t[t["rank"] <= n]
    cols = ["machine", "rank", "file", "domain", "label", "score"]
    out = _with_truth(t[cols], ground_truth)
    return out.reset_index(drop=True)


def kind_auc(scores: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """How well a run detects each anomaly kind: one row per (machine, anomaly_kind) with
    clips, mean severity, ``auc_source`` / ``auc_target`` (the kind's clips of that domain
    against the normal test clips of that domain) and ``auc`` (all its clips against all normal
    test clips of the machine). 0.5 = the kind is invisible to the score; NaN where a domain
    has no clip of the kind."""
    t = _with_truth(scores, ground_truth)
    rows = []
    for machine, g in t.groupby("machine", sort=True):
        normal = g[g["label"] == "normal"]
        for kind, a in g[g["label"] == "anomaly"].groupby("anomaly_kind", sort=True):
            row = {"machine": machine, "anomaly_kind": kind, "clips": len(a),
                   "mean_severity": float(a["severity"].mean())}
            for name, nm, an in [("auc_source", normal[normal["domain"] == "source"], a[a["domain"] == "source"]),
                                 ("auc_target", normal[normal["domain"] == "target"], a[a["domain"] == "target"]),
                                 ("auc", normal, a)]:
                y = np.r_[np.zeros(len(nm)), np.ones(len(an))]
                row[name] = roc_auc_score(y, np.r_[nm["score"], an["score"]]) if len(nm) and len(an) else np.nan
            rows.append(row)
    if not rows:
        raise AsdlabError("kind_auc: no anomalous clips with a known kind in the scores")
    return pd.DataFrame(rows).set_index(["machine", "anomaly_kind"])


# --- training curves --------------------------------------------------------------------------

def load_history(run_dir: str | os.PathLike) -> pd.DataFrame | None:
    """A run folder's ``history.csv`` as written (its shapes: see
    :func:`asdlab.analysis.convergence.learning_curves`) or None when the run kept no training
    history (no file, or an empty one)."""
    path = Path(run_dir) / "history.csv"
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else None


def history_figure(history: pd.DataFrame, title: str = "Learning curves", tail: float = 0.25,
                   tol: float | None = None, cols: int | None = None, acc_tol: float | None = None) -> go.Figure:
    """Learning curves of a run's ``history`` (any ``history.csv`` shape), one panel per curve
    of :func:`asdlab.analysis.convergence.learning_curves`, each titled with its
    :func:`~asdlab.analysis.convergence.plateau` verdict (``tail``; ``tol`` for a loss,
    ``acc_tol`` for an accuracy; defaults 2 % and 2 points).

    Training loss dashed, validation loss solid, the classifier's accuracy (where the method
    records one) green on the right-hand axis; the monitored curve (which the verdict reads) has
    markers; the grey band is the last ``tail`` of the epochs the verdict reads, a green band the
    annealing epochs of a ``"plateau"`` schedule (not judged). The loss axis is logarithmic in
    a panel whose losses are all positive. ``cols`` panels per row (default: up to 3).
    """
    curves = learning_curves(history)
    if curves.empty:
        raise AsdlabError("history has no rows: nothing to draw")
    summary = convergence_summary(curves, tail, tol, acc_tol).set_index("curve")
    names = list(summary.index)
    cols = cols or min(len(names), 3)
    n_rows = -(-len(names) // cols)
    titles = []
    for name in names:
        row = summary.loc[name]
        unit = "points" if monitor_kind(row["monitored"]) == "accuracy" else "%"
        detail = "" if row["verdict"] in ("too short", NOT_JUDGED) else f" ({row['improvement_pct']:+.1f} {unit} in the tail)"
        titles.append(f"{name}: <b>{row['verdict']}</b>{detail}")
    has_acc = bool(curves["accuracy"].notna().any())  # a right-hand axis only where there is an accuracy
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=titles,
                        specs=[[{"secondary_y": has_acc}] * cols for _ in range(n_rows)],
                        horizontal_spacing=0.1 if has_acc else 0.08, vertical_spacing=min(0.25, 0.45 / n_rows))
    styles = {"train_loss": ("training loss", "#1f77b4", "dash", False),
              "val_loss": ("validation loss", "#ff7f0e", "solid", False),
              "accuracy": ("accuracy", "#2ca02c", "solid", True)}
    shown = set()
    for i, name in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        g = curves[curves["curve"] == name]
        monitor = g["monitor"].iloc[0]
        kind = monitor_kind(monitor)
        values = []
        for col, (label, color, dash, right) in styles.items():
            y = g[col].to_numpy(dtype=float)
            if not np.isfinite(y).any():
                continue
            marked = col == ("accuracy" if kind == "accuracy" else "val_loss" if monitor == "val_loss" else "train_loss")
            label = monitor if col == "accuracy" else label
            legend = f"{label} (monitored)" if marked else label
            fig.add_trace(go.Scatter(x=g["epoch"], y=y, mode="lines+markers" if marked else "lines",
                                     name=legend, legendgroup=legend, showlegend=legend not in shown,
                                     line={"color": color, "dash": dash}, marker={"size": 6},
                                     hovertemplate=f"{name}<br>epoch %{{x}}: {label} %{{y:.4g}}<extra></extra>"),
                          row=r, col=c, **({"secondary_y": right} if has_acc else {}))
            shown.add(legend)
            if not right:
                values.append(y[np.isfinite(y)])
            else:
                fig.update_yaxes(range=[0, 1.02], row=r, col=c, secondary_y=True)
        p = plateau(judged(g), tail, tol if kind == "loss" else acc_tol, kind)
        train_phase = g["phase"].to_numpy() != "anneal"
        if p["q"] >= 1:  # the epochs the verdict calls the tail
            x = g["epoch"].to_numpy()[np.isfinite(g["monitored"].to_numpy(dtype=float)) & train_phase]
            fig.add_vrect(x0=x[len(x) - p["q"]] - 0.5, x1=x[-1] + 0.5, fillcolor="grey", opacity=0.12,
                          line_width=0, row=r, col=c)
        if not train_phase.all():  # a plateau schedule's annealing after the plateau
            x = g["epoch"].to_numpy()[~train_phase]
            fig.add_vrect(x0=x.min() - 0.5, x1=x.max() + 0.5, fillcolor="#2ca02c", opacity=0.08,
                          line_width=0, row=r, col=c)
        if values and (np.concatenate(values) > 0).all():
            fig.update_yaxes(type="log", row=r, col=c, **({"secondary_y": False} if has_acc else {}))
    fig.update_xaxes(title_text="epoch", row=n_rows)
    if has_acc:
        fig.update_yaxes(title_text="loss", col=1, secondary_y=False)
        fig.update_yaxes(title_text="accuracy", col=cols, secondary_y=True)
    else:
        fig.update_yaxes(title_text="loss", col=1)
    loss_tol = LOSS_TOL if tol is None else tol
    a_tol = ACC_TOL if acc_tol is None else acc_tol
    annealed = "; green: annealing after the plateau" if (curves["phase"] == "anneal").any() else ""
    fig.update_layout(title=f"{title}<br><sup>grey: the last {tail:.0%} of the epochs{annealed}; converged = their best "
                            f"accuracy is at most {100 * a_tol:g} points above the best before them (their best loss "
                            f"at most {loss_tol:.0%} below, where no accuracy is recorded)</sup>",
                      height=300 * n_rows + 140, margin={"t": 110},
                      legend={"orientation": "h", "y": -0.12 if n_rows == 1 else -0.05})
    return fig
