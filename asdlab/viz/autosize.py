"""Plotly FigureWidgets that follow their output's width.

plotly's FigureWidget (an anywidget since plotly 6) draws its figure when the view is rendered,
before JupyterLab attaches it to the page: the div has no width yet, so plotly.js falls back to
700 px, and the widget registers no resize handler. :func:`responsive` turns on plotly.js's own
``responsive`` config, a window-resize handler that re-fits a figure without a fixed ``width``.
The first drawing still takes the 700-px default until the window is resized (issue 17: a
zero-height anywidget that triggered the re-fit on attach made anywidget log "Failed to
initialize model" in JupyterLab, so it was taken out).
"""

from __future__ import annotations


def responsive(widget):
    """Turn on plotly.js's ``responsive`` config of a FigureWidget (before it is displayed);
    returns the widget."""
    widget._config = {**(widget._config or {}), "responsive": True}
    return widget
