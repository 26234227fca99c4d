"""What every notebook calls first: parameter checks, default folders, plotly and torch set-up.

Notebooks in ``notebooks/`` start with a papermill ``parameters`` cell, then, parameters first::

    nb.check_parameter_names(globals(), "preset seed ...")  # a misspelt papermill name is an error
    nb.check_params(preset=preset, seed=seed)    # clear errors for bad values
    info = nb.setup(seed)                        # renderer, threads, seeds
    data = nb.ensure_data(data_dir, preset, seed)
    runs = nb.resolve_runs(runs_dir, preset)

``data_dir=None`` means the built-in factory dataset at the preset's scale in
``<project>/data/factory-<preset>`` (generated when absent); ``runs_dir=None`` means
``<project>/runs/<preset>``, the folders ``make report`` and ``asdlab run`` use too.
"""

from __future__ import annotations

import ast
import difflib
import os
import random
from pathlib import Path

import numpy as np

from asdlab.core.errors import ConfigError
from asdlab.core.imports import skip_iri_format_checks

skip_iri_format_checks()  # before plotly.io imports nbformat: saves each kernel 2-8 s (asdlab.core.imports)

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
    Returns ``{"device": "cuda"|"cpu", "threads": int, "seed": int}``. A ``seed`` that is not
    an integer >= 0 is a :class:`ConfigError` before anything is set.
    """
    check_params(seed=seed)
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
    """Raise :class:`ConfigError` naming the first bad notebook parameter value
    (:func:`asdlab.report.plan.check_parameter_values`: ``preset``, ``seed``, ``method``,
    ``methods``, ``data_dir`` / ``runs_dir``, ``interactive``, ``style``; other names are
    type-free passengers). Call it before :func:`setup`."""
    from asdlab.report.plan import check_parameter_values

    check_parameter_values(params)


INJECTED_HEADER = "# Parameters"
"""The first line of the cell papermill injects (tagged ``injected-parameters``) after the
``parameters`` cell; the kernel's input history ``In`` keeps its source."""


def injected_names(namespace: dict) -> list[str]:
    """Names assigned by the cells papermill injected into this kernel, in order: found in the
    input history ``namespace["In"]`` (cells whose first line is :data:`INJECTED_HEADER`); an
    empty list when papermill injected nothing (interactive use, or no history)."""
    names: list[str] = []
    for source in namespace.get("In") or ():
        if not isinstance(source, str) or source.split("\n", 1)[0].strip() != INJECTED_HEADER:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            for target in getattr(node, "targets", [getattr(node, "target", None)]):
                if isinstance(target, ast.Name) and target.id not in names:
                    names.append(target.id)
    return names


def check_parameter_names(namespace: dict, declared) -> None:
    """Refuse a parameter papermill injected that the notebook does not declare (papermill itself
    only warns, and the notebook would run with its default). Call it in the first code cell
    after the ``parameters`` cell with ``globals()`` and the parameters cell's names (a list or a
    space-separated string; a test keeps the two equal). Looks only at the injected cell
    (:func:`injected_names`), so interactive use and re-run cells are never refused.
    ``asdlab report`` refuses such names before it starts a kernel
    (:func:`asdlab.report.plan.check_parameters`); a plain ``papermill -p`` run stops here.
    Raises one :class:`ConfigError` line naming the parameter, its value, the nearest declared
    name and all of them.
    """
    declared = set(declared.split() if isinstance(declared, str) else declared)
    for name in injected_names(namespace):
        if name not in declared:
            near = difflib.get_close_matches(name, sorted(declared), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigError(f"notebook parameter {name}={namespace.get(name)!r}: this notebook has no "
                              f"such parameter; {hint}its parameters: {', '.join(sorted(declared))}")


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
