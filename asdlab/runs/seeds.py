"""Runs of several training seeds, for comparisons that show the spread between seeds.

Layout: the first seed keeps the single-seed layout, ``runs_dir/<method>`` (what ``make report``,
notebook 01 and ``asdlab run`` use); each further seed ``s`` lives in
``runs_dir/seed<s>/<method>``. So ``--seeds 0 1 2`` reuses the runs of a one-seed report and adds
two folders of runs next to them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

from asdlab.core.errors import ConfigError


def check_seeds(seeds, where: str = "seeds") -> list[int]:
    """``seeds`` as a list of distinct non-negative ints (order kept; the first is the main
    seed), else :class:`ConfigError` naming ``where``."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ConfigError(f"{where}={seeds!r}: must be a list of non-negative integers, e.g. [0, 1, 2]")
    seeds = list(seeds)
    if not seeds:
        raise ConfigError(f"{where}=[]: give at least one seed")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ConfigError(f"{where}={seeds!r}: {bad[0]!r} is not a non-negative integer")
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise ConfigError(f"{where}={seeds!r}: seed {twice[0]} is given more than once")
    return seeds


def seed_subdir(seed: int, first: int) -> str:
    """Folder of ``seed``'s runs relative to ``runs_dir``: ``""`` for the first seed, else
    ``"seed<seed>"``."""
    return "" if seed == first else f"seed{seed}"


def seed_run_folders(methods: list[str], runs_dir: str | os.PathLike, seeds) -> dict[str, dict[int, Path]]:
    """``{method: {seed: folder}}`` in the layout above (nothing is read or trained)."""
    seeds = check_seeds(seeds)
    runs_dir = Path(runs_dir)
    return {m: {s: runs_dir / seed_subdir(s, seeds[0]) / m for s in seeds} for m in methods}


def seed_runs(methods: list[str], data_dir: str | os.PathLike, runs_dir: str | os.PathLike, preset: str,
              seeds, train_first: bool = True, keep_going: bool = False, progress: bool = False,
              device: str = "auto", cache_dir: str | os.PathLike | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, dict[int, Path]]:
    """The run folder of every method and seed, training the missing ones.

    Each run is :func:`asdlab.runs.run_method` (``preset``, data ``data_dir``, seed ``s``): a
    finished run with the same configuration is reused as it is. ``train_first=False`` leaves the
    first seed's folders as they are (made by notebook 01 or ``asdlab run``; a missing one stays
    missing). ``keep_going``: a failing run is warned about and left out (its folder then does
    not exist) instead of raising. ``log``: one line per run trained. Returns ``{method: {seed:
    folder}}`` for every method and seed, in the order given.
    """
    from asdlab.methods import get_method
    from asdlab.runs.folder import run_method

    methods = [get_method(m).name for m in methods]
    folders = seed_run_folders(methods, runs_dir, seeds)
    first = check_seeds(seeds)[0]
    for method, by_seed in folders.items():
        for seed, folder in by_seed.items():
            if seed == first and not train_first:
                continue
            if log is not None and not (folder / "config.json").is_file():
                log(f"training {method}, seed {seed} -> {folder}")
            try:
                run_method(method, data_dir, folder, preset=preset, seed=seed, device=device,
                           cache_dir=cache_dir, progress=progress)
            except Exception as err:
                if not keep_going:
                    raise
                warnings.warn(f"{method} seed {seed} ({folder}): {type(err).__name__}: {err}", stacklevel=2)
    return folders
