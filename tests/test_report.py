"""``asdlab report``: the plan, parameter checks, HTML rendering, scheduling, re-use of
unchanged notebooks, refusal of foreign report folders, and one real papermill run.

Most tests replace the notebook executor by a fake that writes the output files (no kernel);
one test executes tiny notebooks for real (each kernel costs seconds)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import nbformat
import pytest

from asdlab.cli import main
from asdlab.core.errors import ConfigError
from asdlab.report import PLAN, ReportExistsError, Step, build_plan, render_html, run_report
from asdlab.report.plan import NOISY_ARCMIX_FAMILY, default_methods

HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""
PARAMS = """
# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
"""
EXTRA = {"01_method_report": 'method = "ae_mse"\n', "02_noisy_arcmix_angles": "methods = None\nstyle = 'dcase2020'\n",
         "03_compare_methods": "methods = None\nseeds = None\n", "04_subclusters": "methods = None\n",
         "05_pseudo_labels": "methods = None\n"}


def write_notebooks(folder: Path, bodies: dict[str, str] | None = None) -> Path:
    """The four plan notebooks with the standard parameters and ``bodies[name]`` as a 2nd cell."""
    folder.mkdir(parents=True, exist_ok=True)
    for step in PLAN:
        body = (bodies or {}).get(step.notebook, "print('hello')\n")
        (folder / f"{step.notebook}.py").write_text(
            HEADER + PARAMS + EXTRA.get(step.notebook, "") + "\n# %%\n" + body)
    return folder


class FakeExecutor:
    """Stands in for the notebook process: writes the two outputs, records calls and times."""

    def __init__(self, fail=(), sleep=0.0):
        self.fail, self.sleep = set(fail), sleep
        self.calls, self.envs, self.times = [], [], {}
        self.lock = threading.Lock()

    def __call__(self, spec, env):
        t0 = time.monotonic()
        with self.lock:
            self.calls.append(spec["name"])
            self.envs.append(env)
        Path(spec["tmp_ipynb"]).write_text("partial")  # left behind: the runner must remove it
        time.sleep(self.sleep)
        Path(spec["ipynb"]).write_text(json.dumps(spec["params"]))
        Path(spec["html"]).write_text("<html></html>")
        self.times[spec["name"]] = (t0, time.monotonic())
        if spec["name"] in self.fail:
            return {"status": "failed", "error": "RuntimeError: boom"}
        return {"status": "ok", "error": None}


@pytest.fixture(name="data")
def _data(tmp_path, make_dcase_tree):
    return make_dcase_tree(tmp_path / "data")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or "tmp" in p.name)


def test_plan_orders_notebooks_and_passes_method_parameters():
    tasks = build_plan(["tastgram_ce", "ae_mahala", "ae_mse"])
    assert [t.name for t in tasks] == [
        "00_asd_in_one_hour", "01_method_report-tastgram_ce", "01_method_report-ae_mahala",
        "01_method_report-ae_mse", "02_noisy_arcmix_angles", "03_compare_methods"]
    by = {t.name: t for t in tasks}
    assert by["01_method_report-ae_mahala"].after == ["01_method_report-ae_mse"]
    assert by["01_method_report-ae_mse"].after == []
    assert by["01_method_report-tastgram_ce"].params == {"method": "tastgram_ce"}
    assert by["02_noisy_arcmix_angles"].params == {"methods": ["tastgram_ce"]}
    assert by["03_compare_methods"].params == {"methods": ["tastgram_ce", "ae_mahala", "ae_mse"]}
    assert by["03_compare_methods"].after == [f"01_method_report-{m}" for m in ("tastgram_ce", "ae_mahala", "ae_mse")]
    assert by["03_compare_methods"].runs == ["tastgram_ce", "ae_mahala", "ae_mse"]
    assert by["03_compare_methods"].locks == set()                     # readers lock nothing
    # the AE runs 00 trains, and ae_mahala sharing ae_mse's AE, exclude each other
    assert by["00_asd_in_one_hour"].locks == by["01_method_report-ae_mahala"].locks == {"ae_mse"}
    assert by["01_method_report-tastgram_ce"].locks == {"tastgram_ce"}
    # 02 gets the losses in the paper's panel order, whatever order they were selected in
    family = build_plan(["tastgram_noisy_arcmix", "tastgram_arcface", "tastgram_ce"])
    assert [t for t in family if t.notebook == "02_noisy_arcmix_angles"][0].params == {
        "methods": ["tastgram_ce", "tastgram_arcface", "tastgram_noisy_arcmix"]}
    # no Noisy-ArcMix-family method selected: no 02; ae_mahala alone waits for nothing
    tasks = build_plan(["ae_mahala"])
    assert [t.name for t in tasks] == ["00_asd_in_one_hour", "01_method_report-ae_mahala", "03_compare_methods"]
    assert tasks[1].after == []
    # a later notebook is one more line in the plan
    extra = build_plan(["ae_mse"], PLAN + (Step("04_extra", methods=("ae_mse",), after=("03_compare_methods",)),))
    assert extra[-1].name == "04_extra" and extra[-1].after == ["03_compare_methods"]
    # several seeds: only the comparison gets them, and it writes the further seeds' runs
    seeded = {t.name: t for t in build_plan(["ae_mse", "tastgram_ce"], seeds=[2, 0, 5])}
    compare = seeded["03_compare_methods"]
    assert compare.params == {"methods": ["ae_mse", "tastgram_ce"], "seeds": [2, 0, 5]}
    further = ["seed0/ae_mse", "seed0/tastgram_ce", "seed5/ae_mse", "seed5/tastgram_ce"]
    assert compare.runs == ["ae_mse", "tastgram_ce", *further] and compare.writes == further
    assert seeded["02_noisy_arcmix_angles"].params == {"methods": ["tastgram_ce"]}
    assert seeded["01_method_report-ae_mse"].params == {"method": "ae_mse"}


def test_notebooks_of_named_methods_wait_only_for_the_pages_of_the_runs_they_read():
    methods = ["ae_mse", "raw_spec", "sc_adacos", "sc_noisy_arcmix", "guided_clustering", "contrastive_ae_cnn",
               "tastgram_noisy_arcmix"]
    by = {t.name: t for t in build_plan(methods)}
    # 04: its two methods and its references (ae_mse, tastgram_noisy_arcmix), not raw_spec or guided_clustering
    assert by["04_subclusters"].after == [f"01_method_report-{m}" for m in
                                          ("ae_mse", "sc_adacos", "sc_noisy_arcmix", "tastgram_noisy_arcmix")]
    assert by["04_subclusters"].runs == ["sc_adacos", "sc_noisy_arcmix", "sc_noisy_arcmix_grid", "ae_mse",
                                         "tastgram_noisy_arcmix"]  # a change of a reference re-executes it
    assert by["05_pseudo_labels"].after == ["01_method_report-guided_clustering"]
    # guided clustering's machine-only scorer is sc_adacos's cached model: after its page, never beside it
    assert by["01_method_report-guided_clustering"].after == ["01_method_report-sc_adacos"]
    assert by["01_method_report-guided_clustering"].locks == by["01_method_report-sc_adacos"].locks == {"sc_adacos"}
    assert by["03_compare_methods"].after == [f"01_method_report-{m}" for m in methods]  # methods=ALL: every page
    # a reference that is not selected is neither waited for nor tracked
    few = {t.name: t for t in build_plan(["sc_noisy_arcmix", "raw_spec"])}
    assert few["04_subclusters"].after == ["01_method_report-sc_noisy_arcmix"]
    assert few["04_subclusters"].runs == ["sc_noisy_arcmix", "sc_noisy_arcmix_grid"]
    # the plan's reads are the notebook's own default references (two places, kept equal here)
    import ast

    from asdlab.report.plan import read_notebook

    nb = read_notebook(Path(__file__).parents[1] / "notebooks" / "04_subclusters.py")
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {n.targets[0].id: n.value for n in ast.parse(cell.source).body if isinstance(n, ast.Assign)}
    step = next(s for s in PLAN if s.notebook == "04_subclusters")
    assert tuple(ast.literal_eval(defaults["references"])) == step.reads


def test_notebooks_must_declare_every_parameter_the_report_passes(tmp_path, data):
    nbs = write_notebooks(tmp_path / "nbs")
    text = (nbs / "01_method_report.py").read_text().replace('method = "ae_mse"\n', "")
    (nbs / "01_method_report.py").write_text(text)
    fake = FakeExecutor()
    with pytest.raises(ConfigError, match=r"01_method_report\.py: the parameters cell does not declare 'method'"):
        run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mse"], notebooks_dir=nbs,
                   log=None, execute=fake)
    (nbs / "01_method_report.py").write_text(text.replace('# %% tags=["parameters"]', "# %%"))
    with pytest.raises(ConfigError, match=r"01_method_report\.py: no cell tagged 'parameters'"):
        run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mse"], notebooks_dir=nbs,
                   log=None, execute=fake)
    (nbs / "01_method_report.py").unlink()
    with pytest.raises(ConfigError, match=r"notebook .*01_method_report\.py not found"):
        run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mse"], notebooks_dir=nbs,
                   log=None, execute=fake)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        run_report(data, tmp_path / "out", preset="smoke", methods=["nope"], notebooks_dir=nbs,
                   log=None, execute=fake)
    assert fake.calls == [] and not (tmp_path / "out").exists()


def _plotly_output(name: str) -> nbformat.NotebookNode:
    fig = {"data": [{"type": "bar", "x": ["a", "b"], "y": [3, 5], "name": name}], "layout": {"title": {"text": name}}}
    return nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": fig})


def test_html_shows_every_plotly_figure_with_plotly_js_inlined_once():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("fig1", outputs=[_plotly_output("first-trace")]),
                nbformat.v4.new_code_cell("fig2", outputs=[_plotly_output("second-trace")])]
    page = render_html(nb, title="demo")
    assert "first-trace" in page and "second-trace" in page
    assert len(re.findall(r"Plotly\.newPlot\(", page)) >= 2
    assert page.count("plotly.js v") == 1            # the library's banner: inlined once
    assert len(page) > 1_000_000                     # ... and whole (about 4.6 MB)
    assert not re.search(r"<script[^>]*src=[^>]*plot", page)    # no CDN plotly.js ...
    assert "require.min.js" not in page                          # ... nor AMD loader to capture it
    assert "application/vnd.plotly.v1+json" in nb.cells[1].outputs[0].data  # input untouched


def test_notebooks_run_in_dependency_order_with_shared_threads(tmp_path, data):
    nbs = write_notebooks(tmp_path / "nbs")
    fake = FakeExecutor(sleep=0.3)
    result = run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mahala", "ae_mse", "tastgram_ce"],
                        jobs=2, notebooks_dir=nbs, log=None, execute=fake)
    assert result.ok and len(fake.calls) == 6
    t = fake.times
    assert t["01_method_report-ae_mahala"][0] >= t["01_method_report-ae_mse"][1]

    def apart(a, b):  # one after the other, in either order
        return t[a][0] >= t[b][1] or t[b][0] >= t[a][1]

    # same AE run: one at a time (ae_mse's page heads the longest path, so it comes first)
    assert apart("01_method_report-ae_mse", "00_asd_in_one_hour")
    assert apart("01_method_report-ae_mahala", "00_asd_in_one_hour")
    assert t["01_method_report-tastgram_ce"][0] < t["00_asd_in_one_hour"][1]  # others alongside
    last_01 = max(end for name, (_, end) in t.items() if name.startswith("01_"))
    assert t["03_compare_methods"][0] >= last_01                                 # reads every method's run
    assert t["02_noisy_arcmix_angles"][0] >= t["01_method_report-tastgram_ce"][1]  # reads its own methods' runs
    assert {e["ASDLAB_THREADS"] for e in fake.envs} == {str(max(1, os.cpu_count() // 2))}
    params = json.loads((tmp_path / "out" / "02_noisy_arcmix_angles.ipynb").read_text())
    assert params == {"preset": "smoke", "data_dir": str(data.resolve()), "seed": 0, "interactive": False,
                      "runs_dir": str((tmp_path / "out" / "runs").resolve()), "methods": ["tastgram_ce"]}
    assert leftovers(tmp_path / "out") == []


def test_runs_made_by_older_code_are_removed_before_the_notebooks_run(tmp_path, data):
    from asdlab.methods import get_method

    nbs = write_notebooks(tmp_path / "nbs")
    result = run_report(data, tmp_path / "out", preset="smoke", methods=["tastgram_ce"], notebooks_dir=nbs,
                        log=None, execute=FakeExecutor())
    assert result.ok
    runs = tmp_path / "out" / "runs"
    current = get_method("tastgram_ce").params("smoke")
    for name, params in (("tastgram_ce", {k: v for k, v in current.items() if k != "crop"}),
                         ("kept", current)):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.json").write_text(json.dumps({"method": "tastgram_ce", "preset": "smoke",
                                                             "params": params}))
    lines = []
    run_report(data, tmp_path / "out", preset="smoke", methods=["tastgram_ce"], notebooks_dir=nbs,
               log=lines.append, execute=FakeExecutor())
    assert not (runs / "tastgram_ce").exists() and (runs / "kept").is_dir()
    assert any("removed runs/tastgram_ce (its method's parameters changed" in line for line in lines)


def test_rerun_skips_unchanged_and_redoes_failed_changed_and_forced(tmp_path, data):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"
    kw = dict(preset="smoke", methods=["ae_mse", "ae_mahala"], notebooks_dir=nbs, log=None)
    fake = FakeExecutor(fail={"01_method_report-ae_mahala"})
    first = run_report(data, out, execute=fake, **kw)
    assert first.failed == ["01_method_report-ae_mahala"] and len(first.executed) == 4
    assert sorted(fake.calls) == sorted(first.executed)
    report = json.loads((out / "report.json").read_text())
    assert [e["status"] for e in report["notebooks"]] == ["ok", "ok", "failed", "ok"]
    assert report["status"] == "failed" and report["parameters"]["methods"] == ["ae_mse", "ae_mahala"]
    assert report["data_fingerprint"] and all(len(e["input_fingerprint"]) == 16 for e in report["notebooks"])

    again = run_report(data, out, execute=FakeExecutor(), **kw)       # only the failed one again
    assert again.executed == ["01_method_report-ae_mahala"] and again.ok
    assert run_report(data, out, execute=FakeExecutor(), **kw).executed == []   # nothing changed

    with open(nbs / "00_asd_in_one_hour.py", "a") as fh:                 # an edited notebook
        fh.write("print('edited')\n")
    assert run_report(data, out, execute=FakeExecutor(), **kw).executed == ["00_asd_in_one_hour"]

    (out / "runs" / "ae_mse").mkdir(parents=True)                         # a run folder changed:
    (out / "runs" / "ae_mse" / "summary.json").write_text('{"official_score": 0.5}')
    assert run_report(data, out, execute=FakeExecutor(), **kw).executed == [   # its writers and readers
        "00_asd_in_one_hour", "01_method_report-ae_mse", "03_compare_methods"]

    (out / "03_compare_methods.html").unlink()                            # a lost output file
    assert run_report(data, out, execute=FakeExecutor(), **kw).executed == ["03_compare_methods"]

    forced = run_report(data, out, force=True, execute=FakeExecutor(), **kw)
    assert len(forced.executed) == 4
    assert leftovers(out) == []
    index = (out / "index.html").read_text()
    for name in first.executed:
        assert f"href='{name}.html'" in index and f"href='{name}.ipynb'" in index


def test_report_folder_of_other_data_or_seed_is_refused_unless_forced(tmp_path, data, make_dcase_tree):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"
    kw = dict(preset="smoke", methods=["ae_mse"], notebooks_dir=nbs, log=None)
    run_report(data, out, execute=FakeExecutor(), **kw)
    other = make_dcase_tree(tmp_path / "other", machines=["fan"])
    fake = FakeExecutor()
    with pytest.raises(ReportExistsError, match=r"made for data=.*data.*pass --force"):
        run_report(other, out, execute=fake, **kw)
    with pytest.raises(ReportExistsError, match=r"seed=0.*not for seed=1"):
        run_report(data, out, seed=1, execute=fake, **kw)
    assert fake.calls == []
    assert len(run_report(other, out, force=True, execute=fake, **kw).executed) == 3
    assert json.loads((out / "report.json").read_text())["identity"]["data"] == str(other.resolve())
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ReportExistsError, match="not empty and holds no report.json"):
        run_report(data, tmp_path / "foreign", execute=fake, **kw)


def test_seeds_reach_the_comparison_and_belong_to_the_report_identity(tmp_path, data, capsys):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"
    kw = dict(preset="smoke", methods=["ae_mse"], notebooks_dir=nbs, log=None)
    run_report(data, out, execute=FakeExecutor(), **kw)               # a one-seed report, seed 0
    with pytest.raises(ReportExistsError, match=r"seeds=\[0\], not for seeds=\[0, 1\].*the runs of the "
                                                r"seeds both share are reused"):
        run_report(data, out, seeds=[0, 1], execute=FakeExecutor(), **kw)
    result = run_report(data, out, seeds=[0, 1], force=True, execute=FakeExecutor(), **kw)
    assert result.ok and result.report["identity"]["seeds"] == [0, 1]
    assert result.report["parameters"]["seed"] == 0 and result.report["parameters"]["seeds"] == [0, 1]
    params = {t["name"]: t["parameters"] for t in result.report["notebooks"]}
    assert params["03_compare_methods"]["seeds"] == [0, 1] and params["03_compare_methods"]["seed"] == 0
    assert "seeds" not in params["01_method_report-ae_mse"]
    assert run_report(data, out, seeds=[0, 1], execute=FakeExecutor(), **kw).executed == []
    (out / "runs" / "seed1" / "ae_mse").mkdir(parents=True)              # a further seed's run changed:
    (out / "runs" / "seed1" / "ae_mse" / "summary.json").write_text('{"official_score": 0.5}')
    assert run_report(data, out, seeds=[0, 1], execute=FakeExecutor(), **kw).executed == ["03_compare_methods"]
    with pytest.raises(ConfigError, match=r"seed=1 and seeds=\[0, 1\] together"):
        run_report(data, out, seed=1, seeds=[0, 1], execute=FakeExecutor(), **kw)
    with pytest.raises(ConfigError, match=r"seeds=\[0, 0\]: seed 0 is given more than once"):
        run_report(data, out, seeds=[0, 0], execute=FakeExecutor(), **kw)
    base = ["report", "--data", str(data), "--preset", "smoke", "--out", str(tmp_path / "o"), "--notebooks", str(nbs)]
    assert main(base + ["--seed", "1", "--seeds", "0", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["asdlab report: error: --seed and --seeds together: give every seed with --seeds (the first "
                   "one is the report's main seed), e.g. --seeds 0 1 2"]
    assert not (tmp_path / "o").exists()


def test_index_shows_the_seeds_when_the_report_used_several():
    from asdlab.report.index import index_html

    def page(**seed_params) -> str:
        report = {"parameters": {"data": "/d", "preset": "smoke", "methods": ["ae_mse"], "runs_dir": "/r/runs",
                                 **seed_params},
                  "data_fingerprint": "f", "asdlab_version": "0", "started": "s", "finished": "e",
                  "duration_s": 1.0, "notebooks": []}
        return index_html(report)

    several = page(seed=2, seeds=[2, 0, 5])
    assert "<dt>seeds</dt><dd>2, 0, 5 (first: the main seed; mean ± sd over them in 03_compare_methods)</dd>" \
        in several and "<dt>seed</dt>" not in several
    assert "<h2>Methods compared (seed 2)</h2>" in several
    for one in (page(seed=3, seeds=[3]), page(seed=3)):   # one seed, or a report made before --seeds
        assert "<dt>seed</dt><dd>3</dd>" in one and "<dt>seeds</dt>" not in one
        assert "<h2>Methods compared</h2>" in one


def test_an_interrupt_leaves_no_temporary_file_and_marks_the_report(tmp_path, data):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"

    def interrupted(spec, env):
        Path(spec["tmp_ipynb"]).write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_report(data, out, preset="smoke", methods=["ae_mse"], jobs=1, notebooks_dir=nbs, log=None,
                   execute=interrupted)
    assert json.loads((out / "report.json").read_text())["status"] == "interrupted"
    assert leftovers(out) == []


def test_real_notebooks_end_to_end_through_the_cli(tmp_path, data, capsys):
    """Four small kernels: 00 alongside 01-stgram_arcface (a plotly figure), then the deliberate
    failure of 01-ae_mahala (it waits for 00, which trains the AE it shares), then 03."""
    nbs = write_notebooks(tmp_path / "nbs", {
        "01_method_report": ("import os\nif method == 'ae_mahala':\n"
                             "    raise RuntimeError(f'deliberate failure for {method}')\n"
                             "print('threads', os.environ['ASDLAB_THREADS'], 'method', method)\n"
                             "import plotly.graph_objects as go\nimport plotly.io as pio\n"
                             "pio.renderers.default = 'plotly_mimetype'\n"
                             "go.Figure(go.Scatter(x=[1, 2, 3], y=[4, 1, 7], name='trace-of-' + method))\n"),
        "03_compare_methods": "print('compared', methods)\n"})
    out = tmp_path / "reports" / "r"
    t0 = time.monotonic()
    rc = main(["report", "--data", str(data), "--preset", "smoke", "--out", str(out), "--methods", "stgram_arcface",
               "ae_mahala", "--jobs", "2", "--seed", "3", "--notebooks", str(nbs), "--quiet"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "failed: 01_method_report-ae_mahala: RuntimeError: deliberate failure for ae_mahala" in err
    assert str(out / "01_method_report-ae_mahala.html") in err

    report = json.loads((out / "report.json").read_text())
    status = {e["name"]: e["status"] for e in report["notebooks"]}
    assert status == {"00_asd_in_one_hour": "ok", "01_method_report-stgram_arcface": "ok",
                      "01_method_report-ae_mahala": "failed", "03_compare_methods": "ok"}
    assert all(0 < e["duration_s"] < elapsed for e in report["notebooks"])
    assert report["status"] == "failed" and report["parameters"]["seed"] == 3

    executed = nbformat.read(out / "01_method_report-stgram_arcface.ipynb", as_version=4)
    recorded = executed.metadata.papermill.parameters
    assert recorded == {"preset": "smoke", "data_dir": str(data.resolve()), "runs_dir": str(out.resolve() / "runs"),
                        "seed": 3, "interactive": False, "method": "stgram_arcface"}
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert f"threads {max(1, os.cpu_count() // 2)} method stgram_arcface" in text

    page = (out / "01_method_report-stgram_arcface.html").read_text()
    from asdlab.report.html import PLOTLYJS
    assert "trace-of-stgram_arcface" in page and "plotly.js v" in (out / PLOTLYJS).read_text()
    assert re.findall(r"<script[^>]*src=[\"']([^\"']*)", page) == [PLOTLYJS]  # the shared copy, no CDN
    failed_page = (out / "01_method_report-ae_mahala.html").read_text()
    assert "deliberate failure for ae_mahala" in failed_page
    assert (out / "01_method_report-ae_mahala.ipynb").is_file()
    assert "compared" in (out / "03_compare_methods.html").read_text()

    index = (out / "index.html").read_text()
    for name in status:
        assert f"href='{name}.html'" in index
    assert "1 of 4 notebooks failed" in index and "cdn" not in index
    assert leftovers(out) == []


def test_cli_usage_errors_are_one_line_with_status_2(tmp_path, data, capsys):
    nbs = write_notebooks(tmp_path / "nbs")
    base = ["report", "--data", str(data), "--preset", "smoke", "--out", str(tmp_path / "o"), "--notebooks", str(nbs)]
    assert main(base + ["--methods", "nope"]) == 2
    assert main(base + ["--jobs", "0"]) == 2
    assert main(["report", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("asdlab report: error: ") for line in lines)
    assert "unknown method 'nope'" in lines[0] and "jobs=0" in lines[1] and "absent" in lines[2]


def test_a_dcase2020_dataset_takes_notebook_02_with_runs_of_its_own(tmp_path, data, make_dcase_tree):
    planned = build_plan(["tastgram_ce", "ae_mse"], styles=("dcase2020",))
    assert planned[0].name == "02_noisy_arcmix_angles"      # it waits for nothing: started first
    tasks = {t.name: t for t in planned}
    fig1 = tasks["02_noisy_arcmix_angles"]
    assert fig1.style == "dcase2020" and fig1.after == []   # waits for no method report
    assert fig1.runs == ["dcase2020/tastgram_ce"] and fig1.locks == {"dcase2020/tastgram_ce"}
    assert tasks["01_method_report-tastgram_ce"].style is None
    assert build_plan(["tastgram_ce"])[-2].style is None     # without such data: the report's data
    data_2020 = make_dcase_tree(tmp_path / "d2020", machines={"fan": ""})
    nbs = write_notebooks(tmp_path / "nbs")
    out = tmp_path / "out"
    kw = dict(preset="smoke", methods=["ae_mse", "tastgram_ce"], notebooks_dir=nbs, log=None)
    result = run_report(data, out, data_2020=data_2020, execute=FakeExecutor(), **kw)
    assert result.ok
    params = json.loads((out / "02_noisy_arcmix_angles.ipynb").read_text())
    assert params["data_dir"] == str(data_2020.resolve())
    assert params["runs_dir"] == str((out / "runs" / "dcase2020").resolve())
    other = json.loads((out / "01_method_report-tastgram_ce.ipynb").read_text())
    assert other["data_dir"] == str(data.resolve())
    assert result.report["identity"]["data_dcase2020"] == str(data_2020.resolve())
    assert run_report(data, out, data_2020=data_2020, execute=FakeExecutor(), **kw).executed == []
    # a report made without such data takes it later: only 02 runs again
    out2 = tmp_path / "out2"
    run_report(data, out2, execute=FakeExecutor(), **kw)
    assert run_report(data, out2, data_2020=data_2020, execute=FakeExecutor(), **kw).executed == [
        "02_noisy_arcmix_angles"]
    with pytest.raises(ConfigError, match="--data-2020 .*no such folder"):
        run_report(data, out, data_2020=tmp_path / "nope", execute=FakeExecutor(), **kw)


def test_default_selection_trains_the_figure1_losses_on_the_dcase2020_data_only():
    """With dcase2020 data and no named methods, the CE / linear CE / ArcFace / ArcMix runs are
    trained by notebook 02 on those data (the paper's setting), not as pages on the main data;
    named methods apply to every notebook, as before."""
    registered = ["ae_mse", *NOISY_ARCMIX_FAMILY, "sc_adacos"]
    main = default_methods(registered, ("dcase2020",))
    assert main == ["ae_mse", "tastgram_noisy_arcmix", "sc_adacos"]
    assert default_methods(registered) == registered                # no such data: every method
    tasks = {t.name: t for t in build_plan(main, styles=("dcase2020",), style_methods=registered)}
    assert tasks["02_noisy_arcmix_angles"].params == {"methods": list(NOISY_ARCMIX_FAMILY)}
    assert tasks["02_noisy_arcmix_angles"].writes == ["dcase2020/tastgram_ce"]
    assert "01_method_report-tastgram_arcface" not in tasks
    assert tasks["03_compare_methods"].params == {"methods": main}
    # without the dcase2020 data the styled pool is not used: 02 takes the selected losses
    plain = {t.name: t for t in build_plan(main, style_methods=registered)}
    assert plain["02_noisy_arcmix_angles"].params == {"methods": ["tastgram_noisy_arcmix"]}

