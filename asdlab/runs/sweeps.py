"""Sweeps over a method's parameters: seed 000's Table 2 grid of sub-cluster counts."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from asdlab.core.errors import ConfigError
from asdlab.methods import get_method
from asdlab.methods.sc_noisy_arcmix import COURSE_GRID, NAME, SWEEP_VALUES
from asdlab.runs.folder import load_run, run_method


def mean_auc(metrics: pd.DataFrame) -> float:
    """Arithmetic mean of AUC(source), AUC(target) and pAUC over the sections of a run's
    ``metrics`` (our analogue of seed 000 Table 2's "mean of all AUC metrics"; the official
    evaluator gives no pAUC per domain)."""
    return float(metrics[["auc_source", "auc_target", "pauc"]].to_numpy().mean())


def grid_table(runs: dict, metric: str = "mean_auc") -> pd.DataFrame:
    """Table 2 form from finished run folders: ``runs`` maps ``(SC, SC_FeatEx)`` to a run
    folder. ``metric``: "mean_auc" (:func:`mean_auc`) or "official_score" (harmonic mean).
    Returns a frame indexed by ``SC`` with one column per ``SC(FeatEx)`` (NaN where no run)."""
    if metric not in ("mean_auc", "official_score"):
        raise ConfigError(f"unknown metric {metric!r} (mean_auc, official_score)")
    rows = []
    for (sc, scfx), folder in runs.items():
        run = load_run(folder)
        if "metrics" not in run:
            raise ConfigError(f"{folder}: the run has no metrics (test labels unknown)")
        value = mean_auc(run["metrics"]) if metric == "mean_auc" else run["summary"]["official_score"]
        rows.append({"SC": sc, "SC(FeatEx)": scfx, metric: value})
    long = pd.DataFrame(rows)
    return long.pivot(index="SC", columns="SC(FeatEx)", values=metric).sort_index().sort_index(axis=1)


def default_grid(preset: str) -> tuple[tuple[int, int], ...]:
    """The ``(SC, SC_FeatEx)`` cells notebook 04 trains when its ``grid`` is None: the paper's
    4 x 4 over :data:`SWEEP_VALUES` at ``paper``, the reduced :data:`COURSE_GRID` ({1, 16} x
    {1, 16}) at ``smoke``, none at ``course``: there the report shows the same four cells over 3
    seeds from the claims table (``benchmarks/claims.py``) instead of training three more runs of
    one seed (about 5 of the report's CPU minutes), whose differences lie within the seed spread."""
    if preset == "paper":
        return tuple((a, b) for a in SWEEP_VALUES for b in SWEEP_VALUES)
    return () if preset == "course" else COURSE_GRID


def sweep_subclusters(data: str | os.PathLike, out_dir: str | os.PathLike, preset: str = "course",
                      grid=None, seed: int = 0, overrides: dict | None = None,
                      metric: str = "mean_auc", default_run: str | os.PathLike | None = None,
                      **run_kwargs) -> pd.DataFrame:
    """Seed 000 Table 2: train ``sc_noisy_arcmix`` (FeatEx on) for every ``(SC, SC_FeatEx)``
    cell of ``grid`` into ``out_dir/sc<SC>_fx<SC_FeatEx>`` and return :func:`grid_table`.

    ``grid`` default: the paper's 4 x 4 over :data:`SWEEP_VALUES` for ``preset="paper"``, else
    the reduced :data:`COURSE_GRID` ({1, 16} x {1, 16}, 4 runs); notebook 04 passes
    :func:`default_grid`.
    ``overrides`` apply to every cell; ``run_kwargs`` go to :func:`asdlab.runs.run_method`
    (``machines``, ``device``, ``cache_dir``, ``force``, ``progress``...). Finished cells are
    reused, so an interrupted sweep resumes. ``default_run``: the run folder of the method with
    ``preset`` and ``overrides`` alone (e.g. ``runs/<preset>/sc_noisy_arcmix``); the cell whose
    parameters equal those is read from (or trained into) that folder instead of a second copy
    in ``out_dir``. The returned frame's ``attrs["runs"]`` maps each cell to its folder.
    """
    if grid is None:
        grid = default_grid(preset) or COURSE_GRID
    out_dir = Path(out_dir)
    method = get_method(NAME)
    plain = method.params(preset, overrides)
    runs = {}
    for sc, scfx in grid:
        cell = {**(overrides or {}), "featex": True, "n_sub": int(sc), "n_sub_featex": int(scfx)}
        folder = out_dir / f"sc{sc}_fx{scfx}"
        if default_run is not None and method.params(preset, cell) == plain:
            folder = Path(default_run)
        runs[(int(sc), int(scfx))] = run_method(NAME, data, folder, preset=preset, seed=seed, overrides=cell,
                                                **run_kwargs)
    table = grid_table(runs, metric)
    table.attrs["runs"] = {k: str(v) for k, v in runs.items()}
    return table
