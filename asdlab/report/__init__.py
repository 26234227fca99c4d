"""Layer 12: batch reports: papermill executes the notebooks, nbconvert renders them to offline HTML.

- :mod:`asdlab.report.plan`: which notebooks run, for which methods, in which order (:data:`PLAN`);
- :mod:`asdlab.report.runner`: :func:`run_report`, the ``asdlab report`` command's engine;
- :mod:`asdlab.report.worker`: one notebook execution, in its own process;
- :mod:`asdlab.report.html`: executed notebook -> HTML with plotly figures offline (one shared plotly.js);
- :mod:`asdlab.report.index`: the report's ``index.html``.

The names below are imported on first use, so that ``python -m asdlab.report.worker`` starts
without loading nbconvert before it has set itself up.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PlotlyToHTML": "html", "render_html": "html", "write_plotlyjs": "html", "PLOTLYJS": "html",
    "PLAN": "plan", "Step": "plan", "Task": "plan", "build_plan": "plan", "declared_parameters": "plan",
    "ReportExistsError": "runner", "ReportResult": "runner", "default_notebooks_dir": "runner",
    "run_report": "runner",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'asdlab.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"asdlab.report.{_EXPORTS[name]}"), name)
