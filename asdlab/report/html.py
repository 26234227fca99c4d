"""Executed notebook -> one standalone HTML file whose plotly figures work offline.

Notebooks display figures with the ``plotly_mimetype`` renderer: their outputs hold
``application/vnd.plotly.v1+json``, which nbconvert cannot show. :class:`PlotlyToHTML` adds a
``text/html`` version of each (``plotly.io.to_html(full_html=False)``), with plotly.js inlined
once, in the first figure of the file: no CDN. The page template is nbconvert's ``lab`` one
without require.js (an AMD loader would capture the inlined plotly.js) and mermaid.js; MathJax
still comes from its CDN, so formulas need a network but figures and tables do not.
"""

from __future__ import annotations

import copy

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
"""


def figure_html(fig: dict, include_plotlyjs: bool) -> str:
    """A ``<div>`` drawing the plotly figure dict ``fig`` (keys data, layout, config), with
    the whole plotly.js before it when ``include_plotlyjs``."""
    import plotly.io as pio

    fig = dict(fig)
    config = fig.pop("config", None) or {}
    return pio.to_html(fig, config={"responsive": True, **config}, full_html=False,
                       include_plotlyjs=bool(include_plotlyjs), include_mathjax=False,
                       validate=False, default_width="100%", default_height=f"{FIGURE_HEIGHT}px")


class PlotlyToHTML(Preprocessor):
    """Give every plotly mime-type output a ``text/html`` representation (and drop the mime
    type), including plotly.js in the first one only. Counts them in ``self.figures``."""

    def preprocess(self, nb, resources):
        self.figures = 0
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                data["text/html"] = figure_html(data.pop(PLOTLY_MIME), include_plotlyjs=self.figures == 0)
                self.figures += 1
        return cell, resources


def render_html(nb: nbformat.NotebookNode, title: str = "notebook") -> str:
    """Standalone HTML of the (executed) notebook ``nb``; ``nb`` itself is not changed."""
    nb = copy.deepcopy(nb)
    nb, _ = PlotlyToHTML().preprocess(nb, {})
    exporter = HTMLExporter(template_name="lab", template_file=_TEMPLATE,
                            extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body
