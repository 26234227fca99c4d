"""Report pages in headless Chromium: plotly figures are drawn offline (skipped without Chromium)."""

from __future__ import annotations

import nbformat
import pytest
from nbconvert import HTMLExporter

from asdlab.report.browser import BrowserError, count_plots, find_chromium, rendered_plots, screenshot
from asdlab.report import render_html

needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="no Chromium installed (Debian: apt-get install chromium)")


def _notebook(n_figures: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Figures")]
    for k in range(n_figures):
        fig = {"data": [{"type": "scatter", "x": [0, 1, 2], "y": [k, k + 1, k * k], "name": f"trace {k}"}],
               "layout": {"title": {"text": f"figure {k}"}}}
        out = nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": fig})
        nb.cells.append(nbformat.v4.new_code_cell(f"fig{k}", outputs=[out]))
    return nb


def test_count_plots_needs_a_drawn_svg_per_figure():
    dom = ('<div class="plotly-graph-div js-plotly-plot"><svg class="main-svg"></svg></div>'
           '<div class="js-plotly-plot"></div>'
           '<div class="x js-plotly-plot y"><div><svg class="main-svg"></svg></div></div>')
    assert count_plots(dom) == 2
    assert count_plots("<div class='plotly-graph-div'></div>") == 0


@needs_chromium
def test_report_html_draws_every_figure_offline(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_notebook(3), title="three figures"))
    assert rendered_plots(page) == 3
    # what nbconvert alone makes of the same notebook: the mime type is dropped, nothing drawn
    plain = tmp_path / "plain.html"
    with pytest.warns(UserWarning, match="not able to be represented"):
        plain.write_text(HTMLExporter(template_name="lab").from_notebook_node(_notebook(3))[0])
    assert rendered_plots(plain) == 0

    png = screenshot(page, tmp_path / "shot.png", width=800, height=600)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == 800 and int.from_bytes(head[20:24], "big") == 600


@needs_chromium
def test_missing_page_is_a_clear_error(tmp_path):
    with pytest.raises(BrowserError, match="no such file"):
        rendered_plots(tmp_path / "absent.html")


CLICK_MENUS = r"""
function clickMenu(gd, menu, label) {
  gd.querySelectorAll('.updatemenu-header')[menu].dispatchEvent(new MouseEvent('click', {bubbles: true}));
  var hit = Array.from(gd.querySelectorAll('.updatemenu-dropdown-button')).find(b => b.textContent === label);
  hit.dispatchEvent(new MouseEvent('click', {bubbles: true}));
}
var gd = document.getElementById('{plot_id}');
setTimeout(function () {
  clickMenu(gd, 0, 'valve');
  setTimeout(function () {
    clickMenu(gd, 1, 'target');
    setTimeout(function () {
      var shown = gd.data.map((t, i) => t.visible === true ? i : -1).filter(i => i >= 0);
      document.body.insertAdjacentHTML('beforeend', '<pre id="shown">' + JSON.stringify(shown) + '</pre>');
    }, 300);
  }, 300);
}, 300);
"""


@needs_chromium
def test_figure_one_machine_then_domain_menu_in_a_real_browser(tmp_path):
    """Clicking machine 'valve', then domain 'target' in Chromium shows valve/target only: the
    machine menu rewrites the domain menu's buttons (issue 17: one 24-entry menu did not fit)."""
    import json
    import re

    import numpy as np
    import pandas as pd

    from asdlab.report.browser import dump_dom
    from asdlab.viz import angle_histograms

    rng = np.random.default_rng(0)
    t = pd.DataFrame([dict(machine=m, domain=d, label=lab, angle=float(rng.uniform(0, 60)))
                      for m in ("fan", "valve") for d in ("source", "target") for lab in ("normal", "anomaly")
                      for _ in range(3)])
    page = tmp_path / "menus.html"
    angle_histograms({"CE": t, "Noisy-ArcMix": t}).write_html(page, include_plotlyjs=True, post_script=CLICK_MENUS)
    shown = json.loads(re.findall(r"<pre id=\"shown\">(\[.*?\])</pre>", dump_dom(page))[-1])
    selections = [(m, d) for m in ("all", "fan", "valve") for d in ("all", "source", "target")]
    k = selections.index(("valve", "target"))
    assert shown == list(range(4 * k, 4 * k + 4))


def test_pages_of_a_report_folder_share_one_plotlyjs_and_reference_no_cdn(tmp_path):
    """Issue 17: every page inlined plotly.js (5.6-7 MB each) and asked a CDN for MathJax."""
    from asdlab.report.html import PLOTLYJS, write_plotlyjs

    js = write_plotlyjs(tmp_path)
    assert js.name == PLOTLYJS and js.stat().st_size > 1_000_000
    before = js.stat().st_mtime_ns
    assert write_plotlyjs(tmp_path).stat().st_mtime_ns == before  # written once per folder
    page = render_html(_notebook(3), title="three figures", plotlyjs=PLOTLYJS)
    assert page.count(f'src="{PLOTLYJS}"') == 1 and len(page) < 1_000_000
    import re
    requests = re.findall(r"<(?:script|link|img)[^>]*(?:src|href)=[\"']https?://[^\"']*", page)
    assert requests == [] and "MathJax.js" not in page and "cdn.jsdelivr" not in page
    inline = render_html(_notebook(3), title="three figures")
    assert len(inline) - len(page) > 1_000_000 and f'src="{PLOTLYJS}"' not in inline
    with pytest.raises(ValueError, match="plotlyjs='cdn'"):
        render_html(_notebook(1), plotlyjs="cdn")
    if find_chromium() is not None:  # drawn offline from the shared file
        (tmp_path / "page.html").write_text(page)
        assert rendered_plots(tmp_path / "page.html") == 3


@needs_chromium
def test_the_index_comparison_fits_a_1366_px_screen(tmp_path):
    """Issue 17: index.html's 33-column comparison table ran off the page. With 13 methods, 8
    machines and 4 metrics the page is no wider than the window in Chromium."""
    import json
    import re

    import numpy as np
    import pandas as pd

    from asdlab.analysis.compare import METRICS, OFFICIAL_ROW, compare_html
    from asdlab.methods import list_methods
    from asdlab.report.index import index_html

    methods = [m.name for m in list_methods()]
    rows = [f"machine_{k}" for k in range(8)] + ["All (hmean)", OFFICIAL_ROW]
    cols = pd.MultiIndex.from_product([methods, METRICS], names=["method", "metric"])
    df = pd.DataFrame(np.random.default_rng(0).uniform(0.4, 0.9, (len(rows), len(cols))), index=rows, columns=cols)
    report = {"parameters": {"data": "/d", "preset": "course", "methods": methods, "runs_dir": "/r/runs", "seed": 0},
              "data_fingerprint": "f", "asdlab_version": "0", "started": "s", "finished": "e", "duration_s": 1.0,
              "notebooks": []}
    page = index_html(report, compare_html(df)).replace(
        "</body>", "<script>window.onload = function () { document.body.insertAdjacentHTML('beforeend', "
                   "'<pre id=\"w\">' + Math.max(...Array.from(document.querySelectorAll('table'), "
                   "t => t.getBoundingClientRect().right), document.documentElement.scrollWidth) + '</pre>'); };"
                   "</script></body>")
    (tmp_path / "index.html").write_text(page)
    from asdlab.report.browser import _chromium
    dom = _chromium(tmp_path / "index.html", ["--dump-dom", "--window-size=1366,900"], 3000, 120)
    width = json.loads(re.findall(r'<pre id="w">([\d.]+)</pre>', dom)[-1])  # rightmost table edge
    assert len(methods) >= 12 and width <= 1366
