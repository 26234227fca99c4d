"""End to end: every notebook in notebooks/ executes under papermill with the smoke preset, through
``asdlab report`` for every registered method, and the HTML pages carry their figures. Also: the
claims sections of notebooks 02-05 show the rows of a measured claims CSV that concern them."""

import json
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill as pm
import pytest

from asdlab.analysis import claims as cl
from asdlab.methods import list_methods
from asdlab.report import PLAN, default_notebooks_dir, run_report
from asdlab.report.plan import FIGURE1_LOSSES
from asdlab.data.synth import generate_dataset

MACHINES = ["fan", "gearbox"]  # one machine with public attributes, one whose names hide them


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = generate_dataset(root / "data", "smoke", machines=MACHINES, progress=False)
    data_2020 = generate_dataset(root / "data2020", "smoke", machines=["fan", "pump"], progress=False,
                                 style="dcase2020")  # notebook 02 runs there, the paper's setting
    return run_report(data, root / "report", preset="smoke", jobs=2, log=None, data_2020=data_2020)


def test_plan_covers_every_notebook():
    on_disk = {p.stem for p in default_notebooks_dir().glob("[0-9][0-9]_*.py")}
    assert on_disk == {step.notebook for step in PLAN}


def test_every_notebook_executed_without_errors(report):
    assert report.ok, f"failed notebooks: {report.failed}"
    names = {t["name"] for t in report.report["notebooks"]}
    # with dcase2020 data and no --methods the Figure 1 losses train there only (notebook 02)
    paged = [m.name for m in list_methods() if m.name not in FIGURE1_LOSSES]
    expected = {"00_asd_in_one_hour", "02_noisy_arcmix_angles", "03_compare_methods", "04_subclusters",
                "05_pseudo_labels"} | {f"01_method_report-{m}" for m in paged}
    assert names == expected
    for name in names:
        nb = nbformat.read(report.out / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        params = nb.metadata["papermill"]["parameters"]
        assert params["preset"] == "smoke" and params["interactive"] is False
    every_run = {p.name for p in (report.out / "runs").iterdir()}
    assert set(paged) <= every_run and not set(FIGURE1_LOSSES) & every_run
    fig1 = {p.name for p in (report.out / "runs" / "dcase2020").iterdir()}
    assert fig1 == {"tastgram_ce", "tastgram_linear_ce", "tastgram_arcface", "tastgram_arcmix", "tastgram_noisy_arcmix"}
    classes = (report.out / "runs" / "dcase2020" / "tastgram_ce" / "classes.csv").read_text()
    assert "pump" in classes and classes.count("\n") == 1 + 4  # fan and pump x IDs 00, 02
    grid = sorted(p.name for p in (report.out / "runs" / "sc_noisy_arcmix_grid").iterdir())
    assert grid == ["sc16_fx1", "sc16_fx16", "sc1_fx1", "sc1_fx16"]  # the reduced Table 2 grid


def test_method_report_page_holds_figure_data_offline(report):
    html = (report.out / "01_method_report-tastgram_noisy_arcmix.html").read_text()
    assert 'src="https://cdn.plot.ly' not in html and html.count("Plotly.newPlot") >= 4
    from asdlab.report.html import PLOTLYJS
    # plotly.js once per report folder, next to the pages; the page itself is light
    assert html.count(f'<script charset="utf-8" src="{PLOTLYJS}">') == 1 and "plotly.js v" not in html
    assert (report.out / PLOTLYJS).stat().st_size > 1_000_000 and len(html.encode()) < 1_500_000
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
        if m.name not in FIGURE1_LOSSES:  # those are on the Figure 1 page (notebook 02) only
            assert m.name in index
    assert not list(report.out.rglob("*.tmp")) and not list(report.out.rglob("*.partial"))


def test_rerun_executes_nothing(report):
    p = report.report["parameters"]
    again = run_report(p["data"], report.out, preset="smoke", jobs=2, log=None, data_2020=p["data_dcase2020"])
    assert again.ok and again.executed == []


def test_pages_render_in_a_real_browser(report):
    from asdlab.report.browser import find_chromium, rendered_plots

    if find_chromium() is None:
        pytest.skip("Debian chromium not installed (.ci/run installs it)")
    assert rendered_plots(report.out / "02_noisy_arcmix_angles.html") >= 3
    assert rendered_plots(report.out / "01_method_report-ae_mse.html") >= 3  # map, scores, detection
    assert rendered_plots(report.out / "04_subclusters.html") == 7
    assert rendered_plots(report.out / "05_pseudo_labels.html") == 1  # gearbox (smoke fixes k: no silhouettes)


def test_claims_sections_show_a_table_or_how_to_make_one_and_the_interval(report):
    docs = Path(cl.__file__).resolve().parents[2] / "docs"
    # notebook 02 runs on the dcase2020-style data here and reads the table measured on that style
    for name, csv in (("02_noisy_arcmix_angles", "claims2020.csv"), ("03_compare_methods", "claims.csv"),
                      ("04_subclusters", "claims.csv"), ("05_pseudo_labels", "claims.csv")):
        page = (report.out / f"{name}.html").read_text()
        if (docs / csv).is_file():
            assert "From `" in page and f"docs/{csv}" in page, name
        else:
            assert "No measured claims table" in page, name
    page = (report.out / "01_method_report-tastgram_noisy_arcmix.html").read_text()
    assert "Official score (hmean of every AUC and pAUC): " in page and " % (jackknife 95 % interval)" in page


# --- the claims rows of each notebook, from a measured claims CSV ----------------------------

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_ROWS = {  # notebook -> which claims (of cl.select_claims()) its claims section shows
    "02_noisy_arcmix_angles": lambda c: c.paper == "004",
    "03_compare_methods": lambda c: c.id.endswith(("-vs-ae_mse", "-vs-raw_spec")),
    "04_subclusters": lambda c: c.paper in ("002", "000"),
    "05_pseudo_labels": lambda c: c.paper == "001",
}


def _claims_csv(path: Path) -> Path:
    """A measured-looking claims CSV: one row per registered claim, "A > B" by 2.0 ± 0.5 points."""
    rows = [{"paper": c.paper, "id": c.id, "claim": c.text, "part": "", "paper_value": c.paper_value,
             "side_a": c.sides[0], "side_b": c.sides[1], "unit": c.unit, "a_mean": 62.0, "a_sd": 1.0,
             "b_mean": 60.0, "b_sd": 1.0, "diff_mean": 2.0, "diff_sd": 0.5, "n_seeds": 3, "seeds": "0 1 2",
             "verdict": "holds", "note": ""} for c in cl.select_claims()]
    pd.DataFrame(rows, columns=cl.COLUMNS).to_csv(path, index=False)
    return path


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| seed ")]


@pytest.mark.parametrize("notebook", sorted(CLAIMS_ROWS))
def test_each_notebook_shows_the_claims_rows_that_concern_it(notebook, tmp_path):
    from IPython.display import Markdown

    cells = [c.source for c in jupytext.read(ROOT / "notebooks" / f"{notebook}.py").cells
             if c.cell_type == "code" and c.source.startswith("Markdown(CLAIMS_HOWTO")]
    assert len(cells) == 1, f"{notebook}: one claims cell expected"
    names = {"Markdown": Markdown, "pd": pd, "CLAIMS_HOWTO": cl.CLAIMS_HOWTO, "claim_rows": cl.claim_rows,
             "claims_markdown": cl.claims_markdown, "BASELINES": cl.BASELINES}
    csv = _claims_csv(tmp_path / "claims.csv")
    shown = eval(compile(cells[0], notebook, "eval"), {**names, "claims": cl.load_claims(csv)}).data
    want = [c for c in cl.select_claims() if CLAIMS_ROWS[notebook](c)]
    assert shown.startswith(f"From `{csv}`:") and cl.VERDICT_RULE in shown
    assert len(_table_rows(shown)) == len(want) > 0
    for c in want:
        assert f"| seed {c.paper} | {c.text} |" in shown
    assert eval(compile(cells[0], notebook, "eval"), {**names, "claims": None}).data == cl.CLAIMS_HOWTO


def test_comparison_notebook_executes_with_a_claims_csv_and_refuses_a_missing_one(tmp_path):
    """Notebook 03 trains nothing: with no runs it still executes and shows the claims rows."""
    nb = jupytext.read(ROOT / "notebooks" / "03_compare_methods.py")
    csv, out = _claims_csv(tmp_path / "claims.csv"), tmp_path / "out.ipynb"
    params = {"preset": "smoke", "runs_dir": str(tmp_path / "runs"), "interactive": False, "claims_csv": str(csv)}
    pm.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False, parameters=params)
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    shown = ["".join(o["data"]["text/markdown"]) for c in cells for o in c.get("outputs", [])
             if "text/markdown" in o.get("data", {})]
    claims = [m for m in shown if "Claim (A > B)" in m]
    assert len(claims) == 1 and claims[0].startswith(f"From `{csv}`:")
    assert "| seed 004 | official score: tastgram_noisy_arcmix > raw_spec (no learning) |" in claims[0]
    assert "| seed 004 | official score: TASTgram > STgram (both ArcFace) |" not in claims[0]
    with pytest.raises(pm.PapermillExecutionError, match="ConfigError.*nope.csv: no such claims CSV"):
        pm.execute_notebook(nb, str(tmp_path / "bad.ipynb"), kernel_name="python3", progress_bar=False,
                            parameters={**params, "claims_csv": str(tmp_path / "nope.csv")})
