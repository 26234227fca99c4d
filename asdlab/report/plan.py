"""What ``asdlab report`` executes: a small declarative table of notebooks and their order.

Each :class:`Step` names a notebook in ``notebooks/`` (a jupytext ``.py`` file) and how often it
runs for a selection of methods. A later notebook is one more line in :data:`PLAN`.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from asdlab.core.errors import ConfigError

if TYPE_CHECKING:
    import nbformat

ALL = "all"
"""``Step.methods`` value: pass every selected method."""

NOISY_ARCMIX_FAMILY = ("tastgram_ce", "tastgram_linear_ce", "tastgram_arcface", "tastgram_arcmix", "tastgram_noisy_arcmix")

FIGURE1_LOSSES = NOISY_ARCMIX_FAMILY[:-1]
"""The losses the Noisy-ArcMix paper compares against (CE, linear CE, ArcFace, ArcMix): with a
``dcase2020``-style dataset (the paper's setting) notebook 02 trains them on it, and a report's
default method selection leaves out their pages on the main data (:func:`default_methods`)."""

SUBCLUSTER_METHODS = ("sc_adacos", "sc_noisy_arcmix")

SHARED_MODEL = {"ae_mahala": "ae_mse", "guided_clustering": "sc_adacos"}
"""Methods that reuse another method's cached model: their per-method notebook runs after that
method's, and never at the same time as a notebook writing that method's run, so the model is
not trained twice at once (ae_mahala: ae_mse's AEs; guided_clustering: its machine-only
scorer is sc_adacos on the same table, whose ensemble members the model cache holds,
:func:`asdlab.methods.sc_adacos.member_cache`)."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One notebook of the plan.

    ``per_method``: run once per selected method (output ``<notebook>-<method>``, parameter
    ``method``); else once. ``methods``: when set, pass the parameter ``methods`` = the selected
    methods among these, in this tuple's order (:data:`ALL`: all selected ones, in the user's
    order); the step is skipped when none is selected.
    ``after``: notebooks (stems) whose instances must have finished first: every instance, but
    for a step with a tuple of ``methods`` only the per-method instances of its chosen methods and
    of ``reads`` (so 04 starts once its own methods' pages are done, not after every page).
    ``reads``: further methods whose runs the notebook reads when they exist (04's
    ``references``); part of its ``runs``, so a change of them re-executes it.
    ``writes``: folders in ``runs_dir`` (run folders, named after their method, or folders of
    runs such as a sweep's) the notebook trains or reuses whatever the selection; a per-method
    step also writes its method's. Two notebooks writing
    the same run (or runs sharing a model, :data:`SHARED_MODEL`) never run at the same time.
    ``seeds``: the notebook gets the parameter ``seeds`` (the report's training seeds) and trains
    or reads the further seeds' runs of its methods, ``seed<s>/<method>`` in ``runs_dir``
    (:mod:`asdlab.runs.seeds`); the other notebooks use the first seed only.
    ``style``: a factory style whose dataset the notebook runs on when the report has one
    (``asdlab report --data-2020``): then its ``data_dir`` is that dataset, its runs live in
    ``runs_dir/<style>/`` and it waits for no other notebook (its ``after`` is dropped).
    """

    notebook: str
    per_method: bool = False
    methods: tuple[str, ...] | str | None = None
    after: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    seeds: bool = False
    style: str | None = None
    reads: tuple[str, ...] = ()


PLAN: tuple[Step, ...] = (
    # trains the two AE baselines in runs_dir itself (parts 5 and 6 of the tour)
    Step("00_asd_in_one_hour", writes=("ae_mse", "ae_mahala")),
    Step("01_method_report", per_method=True),
    # its explorer trains or reuses its ``explorer_run`` parameter, tastgram_ce by default
    # on the dcase2020-style data when the report has them (the paper's setting), else on the
    # report's data, reusing the method reports' runs
    Step("02_noisy_arcmix_angles", methods=NOISY_ARCMIX_FAMILY, after=("01_method_report",),
         writes=("tastgram_ce",), style="dcase2020"),
    # with several seeds it trains the further seeds' runs (runs_dir/seed<s>/<method>)
    Step("03_compare_methods", methods=ALL, after=("01_method_report",), seeds=True),
    # trains the Table 2 grid into runs_dir/sc_noisy_arcmix_grid; its (16, 16) cell at course
    # scale is the sc_noisy_arcmix run itself
    Step("04_subclusters", methods=SUBCLUSTER_METHODS, after=("01_method_report",),
         writes=("sc_noisy_arcmix", "sc_noisy_arcmix_grid"), reads=("ae_mse", "tastgram_noisy_arcmix")),
    Step("05_pseudo_labels", methods=("guided_clustering",), after=("01_method_report",)),
)


@dataclasses.dataclass
class Task:
    """One notebook execution: output ``name``, source ``notebook`` stem, the step-specific
    ``params`` (``method`` / ``methods``), the ``after`` task names, the run folders it
    ``writes`` and all those it uses (``runs``: written or read; its inputs; relative to the
    report's ``runs_dir``), and the ``style`` of the data it runs on (None: the report's data)."""

    name: str
    notebook: str
    params: dict
    after: list[str]
    runs: list[str]
    writes: list[str] = dataclasses.field(default_factory=list)
    style: str | None = None

    @property
    def locks(self) -> set[str]:
        """Keys no two running tasks may share: the (shared-model) runs it writes."""
        return {SHARED_MODEL.get(m, m) for m in self.writes}


def default_methods(registered: list[str], styles: tuple[str, ...] = ()) -> list[str]:
    """The report's methods when the user names none: every ``registered`` one, less the
    :data:`FIGURE1_LOSSES` when the report has ``dcase2020`` data (notebook 02 trains them there,
    as the paper did; their pages on the main data cost 4 MobileFaceNet trainings)."""
    if "dcase2020" in styles:
        return [m for m in registered if m not in FIGURE1_LOSSES]
    return list(registered)


def build_plan(methods: list[str], plan: tuple[Step, ...] = PLAN, seeds: list[int] | None = None,
               styles: tuple[str, ...] = (), style_methods: list[str] | None = None) -> list[Task]:
    """The tasks of ``plan`` for the selected ``methods`` (names, in the user's order), in
    plan order. Per-method steps of a method in :data:`SHARED_MODEL` run after the method whose
    model they share, when both are selected. ``seeds``: the report's training seeds (first =
    main seed), passed as ``seeds`` to the steps with ``seeds=True``, whose further seeds' run
    folders they write (None: no ``seeds`` parameter). ``styles``: the extra factory styles the
    report has data of; a step of one of them runs on those data (see :class:`Step`) and comes
    first in the list, since it waits for nothing and trains runs of its own (the runner starts
    the ready task with the longest remaining path, ties in list order:
    :mod:`asdlab.report.schedule`). ``style_methods``: the methods those steps choose from instead
    of ``methods`` (a report whose user named no methods passes every registered one, so notebook 02
    trains all the Figure 1 losses on the dcase2020 data, see :func:`default_methods`)."""
    tasks: list[Task] = []
    by_notebook: dict[str, list[str]] = {}
    for step in plan:
        after = [name for nb in step.after for name in by_notebook.get(nb, [])]
        made = []
        if step.per_method:
            for m in methods:
                deps = list(after)
                shared = SHARED_MODEL.get(m)
                if shared in methods:
                    deps.append(f"{step.notebook}-{shared}")
                writes = list(dict.fromkeys([m, *step.writes]))
                made.append(Task(f"{step.notebook}-{m}", step.notebook, {"method": m}, deps, writes, writes))
        elif step.methods is not None:
            styled = step.style is not None and step.style in styles
            pool = methods if style_methods is None or not styled else style_methods
            chosen = list(pool) if step.methods == ALL else [m for m in step.methods if m in pool]
            if chosen:
                if step.methods != ALL:
                    wanted = {f"{nb}-{m}" for nb in step.after for m in (*chosen, *step.reads)}
                    after = [name for name in after if name in wanted or name in step.after]
                runs = list(dict.fromkeys([*chosen, *step.writes, *(m for m in step.reads if m in methods)]))
                params, writes = {"methods": chosen}, list(step.writes)
                if step.seeds and seeds is not None:
                    from asdlab.runs.seeds import seed_subdir

                    params["seeds"] = list(seeds)
                    further = [f"{seed_subdir(s, seeds[0])}/{m}" for s in seeds[1:] for m in chosen]
                    runs, writes = runs + further, writes + further
                made.append(Task(step.notebook, step.notebook, params, after, runs, writes))
        else:
            made.append(Task(step.notebook, step.notebook, {}, after, list(step.writes), list(step.writes)))
        if step.style is not None and step.style in styles:
            for t in made:
                t.style, t.after = step.style, []
                t.runs = [f"{step.style}/{r}" for r in t.runs]
                t.writes = [f"{step.style}/{w}" for w in t.writes]
        tasks += made
        by_notebook.setdefault(step.notebook, []).extend(t.name for t in made)
    return [t for t in tasks if t.style is not None] + [t for t in tasks if t.style is None]


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """A notebook from a jupytext ``.py`` (or ``.ipynb``) file; a clear error when unreadable."""
    import jupytext

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"notebook {path} not found")
    try:
        nb = jupytext.read(path)
    except Exception as err:  # jupytext raises many kinds of errors on bad input
        raise ConfigError(f"notebook {path}: cannot be read ({type(err).__name__}: {err})") from None
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    return nb


def declared_parameters(nb: nbformat.NotebookNode, where: str = "notebook") -> set[str]:
    """Names assigned at the top level of the cell tagged ``parameters``. ``where`` names the
    notebook in errors (no such cell, or a cell that is not valid Python)."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ConfigError(f"{where}: no cell tagged 'parameters'")
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise ConfigError(f"{where}: the parameters cell is not valid Python ({err.msg}, line {err.lineno})") from None
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


def check_parameters(nb: nbformat.NotebookNode, params: dict, where: str) -> None:
    """:class:`ConfigError` naming ``where`` and the first parameter in ``params`` that the
    notebook's parameters cell does not declare (papermill would only warn), or whose value
    :func:`check_parameter_values` refuses; run before a kernel starts."""
    declared = declared_parameters(nb, where)
    for name in params:
        if name not in declared:
            near = difflib.get_close_matches(name, sorted(declared), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigError(f"{where}: the parameters cell does not declare {name!r}, which was "
                              f"passed; {hint}declared: {', '.join(sorted(declared)) or 'none'}")
    check_parameter_values(params, where)


def check_parameter_values(params: dict, where: str = "") -> None:
    """Raise one :class:`ConfigError` line (starting ``where: `` when given) naming the first bad
    notebook parameter value. Known names: ``preset`` (smoke / course / paper), ``seed`` (int
    >= 0), ``method`` (a registered method), ``methods`` (list of registered methods),
    ``data_dir`` / ``runs_dir`` (None or a path string), ``interactive`` (bool), ``style`` (a
    factory style); other names are not checked here."""
    prefix = f"{where}: " if where else ""
    if {"preset", "method", "methods"} & set(params):  # imports torch: only when needed
        from asdlab.methods import PRESETS, get_method

    def bad(name, value, allowed):
        return ConfigError(f"{prefix}notebook parameter {name}={value!r}: must be {allowed}")

    for name, value in params.items():
        if name == "preset" and value not in PRESETS:
            raise bad(name, value, f"one of {', '.join(PRESETS)}")
        if name == "seed" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise bad(name, value, "a non-negative integer")
        if name == "method":
            if not isinstance(value, str):
                raise bad(name, value, "a method name (see `asdlab methods`)")
            try:
                get_method(value)
            except ConfigError as err:
                raise ConfigError(f"{prefix}notebook parameter method: {err}") from None
        if name == "methods":
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
                raise bad(name, value, "a non-empty list of method names")
            for m in value:
                try:
                    get_method(m)
                except ConfigError as err:
                    raise ConfigError(f"{prefix}notebook parameter methods: {err}") from None
        if name in ("data_dir", "runs_dir") and value is not None and not isinstance(value, (str, os.PathLike)):
            raise bad(name, value, "None or a folder path")
        if name == "style":
            from asdlab.data.synth import STYLES

            if value not in STYLES:
                raise bad(name, value, f"one of {', '.join(STYLES)}")
        if name == "interactive" and not isinstance(value, bool):
            raise bad(name, value, "True or False")
