"""Methods side by side: the seeds' Table 1 of several run folders in one table.

``compare_table({"ae_mse": "runs/course/ae_mse", ...})`` has one row per machine, then
``All (hmean)`` and ``Official score``; columns are ``(method, metric)`` pairs with the metrics
of :func:`asdlab.metrics.metrics_table` (``AUC source``, ``AUC target``, ``pAUC``; ``AUC`` for
sections without domains). Values are fractions in [0, 1], higher is better. A method whose
run is missing or has no metrics keeps its (empty) columns and is named in
``table.attrs["missing"]``: nothing is dropped silently.

Over several training seeds (``{method: {seed: folder}}``, :func:`asdlab.runs.seeds.seed_runs`),
:func:`seed_compare_table` gives each cell's mean, sample sd (ddof 1) and number of seeds, and a
best value is marked only beyond the spread (:func:`beyond_spread`: the best mean exceeds every
other mean by more than the larger of the two sds). With a single run per method there is no
spread: :func:`best_mask` marks the plain highest value, as a ranking, not as evidence.
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
from asdlab.metrics.official import SUMMARY_ROWS, summary_row

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


def official_ci95(run: dict) -> float:
    """Half-width of the jackknife 95 % interval of a loaded run's official score (fraction):
    ``summary.json``'s ``official_ci95``, computed from its scores for runs made before it was
    stored; NaN when it cannot be computed (no metrics, fewer than 2 clips of a label)."""
    from asdlab.metrics.jackknife import official_jackknife

    summary = run.get("summary") or {}
    if "official_ci95" in summary:
        value = summary["official_ci95"]
        return float(value) if value is not None else np.nan
    if "official_score" not in summary:
        return np.nan
    try:
        return official_jackknife(run["scores"], summary["official_score"])["official_ci95"]
    except (AsdlabError, KeyError, ValueError):
        return np.nan


def run_overview(runs: Mapping[str, str | os.PathLike], preset: str | None = None,
                 data: str | os.PathLike | None = None, seed: int | None = None) -> pd.DataFrame:
    """One row per method (index ``method``): ``status`` (ok, missing, unreadable: why,
    no metrics ...), ``official_score`` (fraction, NaN unless ok), ``official_ci95`` (half-width
    of its jackknife 95 % interval, :func:`official_ci95`), ``preset``, ``seed``, ``data`` (from
    the run's config), ``folder``, and ``note``: what differs from the expected ``preset``,
    dataset folder ``data`` and training ``seed`` when given (runs made on other data or at
    another scale are not comparable)."""
    want_data = str(Path(data).expanduser().resolve()) if data is not None else None
    rows = []
    for method, folder in runs.items():
        run, status = _load(Path(folder))
        config = run["config"] if run else {}
        ok = status == "ok"
        score = run["summary"]["official_score"] if ok else np.nan
        notes = []
        if run and preset is not None and config.get("preset") != preset:
            notes.append(f"preset {config.get('preset')!r}, not {preset!r}")
        if run and want_data is not None and config.get("data") != want_data:
            notes.append(f"made on {config.get('data')}")
        if run and seed is not None and config.get("seed") != seed:
            notes.append(f"seed {config.get('seed')}, not {seed}")
        rows.append({"method": method, "status": status, "official_score": score,
                     "official_ci95": official_ci95(run) if ok else np.nan,
                     "preset": config.get("preset"), "seed": config.get("seed"),
                     "data": config.get("data"), "folder": str(folder), "note": "; ".join(notes)})
    cols = ["method", "status", "official_score", "official_ci95", "preset", "seed", "data", "folder", "note"]
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
    machines = list(dict.fromkeys(r for t in tables.values() for r in t.index if r not in SUMMARY_ROWS))
    columns = pd.MultiIndex.from_product([names, metrics], names=["method", "metric"])
    df = pd.DataFrame(np.nan, index=pd.Index([*machines, _summary(tables.values()), OFFICIAL_ROW], name="machine"),
                      columns=columns)
    for name, t in tables.items():
        for metric in metrics:
            if metric in t.columns:
                df.loc[t.index, (name, metric)] = t[metric].to_numpy(dtype=float)
        df.loc[OFFICIAL_ROW, (name, metrics[0])] = scores[name]
    df.attrs["missing"] = {}
    df.attrs["official_score"] = dict(scores)
    return df


def _summary(tables) -> str:
    """The summary row the compared tables share: ``All (mean)`` when they were computed under
    the 2020 protocol (:func:`asdlab.metrics.official.summary_row`), else ``All (hmean)``."""
    rows = {summary_row(t) for t in tables}
    return rows.pop() if len(rows) == 1 else ALL_ROW


def leaderboard(df: pd.DataFrame) -> pd.DataFrame:
    """The short form of :func:`compare_table`: one row per method (index ``method``) with its
    ``All (hmean)`` metrics and ``Official score`` columns, best official score first; methods
    without a score last (all NaN)."""
    metrics = list(df.columns.get_level_values("metric").unique())
    methods = list(df.columns.get_level_values("method").unique())
    board = pd.DataFrame({m: df.loc[summary_row(df), m] for m in methods}).T.reindex(columns=metrics)
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


def metric_tables(df: pd.DataFrame) -> dict[str, "pd.io.formats.style.Styler"]:
    """:func:`compare_table` cut into one Styler per metric: rows the machines and the summary
    row, columns the methods (percentages, best value per row bold as in :func:`style_best`).
    Each is as wide as the number of methods, so a report page stays readable at 1366 px."""
    mask = best_mask(df)
    rows = [r for r in df.index if r != OFFICIAL_ROW]
    out = {}
    for metric in df.columns.get_level_values("metric").unique():
        sub = df.xs(metric, axis=1, level="metric").loc[rows]
        bold = mask.xs(metric, axis=1, level="metric").loc[rows]
        if sub.isna().all(axis=None):
            continue
        sub.columns.name = None
        out[metric] = (sub.style.format(_percent)
                       .apply(lambda _, b=bold: b.replace({True: BEST_STYLE, False: ""}), axis=None))
    return out


def compare_html(df: pd.DataFrame) -> str:
    """For the report's index page: the :func:`leaderboard` (best of each column bold), then
    :func:`metric_tables`, one per metric (a machine x method table each, the first open, the
    others a click away), then the runs left out (``df.attrs["missing"]``)."""
    if not df.notna().to_numpy().any():
        text = "<p>No run folder with metrics to compare yet.</p>"
    else:
        board = percent_style(leaderboard(df), best=True).set_uuid("leaderboard")
        board = board.set_table_attributes('class="leaderboard"').set_caption(
            "All machines (harmonic means), best official score first")
        parts = [board.to_html(), "<p>Per machine, one table per metric (best value per row in bold; "
                                  "fractions shown as %):</p>"]
        for k, (metric, styler) in enumerate(metric_tables(df).items()):
            table = styler.set_uuid(f"compare{k}").set_table_attributes('class="compare per-metric"').to_html()
            parts.append(f"<details{' open' if k == 0 else ''}><summary>{html.escape(metric)}</summary>"
                         f"{table}</details>")
        text = "".join(parts)
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


# --- several training seeds -------------------------------------------------------------------

STATS = ("mean", "sd", "n")
"""Last column level of :func:`seed_compare_table`: mean over seeds, sample sd (ddof 1; NaN
below 2 seeds) and the number of seeds with a value."""


def seed_overview(runs: Mapping[str, Mapping[int, str | os.PathLike]], preset: str | None = None,
                  data: str | os.PathLike | None = None) -> pd.DataFrame:
    """:func:`run_overview` of every method and seed (``runs``: method -> {seed: run folder},
    e.g. :func:`asdlab.runs.seeds.seed_runs`): index ``(method, seed)``, the seed being the one
    asked for (a run trained with another seed says so in ``note``)."""
    frames = []
    for method, by_seed in runs.items():
        for seed, folder in by_seed.items():
            row = run_overview({method: folder}, preset=preset, data=data, seed=seed)
            frames.append(row.drop(columns="seed").assign(seed=seed).set_index("seed", append=True))
    cols = ["status", "official_score", "official_ci95", "preset", "data", "folder", "note"]
    if not frames:
        return pd.DataFrame(columns=cols, index=pd.MultiIndex.from_tuples([], names=["method", "seed"]))
    return pd.concat(frames)[cols]


def seed_compare_table(runs: Mapping[str, Mapping[int, str | os.PathLike]], warn: bool = True) -> pd.DataFrame:
    """:func:`compare_table` over several training seeds: each cell's mean, sd and n.

    ``runs``: method -> {seed: run folder}. Rows as in :func:`compare_table` (machines, ``All
    (hmean)``, ``Official score``); columns MultiIndex ``(method, metric, stat)`` with ``stat``
    in :data:`STATS`: the mean over the seeds that have a value, the sample standard deviation
    (ddof 1, NaN with fewer than 2 values) and that number of seeds ``n``. ``All (hmean)`` and
    ``Official score`` are the mean and sd of each seed's own harmonic means, not harmonic
    means of means. ``attrs``: ``seeds`` (in order of first appearance), ``missing`` (``{"method,
    seed s": reason}``, warned unless ``warn=False``), ``official_score`` (``{method: {seed:
    score}}``).
    """
    names = list(runs)
    seeds = list(dict.fromkeys(s for by_seed in runs.values() for s in by_seed))
    per_seed, missing, official = {}, {}, {m: {} for m in names}
    for seed in seeds:
        table = compare_table({m: by_seed[seed] for m, by_seed in runs.items() if seed in by_seed}, warn=False)
        per_seed[seed] = table
        missing.update({f"{m}, seed {seed}": why for m, why in table.attrs["missing"].items()})
        for m, score in table.attrs["official_score"].items():
            official[m][seed] = score
    filled = [t for t in per_seed.values() if t.notna().to_numpy().any()]  # seeds with some run
    metrics = [m for m in METRICS if any(m in t.columns.get_level_values("metric") for t in filled)]
    metrics = metrics or ["AUC source", "AUC target", "pAUC"]
    machines = list(dict.fromkeys(r for t in filled for r in t.index if r not in (*SUMMARY_ROWS, OFFICIAL_ROW)))
    index = pd.Index([*machines, _summary(filled), OFFICIAL_ROW], name="machine")
    inner = pd.MultiIndex.from_product([names, metrics], names=["method", "metric"])
    cube = np.stack([t.reindex(index=index, columns=inner).to_numpy(dtype=float) for t in per_seed.values()]) \
        if per_seed else np.full((0, len(index), len(inner)), np.nan)
    n = np.sum(~np.isnan(cube), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: NaN, as wanted
        mean = np.nanmean(cube, axis=0) if len(cube) else np.full(n.shape, np.nan)
        sd = np.where(n >= 2, np.nanstd(cube, axis=0, ddof=1), np.nan) if len(cube) else np.full(n.shape, np.nan)
    parts = {"mean": mean, "sd": sd, "n": n.astype(float)}
    columns = pd.MultiIndex.from_tuples([(m, metric, stat) for m, metric in inner for stat in STATS],
                                        names=["method", "metric", "stat"])
    data = np.stack([parts[stat] for stat in STATS], axis=-1).reshape(len(index), -1)
    df = pd.DataFrame(data, index=index, columns=columns)
    df.attrs.update(seeds=seeds, missing=missing, official_score=official)
    if missing and warn:
        warnings.warn("runs left out of the comparison: " + "; ".join(f"{m} ({why})" for m, why in missing.items()))
    return df


def seed_leaderboard(stats: pd.DataFrame) -> pd.DataFrame:
    """The short form of :func:`seed_compare_table`: one row per method (index ``method``),
    columns ``(metric, stat)`` for its ``All (hmean)`` metrics and ``Official score``, best mean
    official score first; methods without one last."""
    methods = list(stats.columns.get_level_values("method").unique())
    metrics = list(stats.columns.get_level_values("metric").unique())
    rows = {}
    for m in methods:
        row = {(metric, stat): stats.loc[summary_row(stats), (m, metric, stat)] for metric in metrics for stat in STATS}
        row.update({(OFFICIAL_ROW, stat): stats.loc[OFFICIAL_ROW, (m, metrics[0], stat)] for stat in STATS})
        rows[m] = row
    board = pd.DataFrame.from_dict(rows, orient="index")
    board.columns = pd.MultiIndex.from_tuples(board.columns, names=["metric", "stat"])
    board.index.name = "method"
    board.attrs["seeds"] = list(stats.attrs.get("seeds", []))
    return board.sort_values((OFFICIAL_ROW, "mean"), ascending=False, na_position="last", kind="stable")


def beyond_spread(mean: pd.Series, sd: pd.Series, n: pd.Series) -> pd.Series:
    """Which entry is the best beyond the spread: True only for the highest ``mean`` when, for
    every other entry with a mean, the difference exceeds the spread of the pair, the larger of
    their two sample sds (ddof 1). Needs every compared entry to have ``n >= 2`` seeds (else no
    sd, no mark) and at least two entries; ties mark nothing. Inputs share one index."""
    out = pd.Series(False, index=mean.index)
    have = mean.notna()
    if have.sum() < 2 or (n[have] < 2).any() or sd[have].isna().any():
        return out
    best = mean[have].idxmax()
    others = have & (mean.index != best)
    margin = mean[best] - mean[others]
    spread = np.maximum(sd[best], sd[others])
    out[best] = bool((margin > spread).all())
    return out


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return tuple(frame.xs(stat, axis=1, level="stat") for stat in STATS)


def seed_best_mask(stats: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame shaped like ``stats``' means (columns without the ``stat`` level): for
    :func:`seed_compare_table`, True where a method is best in its row and metric beyond the
    spread (:func:`beyond_spread`); for :func:`seed_leaderboard`, likewise per column."""
    mean, sd, n = _split(stats)
    mask = pd.DataFrame(False, index=mean.index, columns=mean.columns)
    if "method" in mean.columns.names:  # the full table: per row and metric, across methods
        for metric in mean.columns.get_level_values("metric").unique():
            cols = [c for c in mean.columns if c[1] == metric]
            for row in mean.index:
                mask.loc[row, cols] = beyond_spread(mean.loc[row, cols], sd.loc[row, cols], n.loc[row, cols]).to_numpy()
    else:  # the leaderboard: per column, across methods (rows)
        for col in mean.columns:
            mask[col] = beyond_spread(mean[col], sd[col], n[col])
    return mask


def mean_sd_text(stats: pd.DataFrame, n_seeds: int | None = None) -> pd.DataFrame:
    """Cells of :func:`seed_compare_table` or :func:`seed_leaderboard` as text: ``67.50 ±
    1.20`` (percent, sample sd), ``(n=2)`` appended where fewer than ``n_seeds`` (default: the
    table's number of seeds) have a value, ``67.50 (n=1)`` for one value, ``-`` for none."""
    mean, sd, n = _split(stats)
    n_seeds = n_seeds or len(stats.attrs.get("seeds", [])) or int(np.nanmax(n.to_numpy(), initial=0))

    def cell(m, s, k) -> str:
        if pd.isna(m) or k == 0:
            return "-"
        text = f"{100 * m:.2f}" + ("" if pd.isna(s) else f" ± {100 * s:.2f}")
        return text + ("" if k >= n_seeds else f" (n={int(k)})")

    return pd.DataFrame([[cell(*v) for v in zip(*row)] for row in zip(mean.to_numpy(), sd.to_numpy(), n.to_numpy())],
                        index=mean.index, columns=mean.columns)


SPREAD_RULE = ("bold: best beyond the spread, i.e. its mean exceeds every other method's mean by more "
               "than the larger of the two sample sds (needs at least 2 seeds each)")


def style_seeds(stats: pd.DataFrame):
    """A pandas Styler of :func:`seed_compare_table` or :func:`seed_leaderboard`: ``mean ± sd``
    in percent (:func:`mean_sd_text`, blank in the official-score row's empty cells), bold where
    :func:`seed_best_mask` marks a best beyond the spread."""
    text = mean_sd_text(stats)
    if OFFICIAL_ROW in text.index:
        text.loc[OFFICIAL_ROW] = text.loc[OFFICIAL_ROW].replace("-", "")
    mask = seed_best_mask(stats)
    seeds = stats.attrs.get("seeds", [])
    styler = text.style.apply(lambda _: mask.replace({True: BEST_STYLE, False: ""}), axis=None)
    return styler.set_caption(f"Mean ± sample sd over {len(seeds)} seeds ({', '.join(map(str, seeds))}), %; "
                              f"{SPREAD_RULE}")


def seed_scores_figure(stats: pd.DataFrame) -> go.Figure:
    """Each method's mean official score (%) over the seeds of :func:`seed_compare_table` with
    ± 1 sample sd error bars and every seed's score as a dot; a bar marked best beyond the
    spread (:func:`beyond_spread`) is red."""
    board = seed_leaderboard(stats)
    official = board[OFFICIAL_ROW].dropna(subset=["mean"])
    methods = list(official.index)
    best = beyond_spread(official["mean"], official["sd"], official["n"])
    fig = go.Figure(go.Bar(x=methods, y=100 * official["mean"], name="mean",
                           error_y={"type": "data", "array": (100 * official["sd"]).fillna(0).tolist()},
                           marker_color=["#d62728" if best[m] else "#1f77b4" for m in methods],
                           hovertemplate="%{x}: %{y:.2f}%<extra>mean</extra>"))
    per_seed = stats.attrs.get("official_score", {})
    xs = [m for m in methods for _ in per_seed.get(m, {})]
    ys = [100 * v for m in methods for v in per_seed.get(m, {}).values()]
    texts = [f"seed {s}" for m in methods for s in per_seed.get(m, {})]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="one seed", text=texts,
                             marker={"color": "black", "size": 6},
                             hovertemplate="%{x}, %{text}: %{y:.2f}%<extra></extra>"))
    missing = [m for m in board.index if m not in methods]
    title = f"Official score, mean ± sd over {len(stats.attrs.get('seeds', []))} seeds"
    if missing:
        title += f"<br><sup>no score: {', '.join(missing)}</sup>"
    fig.update_layout(title=title, yaxis_title="official score (%)", xaxis_title="method",
                      yaxis_range=[0, 105], template="plotly_white")
    return fig
