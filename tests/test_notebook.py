"""The notebook conventions: parameter checks, default folders, renderer and thread set-up."""

import os
from pathlib import Path

import plotly.io as pio
import pytest
import torch

from asdlab import notebook as nb
from asdlab.core.errors import ConfigError


@pytest.fixture
def keep_threads():
    n, renderer = torch.get_num_threads(), pio.renderers.default
    yield
    torch.set_num_threads(n)
    pio.renderers.default = renderer


def test_setup_sets_renderer_threads_and_seed(monkeypatch, keep_threads):
    pio.renderers.default = "json"
    monkeypatch.setenv(nb.THREADS_ENV, "1")
    info = nb.setup(seed=7)
    assert pio.renderers.default == "plotly_mimetype"
    assert info["threads"] == torch.get_num_threads() == 1
    a = torch.rand(3)
    nb.setup(seed=7)
    assert torch.equal(a, torch.rand(3))


def test_setup_rejects_bad_thread_settings(monkeypatch, keep_threads):
    monkeypatch.setenv(nb.THREADS_ENV, "two")
    with pytest.raises(ConfigError, match="ASDLAB_THREADS='two'"):
        nb.setup()
    monkeypatch.delenv(nb.THREADS_ENV)
    with pytest.raises(ConfigError, match="threads=0"):
        nb.setup(threads=0)


@pytest.mark.parametrize("params, message", [
    ({"preset": "fast"}, "preset='fast': must be one of smoke, course, paper"),
    ({"seed": -1}, "seed=-1"),
    ({"seed": True}, "seed=True"),
    ({"method": "no_such_method"}, "no_such_method"),
    ({"methods": "ae_mse"}, "methods='ae_mse'"),
    ({"methods": []}, "non-empty"),
    ({"data_dir": 3}, "data_dir=3"),
    ({"interactive": "no"}, "interactive='no'"),
])
def test_check_params_names_the_bad_parameter(params, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        nb.check_params(**params)


def test_check_params_accepts_good_values():
    nb.check_params(preset="smoke", seed=0, method="ae_mse", methods=["ae_mse", "ae_mahala"],
                    data_dir=None, runs_dir="runs", interactive=False, anything="else")


def test_project_dir_and_default_runs(tmp_path, monkeypatch):
    (tmp_path / "asdlab").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert nb.project_dir() == tmp_path.resolve()
    assert nb.resolve_runs(None, "smoke") == tmp_path.resolve() / "runs" / "smoke"
    assert nb.resolve_runs(str(tmp_path / "x"), "smoke") == tmp_path / "x"
    assert nb.resolve_runs(None, "course", "dcase2020") == tmp_path.resolve() / "runs" / "course-dcase2020"


def test_ensure_data_missing_folder_is_an_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match="data_dir=.*nope.*no such folder"):
        nb.ensure_data(str(missing), "smoke")
    assert not missing.exists()
    assert nb.ensure_data(str(tmp_path), "smoke") == tmp_path


def test_ensure_data_default_generates_factory_under_project(tmp_path, monkeypatch):
    (tmp_path / "asdlab").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr("asdlab.data.synth.generate_dataset",
                        lambda out, **kw: calls.append((out, kw)) or out)
    assert nb.ensure_data(None, "smoke", seed=3) == tmp_path.resolve() / "data" / "factory-smoke-seed3"
    assert calls[0][1]["preset"] == "smoke" and calls[0][1]["seed"] == 3
    assert nb.ensure_data(None, "course").name == "factory-course"
    assert calls[-1][1]["style"] == "dcase2024"
    assert nb.ensure_data(None, "course", style="dcase2020").name == "factory2020-course"
    assert calls[-1][1]["style"] == "dcase2020"
    with pytest.raises(ConfigError, match="style='dcase2019'"):
        nb.ensure_data(None, "course", style="dcase2019")
    with pytest.raises(ConfigError, match="notebook parameter style='x'"):
        nb.check_params(style="x")
    assert os.environ.get("ASDLAB_CACHE")  # conftest keeps caches out of $HOME


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, None])
def test_setup_checks_the_seed_before_setting_anything(seed, keep_threads):
    import plotly.io as pio

    pio.renderers.default = "json"
    with pytest.raises(ConfigError, match=rf"^notebook parameter seed={seed!r}: must be a non-negative integer$"):
        nb.setup(seed)
    assert pio.renderers.default == "json"  # nothing was set


def test_check_parameter_names_reads_papermills_injected_cell():
    history = ["", 'preset = "course"\nseed = 0\nmethod = "x"\n', '# Parameters\nmethd = "ae_mse"\nseed = 3\n',
               "import asdlab.notebook as nb"]
    ns = {"In": history, "preset": "course", "seed": 3, "method": "x", "methd": "ae_mse"}
    assert nb.injected_names(ns) == ["methd", "seed"]
    with pytest.raises(ConfigError, match=r"^notebook parameter methd='ae_mse': this notebook has no such "
                                          r"parameter; did you mean 'method'\? its parameters: method, preset, "
                                          r"seed$"):
        nb.check_parameter_names(ns, "preset seed method")
    nb.check_parameter_names({**ns, "In": history[:2]}, ["preset", "seed", "method"])  # nothing injected
    nb.check_parameter_names({"extra": 1}, "preset")  # interactive use, no history: never refused
    ns["In"][2] = '# Parameters\nseed = 3\n'
    nb.check_parameter_names(ns, "preset seed method")


NOTEBOOK_FILES = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=[p.stem for p in NOTEBOOK_FILES])
def test_every_notebook_checks_its_parameters_first(path):
    """Each notebook names exactly its parameters cell's names to ``check_parameter_names`` and
    checks names and values before ``nb.setup`` (issue 16: ``seed='abc'`` reached setup first)."""
    import re

    from asdlab.report.plan import declared_parameters, read_notebook

    text = path.read_text()
    found = re.search(r'nb\.check_parameter_names\(globals\(\), "([^"]*)"\)', text)
    assert found, f"{path.name} does not call nb.check_parameter_names"
    assert set(found.group(1).split()) == declared_parameters(read_notebook(path))
    setup = text.index("nb.setup(")
    assert found.start() < text.index("nb.check_params(") < setup


def test_a_kernel_importing_the_notebook_helpers_skips_the_iri_grammar_and_still_validates_notebooks():
    """plotly.io imports nbformat, nbformat jsonschema, jsonschema rfc3987_syntax (seconds of
    grammar building per kernel): after ``asdlab.notebook`` it is not loaded, and nbformat still
    validates a notebook and still rejects a broken one."""
    import subprocess
    import sys

    code = """
import sys
import asdlab.notebook
import plotly.io, nbformat
assert sys.modules["rfc3987_syntax"] is None
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
nbformat.validate(nb)
del nb.cells[0]["source"]
try:
    nbformat.validate(nb)
except nbformat.ValidationError:
    print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"
