"""What every notebook calls first: parameter checks, default folders, plotly and torch set-up.

Notebooks in ``notebooks/`` start with a papermill ``parameters`` cell, then::

    info = nb.setup(seed)                        # renderer, threads, seeds
    nb.check_params(preset=preset, seed=seed)    # clear errors for bad parameters
    data = nb.ensure_data(data_dir, preset, seed)
    runs = nb.resolve_runs(runs_dir, preset)

``data_dir=None`` means the built-in factory dataset at the preset's scale in
``<project>/data/factory-<preset>`` (generated when absent); ``runs_dir=None`` means
``<project>/runs/<preset>``, the folders ``make report`` and ``asdlab run`` use too.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from asdlab.core.errors import ConfigError

THREADS_ENV = "ASDLAB_THREADS"
"""Environment variable with the number of torch threads for a notebook kernel (set by
``asdlab report`` so parallel notebooks do not fight over the cores)."""

PLOTLY_RENDERER = "plotly_mimetype"
"""The renderer set explicitly in every notebook: JupyterLab draws it natively and
:mod:`asdlab.report` turns it into offline HTML (plotly >= 6.1 leaves the default empty in a
kernel, which nbconvert cannot render)."""


def setup(seed: int = 0, threads: int | None = None) -> dict:
    """Set the plotly renderer, torch's thread count and every random seed.

    ``threads``: torch threads (default: ``$ASDLAB_THREADS`` when set, else torch's own choice).
    Returns ``{"device": "cuda"|"cpu", "threads": int, "seed": int}``.
    """
    import plotly.io as pio
    import torch

    pio.renderers.default = PLOTLY_RENDERER
    if threads is None and os.environ.get(THREADS_ENV):
        try:
            threads = int(os.environ[THREADS_ENV])
        except ValueError:
            raise ConfigError(f"${THREADS_ENV}={os.environ[THREADS_ENV]!r}: not an integer") from None
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads={threads}: must be at least 1")
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return {"device": "cuda" if torch.cuda.is_available() else "cpu",
            "threads": torch.get_num_threads(), "seed": seed}


def project_dir() -> Path:
    """The asdlab checkout the notebook runs in (the first folder upwards from the working
    directory holding ``pyproject.toml`` and ``asdlab/``), else the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "asdlab").is_dir():
            return folder
    return here


def check_params(**params) -> None:
    """Raise :class:`ConfigError` naming the first bad notebook parameter.

    Known names: ``preset`` (smoke / course / paper), ``seed`` (int >= 0), ``method`` (a
    registered method), ``methods`` (list of registered methods), ``data_dir`` / ``runs_dir``
    (None or a path string), ``interactive`` (bool), ``style`` (a factory style). Other names
    are only type-free passengers.
    """
    from asdlab.methods import PRESETS, get_method

    for name, value in params.items():
        if name == "preset" and value not in PRESETS:
            raise ConfigError(f"notebook parameter preset={value!r}: must be one of {', '.join(PRESETS)}")
        if name == "seed" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"notebook parameter seed={value!r}: must be a non-negative integer")
        if name == "method":
            get_method(value)
        if name == "methods":
            if isinstance(value, str) or not list(value):
                raise ConfigError(f"notebook parameter methods={value!r}: must be a non-empty list of names")
            for m in value:
                get_method(m)
        if name in ("data_dir", "runs_dir") and value is not None and not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"notebook parameter {name}={value!r}: must be None or a folder path")
        if name == "style":
            from asdlab.data.synth import STYLES

            if value not in STYLES:
                raise ConfigError(f"notebook parameter style={value!r}: must be one of {', '.join(STYLES)}")
        if name == "interactive" and not isinstance(value, bool):
            raise ConfigError(f"notebook parameter interactive={value!r}: must be True or False")


def ensure_data(data_dir, preset: str, seed: int = 0, progress: bool = False, style: str = "dcase2024") -> Path:
    """The dataset folder to use. ``data_dir=None``: the built-in factory at ``preset`` scale in
    ``<project>/data/factory-<preset>`` (``factory2020-<preset>`` for ``style="dcase2020"``;
    ``-seed<N>`` appended for a non-zero seed), generated (or completed) when needed. A given
    folder must exist: it is never created or changed here (``style`` is then unused)."""
    if data_dir is None:
        from asdlab.data.synth import STYLES, generate_dataset

        if style not in STYLES:
            raise ConfigError(f"notebook parameter style={style!r}: must be one of {', '.join(STYLES)}")
        name = ("factory2020-" if style == "dcase2020" else "factory-") + preset + (f"-seed{seed}" if seed else "")
        return generate_dataset(project_dir() / "data" / name, preset=preset, seed=seed, progress=progress,
                                style=style)
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise ConfigError(f"notebook parameter data_dir={str(data_dir)!r}: no such folder; give a DCASE "
                          f"dataset folder or None for the built-in factory data")
    return path


def resolve_runs(runs_dir, preset: str, style: str = "dcase2024") -> Path:
    """The folder holding one run folder per method: ``runs_dir``, or ``<project>/runs/<preset>``
    (``runs/<preset>-dcase2020`` for the built-in ``dcase2020``-style data)."""
    if runs_dir is not None:
        return Path(runs_dir).expanduser()
    return project_dir() / "runs" / (preset if style == "dcase2024" else f"{preset}-{style}")
