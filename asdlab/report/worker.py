"""Execute one notebook with papermill and render it to HTML, in a process of its own.

``python -m asdlab.report.worker SPEC.json`` is what :func:`asdlab.report.run_report` starts
for every notebook, so a crashing kernel or library takes down only that notebook. SPEC holds
``source`` (notebook file), ``name`` (title), ``params``, ``cwd``, ``tmp_ipynb`` (where
papermill writes while executing), ``ipynb`` and ``html`` (final paths) and ``result`` (where
the outcome ``{"status": "ok"|"failed", "error": str|None}`` is written as JSON) and
``parent_pid`` (optional): the process dies with that parent, and its kernel with it
(:func:`asdlab.core.procs.die_with_parent`).
"""

from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

from asdlab.core.atomic import atomic_write_text
from asdlab.core.imports import skip_iri_format_checks


def _error_page(name: str, error: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title></head>"
            f"<body><h1>{html.escape(name)}: failed before any cell ran</h1>"
            f"<pre>{html.escape(error)}</pre></body></html>\n")


def execute(spec: dict) -> dict:
    """Run the notebook of ``spec`` (see the module doc); never raises for a failing notebook.

    A failed execution still leaves its partly executed ``.ipynb`` and its ``.html`` (papermill
    marks the failing cell); one that failed before any output leaves an HTML page with the error.
    """
    import nbformat
    import papermill as pm

    from asdlab.report.html import PLOTLYJS, render_html, write_plotlyjs
    from asdlab.report.plan import check_parameters, read_notebook

    tmp, error = Path(spec["tmp_ipynb"]), None
    try:
        nb = read_notebook(spec["source"])
        check_parameters(nb, spec["params"], spec["source"])  # unknown or bad ones: no kernel starts
        pm.execute_notebook(nb, str(tmp), parameters=spec["params"], kernel_name="python3",
                            language="python", progress_bar=False, cwd=spec["cwd"],
                            kernel_manager_class=kernel_manager_class())
    except pm.PapermillExecutionError as err:
        error = f"{err.ename}: {err.evalue} (in cell [{err.exec_count}])"
    except Exception as err:  # kernel failed to start, unreadable notebook, ...
        error = f"{type(err).__name__}: {err}"
    if tmp.exists():
        try:
            executed = nbformat.read(tmp, as_version=4)
            write_plotlyjs(Path(spec["html"]).parent)  # one shared copy per report folder
            atomic_write_text(spec["html"], render_html(executed, title=spec["name"], plotlyjs=PLOTLYJS))
        except Exception as err:
            error = error or f"HTML rendering failed: {type(err).__name__}: {err}"
        os.replace(tmp, spec["ipynb"])
    else:
        Path(spec["ipynb"]).unlink(missing_ok=True)
        atomic_write_text(spec["html"], _error_page(spec["name"], error or "no output notebook"))
        error = error or "papermill wrote no output notebook"
    return {"status": "failed" if error else "ok", "error": error}


def kernel_manager_class():
    """jupyter_client's kernel manager, starting kernels that die with this process (Linux:
    ``PR_SET_PDEATHSIG``; the kernel's own parent poller takes up to a second)."""
    from jupyter_client.manager import AsyncKernelManager

    from asdlab.core.procs import pdeathsig_preexec

    class DieWithWorker(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            preexec = pdeathsig_preexec()
            if preexec is not None:
                kw.setdefault("preexec_fn", preexec)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return DieWithWorker


def main(argv: list[str]) -> int:
    skip_iri_format_checks()
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("parent_pid") is not None:
        from asdlab.core.procs import die_with_parent

        die_with_parent(int(spec["parent_pid"]))
    result = execute(spec)
    atomic_write_text(spec["result"], json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
