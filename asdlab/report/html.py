"""Executed notebook -> one standalone HTML file whose plotly figures work offline.

Notebooks display figures with the ``plotly_mimetype`` renderer: their outputs hold
``application/vnd.plotly.v1+json``, which nbconvert cannot show. :class:`PlotlyToHTML` adds a
``text/html`` version of each (``plotly.io.to_html(full_html=False)``). plotly.js comes either
inlined once in the page (``plotlyjs="inline"``: a standalone file, ~4.7 MB more) or from one
file next to the pages (``plotlyjs=PLOTLYJS``, written by :func:`write_plotlyjs`: a report folder
holds it once and its pages stay small); never from a CDN. The page template is nbconvert's
``lab`` one without require.js (an AMD loader would capture plotly.js), mermaid.js and MathJax
(the notebooks write no formulas; MathJax would come from a CDN): a page needs no network.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

PLOTLY_MIME = "application/vnd.plotly.v1+json"
FIGURE_HEIGHT = 525
"""Height in pixels of a figure whose layout sets none (plotly's notebook default)."""

_TEMPLATE = "asdlab_report.html.j2"
_TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


def _plotlyjs_name() -> str:
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


PLOTLYJS = _plotlyjs_name()
"""File name of the shared plotly.js in a report folder (the bundled plotly.js of the installed
plotly, named by its version so that a folder never mixes versions)."""


def write_plotlyjs(folder: str | os.PathLike) -> Path:
    """Write :data:`PLOTLYJS` into ``folder`` unless it is there (atomically). Returns its path."""
    from plotly.offline import get_plotlyjs

    from asdlab.core.atomic import atomic_write_text

    path = Path(folder) / PLOTLYJS
    if not path.is_file() or path.stat().st_size == 0:
        atomic_write_text(path, get_plotlyjs())
    return path


def figure_html(fig: dict, include_plotlyjs: bool | str) -> str:
    """A ``<div>`` drawing the plotly figure dict ``fig`` (keys data, layout, config), with
    the whole plotly.js before it when ``include_plotlyjs`` is True, a ``<script src=...>`` when
    it is a path ending in ``.js``, nothing when False."""
    import plotly.io as pio

    fig = dict(fig)
    config = fig.pop("config", None) or {}
    return pio.to_html(fig, config={"responsive": True, **config}, full_html=False,
                       include_plotlyjs=include_plotlyjs, include_mathjax=False,
                       validate=False, default_width="100%", default_height=f"{FIGURE_HEIGHT}px")


class PlotlyToHTML(Preprocessor):
    """Give every plotly mime-type output a ``text/html`` representation (and drop the mime
    type), with plotly.js (``plotlyjs``: "inline" or a script path) in the first one only.
    Counts them in ``self.figures``."""

    def __init__(self, plotlyjs: str = "inline", **kw):
        super().__init__(**kw)
        self.plotlyjs = plotlyjs

    def preprocess(self, nb, resources):
        self.figures = 0
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                first = (True if self.plotlyjs == "inline" else self.plotlyjs) if self.figures == 0 else False
                data["text/html"] = figure_html(data.pop(PLOTLY_MIME), include_plotlyjs=first)
                self.figures += 1
        return cell, resources


def render_html(nb: nbformat.NotebookNode, title: str = "notebook", plotlyjs: str = "inline") -> str:
    """HTML of the (executed) notebook ``nb``; ``nb`` itself is not changed. ``plotlyjs``:
    "inline" (a standalone page) or the path of plotly.js relative to the page (e.g.
    :data:`PLOTLYJS`, written next to it by :func:`write_plotlyjs`)."""
    if plotlyjs != "inline" and not plotlyjs.endswith(".js"):
        raise ValueError(f"plotlyjs={plotlyjs!r}: 'inline' or a path ending in .js")
    nb = copy.deepcopy(nb)
    nb, _ = PlotlyToHTML(plotlyjs=plotlyjs).preprocess(nb, {})
    exporter = HTMLExporter(template_name="lab", template_file=_TEMPLATE,
                            extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body
