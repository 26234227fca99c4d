"""End to end: every notebook in notebooks/ executes under papermill with the smoke preset, through
``asdlab report`` for every registered method, and the HTML pages carry their figures."""

import nbformat
import pytest

from asdlab.methods import list_methods
from asdlab.report import PLAN, default_notebooks_dir, run_report
from asdlab.data.synth import generate_dataset

MACHINES = ["fan", "gearbox"]  # one machine with public attributes, one whose names hide them


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = generate_dataset(root / "data", "smoke", machines=MACHINES, progress=False)
    return run_report(data, root / "report", preset="smoke", jobs=2, log=None)


def test_plan_covers_every_notebook():
    on_disk = {p.stem for p in default_notebooks_dir().glob("[0-9][0-9]_*.py")}
    assert on_disk == {step.notebook for step in PLAN}


def test_every_notebook_executed_without_errors(report):
    assert report.ok, f"failed notebooks: {report.failed}"
    names = {t["name"] for t in report.report["notebooks"]}
    expected = {"00_asd_in_one_hour", "02_noisy_arcmix_angles", "03_compare_methods", "04_subclusters",
                "05_pseudo_labels"} | {
        f"01_method_report-{m.name}" for m in list_methods()}
    assert names == expected
    for name in names:
        nb = nbformat.read(report.out / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        params = nb.metadata["papermill"]["parameters"]
        assert params["preset"] == "smoke" and params["interactive"] is False
    every_run = {p.name for p in (report.out / "runs").iterdir()}
    assert {m.name for m in list_methods()} <= every_run
    grid = sorted(p.name for p in (report.out / "runs" / "sc_noisy_arcmix_grid").iterdir())
    assert grid == ["sc16_fx1", "sc16_fx16", "sc1_fx1", "sc1_fx16"]  # the reduced Table 2 grid


def test_method_report_page_holds_figure_data_offline(report):
    html = (report.out / "01_method_report-tastgram_noisy_arcmix.html").read_text()
    assert 'src="https://cdn.plot.ly' not in html and html.count("Plotly.newPlot") >= 4
    assert "plotly.js v" in html  # plotly.js itself is inlined
    table = (report.out / "01_method_report-ae_mse.html").read_text()
    assert "All (hmean)" in table and "official score" in table.lower()


def test_subcluster_page_shows_the_grid_the_maps_and_both_angles(report):
    html = (report.out / "04_subclusters.html").read_text()
    # Table 2 heatmaps, one map and one histogram + one scatter per method
    assert html.count("Plotly.newPlot") == 1 + 3 * 2
    assert "sub-cluster (class #index)" in html and "to the nearest sub-cluster" in html
    assert "auc_subcluster" in html


def test_pseudo_label_page_compares_with_the_truth_and_without_pseudo_labels(report):
    html = (report.out / "05_pseudo_labels.html").read_text()
    assert "gearbox: pseudo labels vs true attributes" in html
    assert "ari_features" in html and "machine-only labels" in html and "nmi_prev" in html


def test_index_links_every_page_and_embeds_comparison(report):
    index = (report.out / "index.html").read_text()
    for t in report.report["notebooks"]:
        assert f"href='{t['name']}.html'" in index
        assert (report.out / f"{t['name']}.html").stat().st_size > 0
    for m in list_methods():
        assert m.name in index
    assert not list(report.out.rglob("*.tmp")) and not list(report.out.rglob("*.partial"))


def test_rerun_executes_nothing(report):
    again = run_report(report.report["parameters"]["data"], report.out, preset="smoke", jobs=2, log=None)
    assert again.ok and again.executed == []


def test_pages_render_in_a_real_browser(report):
    from asdlab.report.browser import find_chromium, rendered_plots

    if find_chromium() is None:
        pytest.skip("Debian chromium not installed (.ci/run installs it)")
    assert rendered_plots(report.out / "02_noisy_arcmix_angles.html") >= 3
    assert rendered_plots(report.out / "01_method_report-ae_mse.html") >= 3  # map, scores, detection
    assert rendered_plots(report.out / "04_subclusters.html") == 7
    assert rendered_plots(report.out / "05_pseudo_labels.html") == 1  # gearbox (smoke fixes k: no silhouettes)
