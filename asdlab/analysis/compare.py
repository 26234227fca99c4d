"""Methods side by side: the seeds' Table 1 of several run folders in one table.

``compare_table({"ae_mse": "runs/course/ae_mse", ...})`` has one row per machine, then
``All (hmean)`` and ``Official score``; columns are ``(method, metric)`` pairs with the metrics
of :func:`asdlab.metrics.metrics_table` (``AUC source``, ``AUC target``, ``pAUC``; ``AUC`` for
sections without domains). Values are fractions in [0, 1], higher is better. A method whose
run is missing or has no metrics keeps its (empty) columns and is named in
``table.attrs["missing"]``: nothing is dropped silently.
"""

from __future__ import annotations

import html
import os
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from asdlab.core.errors import AsdlabError
from asdlab.metrics import ALL_ROW

OFFICIAL_ROW = "Official score"
"""Last row of :func:`compare_table`: each method's official score, in its first metric column."""
METRICS = ("AUC source", "AUC target", "AUC", "pAUC")
BEST_STYLE = "font-weight: bold"


def method_runs(runs_dir: str | os.PathLike, methods: list[str] | None = None) -> dict[str, Path]:
    """``{method: runs_dir/method}`` for ``methods`` (default: every registered method, by
    name). Unknown method names are a :class:`~asdlab.core.errors.ConfigError`."""
    from asdlab.methods import get_method, list_methods

    names = [m.name for m in list_methods()] if methods is None else [get_method(m).name for m in methods]
    return {m: Path(runs_dir) / m for m in names}


def _load(folder: Path) -> tuple[dict | None, str]:
    """(run dict or None, status): ok, missing, unreadable: ..., no metrics."""
    from asdlab.runs import load_run

    if not folder.is_dir():
        return None, "missing"
    try:
        run = load_run(folder)
    except (AsdlabError, OSError, ValueError, KeyError) as err:
        return None, f"unreadable: {err}"
    if "table" not in run:
        return run, "no metrics (test labels unknown)"
    return run, "ok"


def run_overview(runs: Mapping[str, str | os.PathLike], preset: str | None = None,
                 data: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per method (index ``method``): ``status`` (ok, missing, unreadable: why,
    no metrics ...), ``official_score`` (fraction, NaN unless ok), ``preset``, ``seed``,
    ``data`` (from the run's config), ``folder``, and ``note``: what differs from the expected
    ``preset`` and dataset folder ``data`` when given (runs made on other data or at another
    scale are not comparable)."""
    want_data = str(Path(data).expanduser().resolve()) if data is not None else None
    rows = []
    for method, folder in runs.items():
        run, status = _load(Path(folder))
        config = run["config"] if run else {}
        score = run["summary"]["official_score"] if status == "ok" else np.nan
        notes = []
        if run and preset is not None and config.get("preset") != preset:
            notes.append(f"preset {config.get('preset')!r}, not {preset!r}")
        if run and want_data is not None and config.get("data") != want_data:
            notes.append(f"made on {config.get('data')}")
        rows.append({"method": method, "status": status, "official_score": score,
                     "preset": config.get("preset"), "seed": config.get("seed"),
                     "data": config.get("data"), "folder": str(folder), "note": "; ".join(notes)})
    cols = ["method", "status", "official_score", "preset", "seed", "data", "folder", "note"]
    return pd.DataFrame(rows, columns=cols).astype({"seed": "Int64"}).set_index("method")


def compare_table(runs: Mapping[str, str | os.PathLike], warn: bool = True) -> pd.DataFrame:
    """Table 1 of every run in ``runs`` (method -> run folder) side by side.

    Rows: machines (in order of first appearance), ``All (hmean)``, ``Official score``.
    Columns: MultiIndex ``(method, metric)``, methods in the order given. A cell a run lacks is
    NaN. ``attrs["missing"]``: ``{method: reason}`` for runs that are missing, unreadable or
    without metrics (also warned unless ``warn=False``); ``attrs["official_score"]``:
    ``{method: score}``.
    """
    tables, scores, missing = {}, {}, {}
    for method, folder in runs.items():
        run, status = _load(Path(folder))
        if status != "ok":
            missing[method] = f"{folder}: {status}"
            continue
        tables[method] = run["table"]
        scores[method] = float(run["summary"]["official_score"])
    df = side_by_side(tables, scores, names=list(runs))
    df.attrs["missing"] = missing
    if missing and warn:
        warnings.warn("runs left out of the comparison: " + "; ".join(f"{m} ({why})" for m, why in missing.items()))
    return df


def side_by_side(tables: Mapping[str, pd.DataFrame], scores: Mapping[str, float],
                 names: list[str] | None = None) -> pd.DataFrame:
    """:func:`compare_table`'s frame from Table 1 frames (``tables``: name -> table indexed by
    machine with an ``All (hmean)`` row) and official scores (``scores``: name -> fraction).
    ``names``: column order, including names without a table (their columns stay NaN)."""
    names = list(tables) if names is None else names
    metrics = [m for m in METRICS if any(m in t.columns for t in tables.values())]
    metrics = metrics or ["AUC source", "AUC target", "pAUC"]
    machines = list(dict.fromkeys(r for t in tables.values() for r in t.index if r != ALL_ROW))
    columns = pd.MultiIndex.from_product([names, metrics], names=["method", "metric"])
    df = pd.DataFrame(np.nan, index=pd.Index([*machines, ALL_ROW, OFFICIAL_ROW], name="machine"),
                      columns=columns)
    for name, t in tables.items():
        for metric in metrics:
            if metric in t.columns:
                df.loc[t.index, (name, metric)] = t[metric].to_numpy(dtype=float)
        df.loc[OFFICIAL_ROW, (name, metrics[0])] = scores[name]
    df.attrs["missing"] = {}
    df.attrs["official_score"] = dict(scores)
    return df


def leaderboard(df: pd.DataFrame) -> pd.DataFrame:
    """The short form of :func:`compare_table`: one row per method (index ``method``) with its
    ``All (hmean)`` metrics and ``Official score`` columns, best official score first; methods
    without a score last (all NaN)."""
    metrics = list(df.columns.get_level_values("metric").unique())
    methods = list(df.columns.get_level_values("method").unique())
    board = pd.DataFrame({m: df.loc[ALL_ROW, m] for m in methods}).T.reindex(columns=metrics)
    board[OFFICIAL_ROW] = [df.loc[OFFICIAL_ROW, (m, metrics[0])] for m in methods]
    board.index.name, board.columns.name = "method", None
    return board.sort_values(OFFICIAL_ROW, ascending=False, na_position="last", kind="stable")


def missing_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The runs :func:`compare_table` left out: index ``method``, column ``why`` (empty frame
    when every run had metrics)."""
    missing = df.attrs.get("missing") or {}
    return pd.DataFrame({"why": list(missing.values())}, index=pd.Index(list(missing), name="method"))


def best_mask(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame shaped like :func:`compare_table`'s: True where a cell holds the highest
    value of its row among the methods, per metric (ties all True). Rows where fewer than two
    methods have a value mark nothing."""
    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    for metric in df.columns.get_level_values("metric").unique():
        sub = df.xs(metric, axis=1, level="metric", drop_level=False)
        enough = sub.notna().sum(axis=1) >= 2
        best = sub.eq(sub.max(axis=1), axis=0) & sub.notna()
        mask.loc[:, sub.columns] = best.where(enough, False).to_numpy()
    return mask


def _percent(v) -> str:
    return "-" if pd.isna(v) else f"{100 * v:.2f}%"


def style_best(df: pd.DataFrame):
    """A pandas Styler of :func:`compare_table`: percentages with two decimals, ``-`` for a
    missing value (blank in the official-score row), the best value per row and metric bold."""
    mask = best_mask(df)
    styler = df.style.format(_percent)
    if OFFICIAL_ROW in df.index:
        styler = styler.format(lambda v: "" if pd.isna(v) else _percent(v),
                               subset=pd.IndexSlice[[OFFICIAL_ROW], :])
    styler = styler.apply(lambda _: mask.replace({True: BEST_STYLE, False: ""}), axis=None)
    return styler.set_caption("Best value per row and metric in bold; fractions shown as %")


def percent_style(df: pd.DataFrame, columns: list | None = None, best: bool = False):
    """A pandas Styler showing ``columns`` (default: all) of fractions as percentages with two
    decimals (``-`` for NaN); ``best``: the highest value of each of those columns bold."""
    columns = list(df.columns) if columns is None else list(columns)
    styler = df.style.format(_percent, subset=columns)
    if best:
        styler = styler.apply(lambda col: np.where(col.notna() & (col == col.max()), BEST_STYLE, ""),
                              subset=columns)
    return styler


def compare_html(df: pd.DataFrame) -> str:
    """For the report's index page: the :func:`leaderboard` (best of each column bold), the
    whole table of :func:`style_best` (scrolls sideways when wide), then the runs left out
    (``df.attrs["missing"]``)."""
    if not df.notna().to_numpy().any():
        text = "<p>No run folder with metrics to compare yet.</p>"
    else:
        board = percent_style(leaderboard(df), best=True).set_uuid("leaderboard")
        board = board.set_table_attributes('class="leaderboard"').set_caption(
            "All machines (harmonic means), best official score first")
        full = style_best(df).set_uuid("compare").set_table_attributes('class="compare"')
        text = f"{board.to_html()}<div style='overflow-x: auto'>{full.to_html()}</div>"
    missing = df.attrs.get("missing") or {}
    if missing:
        items = "".join(f"<li><b>{html.escape(m)}</b>: {html.escape(why)}</li>" for m, why in missing.items())
        text += f"<p>Runs left out of the comparison:</p><ul class='missing'>{items}</ul>"
    return text


def official_scores_figure(df: pd.DataFrame) -> go.Figure:
    """Bar chart of each method's official score (%) from :func:`compare_table`, best bar
    highlighted; methods without a score are named in the title."""
    scores = df.attrs.get("official_score")
    if scores is None:  # a table rebuilt without attrs: read the official-score row
        row = df.loc[OFFICIAL_ROW].groupby(level="method", sort=False).max()
        scores = {m: float(v) for m, v in row.items() if pd.notna(v)}
    methods = list(scores)
    values = np.array([100 * scores[m] for m in methods])
    best = values.max() if len(values) else np.nan
    colors = ["#d62728" if v == best else "#1f77b4" for v in values]
    fig = go.Figure(go.Bar(x=methods, y=values, marker_color=colors, text=[f"{v:.2f}%" for v in values],
                           textposition="outside", hovertemplate="%{x}: %{y:.2f}%<extra></extra>"))
    missing = [m for m in df.columns.get_level_values("method").unique() if m not in scores]
    title = "Official score (harmonic mean of every AUC and pAUC)"
    if missing:
        title += f"<br><sup>no score: {', '.join(missing)}</sup>"
    fig.update_layout(title=title, yaxis_title="official score (%)", xaxis_title="method",
                      yaxis_range=[0, 105], template="plotly_white")
    return fig
