"""Plotly FigureWidgets that draw on a loaded machine and fill their output's width.

plotly's FigureWidget (an anywidget since plotly 6) ships its whole browser module (about
5 MB: plotly.js and the widget) in every widget's ``_esm``; anywidget imports it once per widget
and gives each model 2 s from its creation to import its module and run ``initialize``, else the
page logs "[anywidget] Failed to initialize model." and the figure is never drawn. Five figures
evaluating 5 MB each on a loaded 2-core machine missed that deadline.

:class:`SharedFigureWidget` keeps plotly's own module but sends a small one in front of it: the
module text travels as a string, is imported once per page (a promise on ``globalThis`` keyed by
the bundle's hash, shared by every widget) and only after ``initialize`` has returned; ``render``
waits for it. :class:`AutosizeFigureWidget` adds one thing: its view watches its element with a
``ResizeObserver`` and re-fits the figure (plotly.js's ``responsive`` handler, the one a window
resize calls) when the element's width changes: on attach (plotly.js draws before JupyterLab
attaches the view, so it falls back to 700 px), when a side panel opens or closes, when the
window is resized. For figures without a layout ``width`` (plotly.js's re-fit drops a fixed
width unless the height is fixed too).

Build a widget with its first figure (``SharedFigureWidget(fig)``), not empty and then filled:
plotly's browser model hears trace updates only after ``initialize`` (here: after the module has
loaded); the first figure is part of the model's state and drawn whenever the view renders.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import plotly
import plotly.graph_objects as go

BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"

# __BUNDLE__: plotly's module text as a JS string; __KEY__: its hash; __AUTOSIZE__: true / false
_LOADER = """const KEY = "__asdlabPlotlyWidget___KEY__";
const BUNDLE = __BUNDLE__;
const AUTOSIZE = __AUTOSIZE__;
// plotly's module, imported once per page and shared by every widget of this bundle
const plotlyModule = () => (globalThis[KEY] ??= import(URL.createObjectURL(new Blob([BUNDLE], {type: "text/javascript"}))));
const watchWidth = (el) => {
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
  return () => observer.disconnect();
};
export default () => {
  let base = null;
  return {
    initialize(ctx) {  // returns at once: anywidget's 2 s from the model's creation cover only this
      base = plotlyModule().then((mod) => { const b = mod.default(); if (b.initialize) b.initialize(ctx); return b; });
      base.catch((err) => console.error("[asdlab] plotly's widget module did not load:", err));
    },
    async render(ctx) {
      const done = (await base).render(ctx);
      const unwatch = AUTOSIZE ? watchWidth(ctx.el) : null;
      return () => { if (unwatch) unwatch(); if (typeof done === "function") done(); };
    },
  };
};
"""


def widget_esm(bundle: str, autosize: bool = False) -> str:
    """The small module a widget sends: ``bundle`` (plotly's ``widgetbundle.js`` text, an ES
    module whose default export is the widget) imported once per page after ``initialize``,
    its ``render`` used by every view; with ``autosize`` each view re-fits its figure when its
    element's width changes."""
    key = hashlib.sha1(bundle.encode("utf-8")).hexdigest()[:16]
    # json.dumps escapes U+2028/2029 too (ensure_ascii), so the literal is valid JavaScript
    return (_LOADER.replace("__KEY__", key).replace("__AUTOSIZE__", "true" if autosize else "false")
            .replace("__BUNDLE__", json.dumps(bundle)))


def _installed(autosize: bool) -> str | None:
    """The module for the installed plotly; None where plotly has no anywidget bundle (plotly 5:
    its FigureWidget is an ipywidgets DOM widget with its own lab extension)."""
    try:
        return widget_esm(BUNDLE.read_text(encoding="utf-8"), autosize)
    except OSError:
        return None


_SHARED, _AUTOSIZE = _installed(False), _installed(True)


class SharedFigureWidget(go.FigureWidget):
    """A ``plotly.graph_objects.FigureWidget`` (same arguments) whose browser module loads once
    per page (see the module's docstring). Pass its first figure to the constructor."""

    if _SHARED is not None:
        _esm = _SHARED


class AutosizeFigureWidget(SharedFigureWidget):
    """A :class:`SharedFigureWidget` that fills its output's width and follows it (see the
    module's docstring); plotly.js's ``responsive`` config is on."""

    if _AUTOSIZE is not None:
        _esm = _AUTOSIZE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        responsive(self)  # after plotly's __init__, which sets the config


def responsive(widget):
    """Turn on plotly.js's ``responsive`` config of a FigureWidget (before it is displayed):
    it re-fits on a window resize; returns the widget."""
    widget._config = {**(widget._config or {}), "responsive": True}
    return widget
