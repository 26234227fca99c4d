"""Plotly FigureWidgets that fill their output's width and follow it.

plotly's FigureWidget (an anywidget since plotly 6) draws its figure when the view is rendered,
before JupyterLab attaches it to the page: the div has no width yet, so plotly.js falls back to
700 px, and the widget registers no resize handler. :class:`AutosizeFigureWidget` is a
FigureWidget whose browser code is plotly's own with one addition: its view watches its element
with a ``ResizeObserver`` and re-fits the figure (plotly.js's ``responsive`` handler, the one a
window resize calls) when the element's width changes: on attach, when a side panel opens or
closes, when the window is resized. For figures without a layout ``width`` (plotly.js's re-fit
drops a fixed width unless the height is fixed too).

It adds no widget model. (A separate zero-height anywidget that did the same failed: anywidget
0.11 gives each model 2 s from its creation to load its module, else the page logs "[anywidget]
Failed to initialize model."; the last model of the explorer's box is created just before the
box's figures are drawn, which took longer than that on a loaded machine.)
"""

from __future__ import annotations

import re
from pathlib import Path

import plotly
import plotly.graph_objects as go

BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"

# appended to plotly's widget module; __PLOTLY_WIDGET__ is the local name of its default export
_WRAPPER = """
const __asdlabPlotlyWidget = __PLOTLY_WIDGET__;
export default () => {
  const base = __asdlabPlotlyWidget();
  return {
    initialize(ctx) { return base.initialize ? base.initialize(ctx) : undefined; },
    render(ctx) {
      const el = ctx.el, done = base.render(ctx);
      let last = -1;
      const refit = () => {
        if (typeof el._responsiveChartHandler === "function") el._responsiveChartHandler();
        else window.dispatchEvent(new Event("resize"));
      };
      const observer = new ResizeObserver(() => {
        const width = Math.round(el.getBoundingClientRect().width);
        if (width > 0 && width !== last) { last = width; refit(); }
      });
      observer.observe(el);
      return () => { observer.disconnect(); if (typeof done === "function") done(); };
    },
  };
};
"""


def autosize_esm(bundle: str) -> str:
    """plotly's widget module ``bundle`` (its ``widgetbundle.js`` text) with its default export
    wrapped so that each view re-fits its figure when its element's width changes. Raises
    ValueError when ``bundle`` does not end in an ``export {..., X as default}`` statement."""
    start = max(bundle.rfind("export{"), bundle.rfind("export {"))
    stmt = re.compile(r"export\s*\{([^{}]*)\}\s*;?").match(bundle, start) if start >= 0 else None
    specs = [s.strip() for s in stmt.group(1).split(",") if s.strip()] if stmt else []
    default = [s for s in specs if re.fullmatch(r"[\w$]+\s+as\s+default", s)]
    if len(default) != 1:
        raise ValueError("plotly's widget bundle has no final 'export {..., X as default}' statement")
    rest = ",".join(s for s in specs if s != default[0])
    return (bundle[:stmt.start()] + (f"export{{{rest}}};" if rest else "") + bundle[stmt.end():]
            + _WRAPPER.replace("__PLOTLY_WIDGET__", default[0].split()[0]))


def _installed_esm() -> str | None:
    """The wrapped module of the installed plotly; None where plotly has no anywidget bundle
    (plotly 5: its FigureWidget draws after attach) or one this module cannot wrap."""
    try:
        return autosize_esm(BUNDLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_ESM = _installed_esm()


class AutosizeFigureWidget(go.FigureWidget):
    """A ``plotly.graph_objects.FigureWidget`` (same arguments) that fills its output's width
    and follows it (see the module's docstring); plotly.js's ``responsive`` config is on."""

    if _ESM is not None:
        _esm = _ESM

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        responsive(self)  # after plotly's __init__, which sets the config


def responsive(widget):
    """Turn on plotly.js's ``responsive`` config of a FigureWidget (before it is displayed):
    it re-fits on a window resize; returns the widget."""
    widget._config = {**(widget._config or {}), "responsive": True}
    return widget
