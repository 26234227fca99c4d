"""``asdlab sweep``: grid expansion and folder names, one-line errors before anything runs, the
local executor on smoke factory data, the seed statistics of ``comparison.csv``, skipping finished
runs, ``--executor ray`` without ray installed, and the report runner's executor hook.
(The Ray cluster itself: tests/test_ray_cluster.py.)"""

from __future__ import annotations

import json
import os
import re
import sys
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asdlab.cli import _parse_overrides, main
from asdlab.core.errors import ConfigError
from asdlab.runs.executors import Executor, LocalExecutor
from asdlab.runs.grid import expand_grid, overrides_label, parse_value, split_values
from test_report import write_notebooks


def cli(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def test_grid_expands_methods_values_and_seeds_into_readable_folders():
    specs = expand_grid(["raw_spec", "ae_mse"], [0, 1], ["ae_mse.epochs=1,2", "n_mels=64"], preset="smoke")
    assert [s.folder for s in specs] == [
        "raw_spec/n_mels=64/seed0", "raw_spec/n_mels=64/seed1",
        "ae_mse/epochs=1,n_mels=64/seed0", "ae_mse/epochs=1,n_mels=64/seed1",
        "ae_mse/epochs=2,n_mels=64/seed0", "ae_mse/epochs=2,n_mels=64/seed1"]
    assert specs[2].overrides == {"epochs": 1, "n_mels": 64} and specs[2].seed == 0
    assert [s.name for s in specs[::2]] == ["raw_spec n_mels=64", "ae_mse epochs=1,n_mels=64", "ae_mse epochs=2,n_mels=64"]
    plain = expand_grid(["ae_mse"], [3], preset="smoke")
    assert [(s.folder, s.name, s.overrides) for s in plain] == [("ae_mse/default/seed3", "ae_mse", {})]
    # the same grid whatever the order of the --set items: keys are sorted in the name
    again = expand_grid(["ae_mse"], [0], ["n_mels=64", "epochs=1"], preset="smoke")
    assert again[0].folder == "ae_mse/epochs=1,n_mels=64/seed0"


def test_values_are_read_like_asdlab_run_set_and_split_outside_brackets():
    for text in ("5", "1e-4", "[2,4]", "None", "True", "false", "name", '"5"', "{\"a\": 1}"):
        assert parse_value(text) == _parse_overrides([f"k={text}"])["k"]
    assert split_values("1,[2,3],'a,b',{\"x\":1,\"y\":2}") == ["1", "[2,3]", "'a,b'", '{"x":1,"y":2}']
    assert overrides_label({"lr": 1e-4, "ks": [2, 4], "f": None, "b": True}) == "b=true,f=null,ks=[2,4],lr=0.0001"
    # unsafe characters: replaced, and the exact values' hash keeps two such labels apart
    a, b = overrides_label({"x": "a/b c"}), overrides_label({"x": "a_b_c"})
    assert a.startswith("x=a_b_c~") and len(a) == len("x=a_b_c~") + 8 and b == "x=a_b_c"


GRID_ERRORS = [
    (["raw_spec", "ae_mse"], [0], ["epochs=1"],
     "--set epochs=1: method 'raw_spec' has no parameter 'epochs' (known: backend, hop, n_fft, n_mels); "
     "give it as METHOD.epochs=... for the methods that have it"),
    (["ae_mse"], [0], ["epochs=2,0"], "--set epochs=0: method ae_mse: parameter epochs=0: expected an integer >= 1"),
    (["ae_mse"], [0], ["lr=fast"], "--set lr=fast: method ae_mse: parameter lr='fast': expected a number > 0"),
    (["ae_mse"], [0], ["epochs=1", "epochs=2"], "--set epochs is given twice; list its values once: epochs=V1,V2"),
    (["ae_mse"], [0], ["raw_spec.n_mels=2"], "--set raw_spec.n_mels=2: method 'raw_spec' is not in the sweep's "
                                              "--methods (ae_mse)"),
    (["ae_mse"], [0], ["epochs=1,,2"], "--set epochs=1,,2: an empty value (give KEY=V1,V2 without empty entries)"),
    (["ae_mse"], [0], ["epochs"], "--set expects KEY=VALUE[,VALUE...] or METHOD.KEY=..., got 'epochs'"),
    (["ae_mse"], [0, 0], [], "--seeds=[0, 0]: seed 0 is given more than once"),
    (["ae_mse", "ae_mse"], [0], [], "--methods: ae_mse is given more than once"),
]


@pytest.mark.parametrize("methods, seeds, sets, message", GRID_ERRORS, ids=[" ".join(e[2]) or str(e[:2]) for e in GRID_ERRORS])
def test_a_bad_grid_is_one_line_before_anything_runs(methods, seeds, sets, message, tmp_path, capsys):
    with pytest.raises(ConfigError) as err:
        expand_grid(methods, seeds, sets, preset="smoke")
    assert str(err.value) == message
    argv = ["sweep", "--data", tmp_path, "--methods", *methods, "--seeds", *seeds, "--preset", "smoke",
            "--out", tmp_path / "sweep"]
    for item in sets:
        argv += ["--set", item]
    assert cli(argv) == 2
    assert capsys.readouterr().err.splitlines() == [f"asdlab sweep: error: {message}"]
    assert not (tmp_path / "sweep").exists()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from asdlab.data.synth import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("smoke"), preset="smoke", machines=["ToyCar"], progress=False)


def test_local_sweep_compares_over_seeds_and_skips_finished_runs(data, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", data, "--methods", "raw_spec", "ae_mse", "--seeds", "0", "1",
            "--set", "ae_mse.epochs=1", "--preset", "smoke", "--out", out, "--jobs", "2"]
    assert cli(argv) == 0
    printed = capsys.readouterr().out
    assert "4 run(s); 0 finished run(s) skipped; 4 to run on this machine (2 process(es) at a time, 1 thread(s) each)" \
        in printed
    assert "4 run(s) done, 0 finished run(s) skipped, 0 failed" in printed
    pids = {int(p) for p in re.findall(r", pid (\d+)\)", printed)}
    assert os.getpid() not in pids  # each run in a process of its own (a fresh one from Python 3.11)
    assert len(pids) == (4 if sys.version_info >= (3, 11) else len(pids))
    folders = ["raw_spec/default/seed0", "raw_spec/default/seed1", "ae_mse/epochs=1/seed0", "ae_mse/epochs=1/seed1"]
    record = json.loads((out / "sweep.json").read_text())
    assert [r["folder"] for r in record["runs"]] == folders
    assert record["methods"] == ["raw_spec", "ae_mse"] and record["seeds"] == [0, 1]
    assert record["set"] == ["ae_mse.epochs=1"] and record["preset"] == "smoke"
    assert record["data"] == str(Path(data).resolve())
    for folder in folders:
        config = json.loads((out / folder / "config.json").read_text())
        assert config["seed"] == int(folder[-1]) and config["preset"] == "smoke"
        assert config["params"]["epochs"] == 1 if folder.startswith("ae_mse") else "epochs" not in config["params"]

    # comparison.csv: mean and sample sd over the two seeds of each run's own official score
    table = pd.read_csv(out / "comparison.csv").set_index("run")
    assert set(table.index) == {"raw_spec", "ae_mse epochs=1"} and list(table["n"]) == [2, 2]
    for name, prefix in (("raw_spec", "raw_spec/default"), ("ae_mse epochs=1", "ae_mse/epochs=1")):
        scores = [json.loads((out / f"{prefix}/seed{s}/summary.json").read_text())["official_score"] for s in (0, 1)]
        assert table.loc[name, "official_score_mean"] == pytest.approx(np.mean(scores), abs=1e-12)
        assert table.loc[name, "official_score_sd"] == pytest.approx(abs(scores[0] - scores[1]) / np.sqrt(2), abs=1e-12)
        for metric in ("auc_source", "auc_target", "pauc"):
            assert 0 <= table.loc[name, f"{metric}_mean"] <= 1
    assert f"{100 * table.loc['raw_spec', 'official_score_mean']:.2f}" in printed

    # the same sweep again: nothing to run
    assert cli(argv) == 0
    printed = capsys.readouterr().out
    assert "4 run(s); 4 finished run(s) skipped; 0 to run" in printed
    assert "0 run(s) done, 4 finished run(s) skipped, 0 failed" in printed

    # a grid point whose folder holds a run of other data: stopped before any run starts
    config = json.loads((out / folders[0] / "config.json").read_text())
    (out / folders[0] / "config.json").write_text(json.dumps({**config, "data_fingerprint": "0" * 16}))
    argv[argv.index("--seeds") + 2] = "2"  # seeds 0 2: seed 2 is new
    assert cli(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"asdlab sweep: error: {out / folders[0]} holds a run of another configuration "
                   f"(data_fingerprint differ); remove it or choose another --out"]
    assert not (out / "raw_spec/default/seed2").exists()


def test_executor_ray_without_ray_installed_is_one_line(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    for command in (["sweep", "--methods", "raw_spec", "--preset", "smoke"],
                    ["report", "--preset", "smoke", "--methods", "raw_spec"]):
        assert cli([*command, "--data", data, "--out", tmp_path / command[0], "--executor", "ray"]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"asdlab {command[0]}: error: --executor ray needs the ray package, which is not installed: "
            f"pip install 'asdlab[cluster]'"]
        assert not (tmp_path / command[0]).exists()


def test_local_executor_checks_its_arguments():
    with pytest.raises(ConfigError, match=r"^jobs=0: must be an integer >= 1$"):
        LocalExecutor(jobs=0)
    with pytest.raises(ConfigError, match=r"^threads=True: must be an integer >= 1$"):
        LocalExecutor(threads=True)


class FakeRuns(Executor):
    """Trains nothing: the run of ``fail`` raises, the others "finish" with a made-up score."""

    def __init__(self, fail: str):
        self.fail, self.calls, self.cancelled = fail, [], False

    def submit(self, fn, /, *args, **kwargs):
        method, data, folder, preset, seed, overrides, device, cache, threads, precision = args
        self.calls.append((fn.__name__, folder, seed, overrides, threads))
        fut = Future()
        if folder.endswith(self.fail):
            fut.set_exception(RuntimeError("CUDA out of memory.\nTraceback ..."))
        else:
            fut.set_result({"folder": folder, "official_score": 0.5, "seconds": 1.0, "host": "node7", "pid": 42})
        return fut

    def cancel(self):
        self.cancelled = True

    def describe(self):
        return "fake"


def test_a_failed_run_is_one_line_and_the_others_go_on(tmp_path):
    from asdlab.runs.grid import run_sweep

    specs = expand_grid(["ae_mse"], [0, 1], ["epochs=1,2"], preset="smoke")
    ex, lines = FakeRuns("epochs=2/seed0"), []
    result = run_sweep(specs, tmp_path, tmp_path / "sweep", ex, preset="smoke", log=lines.append)
    assert [c[0] for c in ex.calls] == ["run_one"] * 4 and ex.calls[2][2:] == (0, {"epochs": 2}, 1)
    assert result.failed == {"ae_mse/epochs=2/seed0": "RuntimeError: CUDA out of memory."}
    assert sorted(result.done) == ["ae_mse/epochs=1/seed0", "ae_mse/epochs=1/seed1", "ae_mse/epochs=2/seed1"]
    assert lines[0] == f"sweep {tmp_path / 'sweep'}: 4 run(s); 0 finished run(s) skipped; 4 to run on fake"
    assert "  FAILED  ae_mse/epochs=2/seed0: RuntimeError: CUDA out of memory." in lines
    assert "  ok      ae_mse/epochs=1/seed0 (50.00 %, 1.0 s on node7, pid 42)" in lines
    assert result.runs() == {"ae_mse epochs=1": {0: tmp_path / "sweep/ae_mse/epochs=1/seed0",
                                                 1: tmp_path / "sweep/ae_mse/epochs=1/seed1"},
                             "ae_mse epochs=2": {1: tmp_path / "sweep/ae_mse/epochs=2/seed1"}}
    assert not ex.cancelled


def test_a_ray_address_without_a_head_is_one_line_at_once():
    import socket

    from asdlab.core.errors import AsdlabError
    from asdlab.runs.executors import check_reachable

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        check_reachable(f"127.0.0.1:{port}")  # something answers: left to Ray
    with pytest.raises(AsdlabError) as err:  # closed now
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    assert str(err.value) == (f"--address 127.0.0.1:{port}: no Ray head answers there (Connection refused); "
                              f"start one with `ray start --head --port {port}`")
    with pytest.raises(ConfigError, match=r"^--address 'headnode': give HOST:PORT of the Ray head"):
        check_reachable("headnode")
    check_reachable("auto")


class InlineExecutor(Executor):
    """Runs nothing: records each call and writes the notebook's outputs as a finished one would."""

    threads = 3

    def __init__(self):
        self.calls = []

    def submit(self, fn, /, *args, **kwargs):
        spec, env = args
        self.calls.append((fn.__name__, spec["name"], env))
        Path(spec["ipynb"]).write_text("{}")
        Path(spec["html"]).write_text("<html></html>")
        fut = Future()
        fut.set_result({"status": "ok", "error": None})
        return fut


def test_report_notebooks_go_to_the_executor_with_its_threads(tmp_path, make_dcase_tree):
    from asdlab.report import run_report

    data = make_dcase_tree(tmp_path / "data")
    ex = InlineExecutor()
    result = run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mse"],
                        notebooks_dir=write_notebooks(tmp_path / "nbs"), log=None, executor=ex)
    assert result.ok
    assert sorted(c[1] for c in ex.calls) == ["00_asd_in_one_hour", "01_method_report-ae_mse", "03_compare_methods"]
    for fn, _, env in ex.calls:
        assert fn == "execute_with_env"  # the remote side adds its own environment
        assert env["ASDLAB_THREADS"] == "3" and all(k.startswith("ASDLAB_") or k.endswith("_NUM_THREADS") for k in env)
        assert "PATH" not in env


def test_sweep_precision_reaches_every_run_and_is_part_of_its_identity(data, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", data, "--methods", "ae_mse", "--seeds", "0", "--set", "epochs=1",
            "--preset", "smoke", "--out", out, "--jobs", "1", "--quiet"]
    assert cli([*argv, "--precision", "fp16"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "asdlab sweep: error: precision 'fp16': not a precision; use fp32 (default) or bf16"]
    assert not out.exists()
    assert cli([*argv, "--precision", "bf16"]) == 0
    assert json.loads((out / "sweep.json").read_text())["precision"] == "bf16"
    assert json.loads((out / "ae_mse/epochs=1/seed0/config.json").read_text())["precision"] == "bf16"
    capsys.readouterr()
    assert cli(argv) == 2  # fp32 now: the bf16 run is another configuration, not a finished one
    assert capsys.readouterr().err.splitlines() == [
        f"asdlab sweep: error: {out / 'ae_mse/epochs=1/seed0'} holds a run of another configuration "
        f"(precision differ); remove it or choose another --out"]
