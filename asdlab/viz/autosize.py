"""Plotly FigureWidgets that fill their output's width and follow it.

plotly's FigureWidget (an anywidget since plotly 6) draws its figure when the view is rendered,
before JupyterLab attaches it to the page: the div has no width yet, so plotly.js falls back to
700 px and never resizes (the widget registers no resize handler). :func:`responsive` turns on
plotly.js's own ``responsive`` config (a window-resize handler that re-fits a figure without a
fixed ``width``), and :class:`ResizeNudge`, a zero-height widget placed in the same box, tells the
page "resize" whenever the box's width changes: on attach, when a side panel opens or closes, or
when the window is resized. Figures with a fixed layout width keep it.
"""

from __future__ import annotations

import anywidget

_ESM = """
export default {
  render({ el }) {
    el.style.height = "0px";
    el.style.width = "100%";
    let last = -1, frame = 0;
    const observer = new ResizeObserver(() => {
      const width = Math.round(el.getBoundingClientRect().width);
      if (width > 0 && width !== last) {
        last = width;
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(() => window.dispatchEvent(new Event("resize")));
      }
    });
    observer.observe(el);
    return () => { observer.disconnect(); cancelAnimationFrame(frame); };
  },
};
"""


class ResizeNudge(anywidget.AnyWidget):
    """Zero-height widget: dispatches a window ``resize`` event when its own width (that of the
    box it sits in) changes, so :func:`responsive` FigureWidgets re-fit to it."""

    _esm = _ESM


def responsive(widget):
    """Turn on plotly.js's ``responsive`` config of a FigureWidget (before it is displayed);
    returns the widget."""
    widget._config = {**(widget._config or {}), "responsive": True}
    return widget
