"""Issue 16, "tracebacks instead of one line" and "silent acceptance" (parameters and OS errors):
every case goes through ``asdlab.cli.main`` (or the report worker / a kernel), exits 2 with exactly
one stderr line naming the parameter or path, and leaves nothing written: no run folder, no
``.partial``, no lock file, the previous result byte for byte."""

from __future__ import annotations

import errno
import importlib
import os
import shutil
from pathlib import Path

import pytest

from asdlab.cli import main
from conftest import make_dcase_tree

DISK_FULL = "No space left on device (errno 28: the disk is full: free some space or write elsewhere)"
DENIED = "Permission denied (errno 13: permission denied: check the owner and mode of the file or its folder)"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dcase_tree(tmp_path_factory.mktemp("data"), seconds=1.0)


@pytest.fixture(scope="module")
def base_run(data, tmp_path_factory):
    """A finished ae_mse smoke run (the "previous result" the failing runs must not touch)."""
    out = tmp_path_factory.mktemp("runs") / "base"
    assert main(["run", "ae_mse", "--data", str(data), "--out", str(out), "--preset", "smoke", "--quiet"]) == 0
    return out


def cli(argv) -> int:
    """``asdlab.cli.main(argv)``'s exit status, also when argparse exits."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """Siblings of ``out`` that a run writes: the folder, ``.partial``, ``.lock``, ``.old``."""
    return sorted(p.name for p in out.parent.glob(out.name + "*"))


RUN_PARAMETER_CASES = [
    (["--set", "epochs=abc"], "method ae_mse: parameter epochs='abc': expected an integer >= 1"),
    (["--set", "epochs=-3"], "method ae_mse: parameter epochs=-3: expected an integer >= 1"),
    (["--set", "epochs=1.5"], "method ae_mse: parameter epochs=1.5: expected an integer >= 1"),
    (["--set", "lr=0"], "method ae_mse: parameter lr=0: expected a number > 0"),
    (["--set", "val_fraction=1"], "method ae_mse: parameter val_fraction=1: expected a number in [0, 1)"),
    (["--set", "epoch=3"], "method 'ae_mse' has no parameter 'epoch' (known: ['batch_size', 'bottleneck', "
                           "'epochs', 'hidden', 'hop', 'lr', 'n_fft', 'n_frames', 'n_layers', 'n_mels', "
                           "'ridge', 'val_fraction'])"),
    (["--set", "epochs"], "--set expects KEY=VALUE, got 'epochs'"),
    (["--seed", "-3"], "seed=-3: expected an integer in [0, 4294967295]"),
    (["--device", "gpu0"], "device 'gpu0': not a device name; use one of auto, cpu, cuda, cuda:N, mps"),
    (["--device", "cuda"], "device 'cuda': this machine has no usable CUDA GPU (torch {torch}); use "
                           "--device cpu or auto"),
    (["--device", "cuda:7"], "device 'cuda:7': this machine has no usable CUDA GPU (torch {torch}); use "
                             "--device cpu or auto"),
]


@pytest.mark.parametrize("extra, message", RUN_PARAMETER_CASES, ids=[" ".join(c[0]) for c in RUN_PARAMETER_CASES])
def test_run_parameter_error_is_one_line_and_writes_nothing(extra, message, data, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same message on a GPU machine
    out = tmp_path / "run"
    code = cli(["run", "ae_mse", "--data", data, "--out", out, "--preset", "smoke", "--quiet", *extra])
    assert code == 2
    build = f"{torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
    assert one_line(capsys) == "asdlab run: error: " + message.format(torch=build)
    assert leftovers(out) == []


def test_argparse_errors_are_one_line(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["run", "ae_mse", "--data", data, "--out", out, "--seed", "abc"]) == 2
    assert one_line(capsys) == ("asdlab run: error: argument --seed: invalid int value: 'abc' "
                                "(see asdlab run --help)")
    assert cli(["run", "ae_mse", "--data", data, "--out", out, "--channel", "3"]) == 2
    assert one_line(capsys).startswith("asdlab run: error: argument --channel: invalid choice: '3'")
    assert leftovers(out) == []


@pytest.mark.parametrize("command", ["run", "report", "rescore"])
@pytest.mark.parametrize("below", [False, True], ids=["out-is-a-file", "out-below-a-file"])
def test_out_pointing_at_a_file_is_one_line(command, below, data, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me\n")
    out = afile / "sub" if below else afile
    argv = {"run": ["run", "ae_mse", "--data", data, "--preset", "smoke"],
            "report": ["report", "--data", data, "--preset", "smoke", "--methods", "ae_mse"],
            "rescore": ["rescore", tmp_path / "no-run", "--backend", "mse"]}[command]
    assert cli([*argv, "--out", out]) == 2
    what = "report folder" if command == "report" else "run folder"
    problem = f"{afile} is a file, not a folder" if below else "is a file, not a folder"
    assert one_line(capsys) == f"asdlab {command}: error: {what} {out}: {problem}; give a folder path"
    assert afile.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_disk_full_while_writing_the_submission_keeps_the_previous_run(base_run, data, tmp_path, capsys,
                                                                      monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(base_run, out)
    before = snapshot(out)
    target = {}

    def full(scores, folder):
        target["path"] = Path(folder) / "anomaly_score_ToyCar_section_00_test.csv"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target["path"]))

    monkeypatch.setattr("asdlab.runs.folder.write_submission", full)
    code = cli(["run", "ae_mse", "--data", data, "--out", out, "--preset", "smoke", "--quiet",
                "--set", "epochs=2", "--force"])
    assert code == 2
    assert one_line(capsys) == f"asdlab run: error: {target['path']}: {DISK_FULL}"
    assert target["path"].parent.parent.name == "run.partial"  # it failed inside the .partial ...
    assert leftovers(out) == ["run"]  # ... which is gone, and no lock file either
    assert snapshot(out) == before  # the previous result, byte for byte


def test_permission_denied_in_the_run_folder_is_one_line(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"

    def denied(path, obj):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr("asdlab.runs.folder.write_json", denied)
    assert cli(["run", "ae_mse", "--data", data, "--out", out, "--preset", "smoke", "--quiet"]) == 2
    assert one_line(capsys) == f"asdlab run: error: {out}.partial/config.json: {DENIED}"
    assert leftovers(out) == []


def test_disk_full_while_rescoring_is_one_line(base_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "rescored"

    def full(folder, result, protocol=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(folder) / "scores.csv"))

    monkeypatch.setattr(importlib.import_module("asdlab.runs.rescore"), "write_outputs", full)
    assert cli(["rescore", base_run, "--backend", "mse", "--out", out]) == 2
    assert one_line(capsys) == f"asdlab rescore: error: {out}.partial/scores.csv: {DISK_FULL}"
    assert leftovers(out) == []


def test_disk_full_while_writing_a_report_is_one_line(data, tmp_path, capsys, monkeypatch):
    import asdlab.report.runner as runner

    out = tmp_path / "report"
    real = runner.atomic_write_text

    def full(path, text):
        if Path(path).name == runner.REPORT_FILE:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(runner, "atomic_write_text", full)
    code = cli(["report", "--data", data, "--out", out, "--preset", "smoke", "--methods", "ae_mse", "--quiet"])
    assert code == 2
    assert one_line(capsys) == f"asdlab report: error: {out / runner.REPORT_FILE}: {DISK_FULL}"
    assert not (out / runner.REPORT_FILE).exists() and not (out / "index.html").exists()


def test_index_out_that_is_a_folder_is_one_line(data, tmp_path, capsys):
    assert cli(["index", data, "--out", tmp_path]) == 2
    line = capsys.readouterr().err.splitlines()
    assert line == [f"asdlab index: error: {tmp_path}: Is a directory (errno {errno.EISDIR})"]


# --- notebooks: parameters are checked before a kernel starts (report worker) and in the kernel


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("params, message", [
    ({"methd": "ae_mse"}, "{src}: the parameters cell does not declare 'methd', which was passed; did you mean "
                          "'method'? declared: data_dir, interactive, method, preset, runs_dir, seed"),
    ({"seed": "abc"}, "{src}: notebook parameter seed='abc': must be a non-negative integer"),
    ({"method": "ae_mes"}, "{src}: notebook parameter method: unknown method 'ae_mes'; registered: "),
])
def test_report_worker_refuses_bad_parameters_before_any_kernel(params, message, tmp_path):
    from asdlab.report.worker import execute

    src = NOTEBOOKS / "01_method_report.py"
    spec = {"source": str(src), "name": "01", "params": params, "cwd": str(tmp_path),
            "tmp_ipynb": str(tmp_path / ".01.tmp.ipynb"), "ipynb": str(tmp_path / "01.ipynb"),
            "html": str(tmp_path / "01.html")}
    result = execute(spec)
    assert result["status"] == "failed"
    assert result["error"].startswith("ConfigError: " + message.format(src=src))
    assert "\n" not in result["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01.html"]  # the error page, no notebook


TINY_NOTEBOOK = '''# %% tags=["parameters"]
preset = "smoke"
seed = 0
method = "ae_mse"

# %%
import asdlab.notebook as nb

nb.check_parameter_names(globals(), "preset seed method")
nb.check_params(seed=seed)
info = nb.setup(seed)
'''


@pytest.mark.parametrize("params, message", [
    ({"methd": "ae_mse"}, "notebook parameter methd='ae_mse': this notebook has no such parameter; did you "
                          "mean 'method'? its parameters: method, preset, seed"),
    ({"seed": "abc"}, "notebook parameter seed='abc': must be a non-negative integer"),
])
def test_plain_papermill_run_stops_in_the_kernel(params, message, tmp_path):
    """``papermill -p methd ...`` (no asdlab in between) only warns; the notebook's own check stops it."""
    import papermill as pm

    from asdlab.report.plan import read_notebook
    from asdlab.core.imports import skip_iri_format_checks

    skip_iri_format_checks()
    (tmp_path / "tiny.py").write_text(TINY_NOTEBOOK)
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(read_notebook(tmp_path / "tiny.py"), str(tmp_path / "out.ipynb"), parameters=params,
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert info.value.ename == "ConfigError"
    assert info.value.evalue == message
