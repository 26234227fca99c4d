"""Interrupts leave nothing running or half-written (issue 16): workers and kernels die with a
SIGKILLed ``asdlab synth`` / ``asdlab report``, ``index.html`` always matches ``report.json``,
and the next run removes an earlier crash's temporary files but never a live writer's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from asdlab.core.procs import describe_removed, fault_point, pid_alive, remove_leftovers, writer_pid
from asdlab.report import run_report
from test_report import FakeExecutor, write_notebooks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def wait_until(cond, timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def snapshot(folder: Path) -> dict:
    return {str(p): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def kill_and_check_children(proc: subprocess.Popen, watched: Path) -> list[psutil.Process]:
    """SIGKILL ``proc`` alone (not its group); assert that every descendant it had is gone
    within 5 s and that nothing under ``watched`` changes afterwards. Returns the descendants."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()
    alive = lambda: [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert wait_until(lambda: not alive(), 5.0), f"still running after the parent's SIGKILL: {alive()}"
    before = snapshot(watched)
    time.sleep(0.6)
    assert snapshot(watched) == before, "something still writes after the kill"
    return children


def test_killed_synth_takes_its_workers_with_it(tmp_path):
    out = tmp_path / "factory"
    proc = subprocess.Popen([sys.executable, "-m", "asdlab", "synth", "--preset", "smoke", "--out", str(out),
                             "--jobs", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def busy():  # two render workers up and the first clips written
            kids = psutil.Process(proc.pid).children(recursive=True)
            return len(kids) >= 2 and any(out.rglob("*.wav"))
        assert wait_until(busy, 60.0), "the workers never started"
        children = kill_and_check_children(proc, out)
    finally:
        proc.kill()
    assert len(children) >= 2
    assert (out / ".asdlab_synth.partial.json").is_file() and not (out / ".asdlab_synth.json").exists()


HEARTBEAT = """import os, time
with open(os.environ['HEARTBEAT'], 'a') as fh:
    for _ in range(1200):
        fh.write('.')
        fh.flush()
        time.sleep(0.05)
"""


def test_killed_report_takes_its_notebook_process_and_kernel_with_it(tmp_path, data):
    nbs = write_notebooks(tmp_path / "nbs", {"00_asd_in_one_hour": HEARTBEAT})
    out, beat, tmp = tmp_path / "out", tmp_path / "heartbeat", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, HEARTBEAT=str(beat), TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "asdlab", "report", "--data", str(data), "--preset", "smoke",
                             "--out", str(out), "--methods", "raw_spec", "--jobs", "1", "--notebooks", str(nbs),
                             "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: beat.is_file() and beat.stat().st_size > 2, 60.0), "the kernel never ran"
        children = kill_and_check_children(proc, tmp_path)
    finally:
        proc.kill()
    assert len(children) >= 2  # the notebook process and its kernel (at least)
    report = json.loads((out / "report.json").read_text())
    index = (out / "index.html").read_text()
    assert report["status"] == "running"
    assert "<meta name='asdlab-report-status' content='running'>" in index
    assert f"<meta name='asdlab-report-started' content='{report['started']}'>" in index

    # the next run removes what the killed one left (its temporary folder) and completes
    lines = []
    tempfile.tempdir, old_tempdir = str(tmp), tempfile.tempdir
    try:
        left = sorted(p.name for p in tmp.iterdir())
        assert left and all(re.fullmatch(rf"asdlab-report-{proc.pid}-\w+", n) for n in left), left
        result = run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, notebooks_dir=nbs,
                            log=lines.append, execute=FakeExecutor())
    finally:
        tempfile.tempdir = old_tempdir
    assert result.ok and list(tmp.iterdir()) == []
    removed = [ln for ln in lines if ln.strip().startswith("removed")]
    assert len(removed) == 1 and f"asdlab-report-{proc.pid}-" in removed[0], lines


def _index_state(out: Path):
    """(status, started) that index.html declares, or None when there is none."""
    f = out / "index.html"
    if not f.is_file():
        return None
    text = f.read_text()
    return (re.search(r"asdlab-report-status' content='([^']*)'", text).group(1),
            re.search(r"asdlab-report-started' content='([^']*)'", text).group(1))


def test_a_forced_report_never_leaves_the_previous_index(tmp_path, data):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"
    run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, notebooks_dir=nbs, log=None,
               execute=FakeExecutor())
    first = json.loads((out / "report.json").read_text())
    assert _index_state(out) == ("ok", first["started"]) and "All 3 notebooks ran" in (out / "index.html").read_text()
    time.sleep(1.1)  # a new start time

    seen = []

    class Watching(FakeExecutor):
        """Records what index.html and report.json say while a notebook runs: what a SIGKILL
        at that moment would leave."""

        def __call__(self, spec, env):
            report = json.loads((out / "report.json").read_text())
            seen.append((_index_state(out), report["status"], report["started"]))
            return super().__call__(spec, env)

    run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, force=True, notebooks_dir=nbs,
               log=None, execute=Watching())
    assert len(seen) == 3
    for index, status, started in seen:
        assert started != first["started"] and index == ("running", started)
    page = (out / "index.html").read_text()
    final = json.loads((out / "report.json").read_text())
    assert _index_state(out) == ("ok", final["started"]) and "still running" not in page

    def interrupted(spec, env):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, force=True, notebooks_dir=nbs,
                   log=None, execute=interrupted)
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted" and _index_state(out) == ("interrupted", report["started"])
    assert "This report is interrupted" in (out / "index.html").read_text()


def test_leftovers_of_dead_writers_are_removed_and_a_live_writers_kept(tmp_path, data, monkeypatch):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "out"
    run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, notebooks_dir=nbs, log=None,
               execute=FakeExecutor())
    dead, live = dead_pid(), os.getppid()  # pytest's parent: alive, and not this process
    tmp = tmp_path / "tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    made = {
        "dead_nb": out / f".00_asd_in_one_hour.{dead}.abcd1234.tmp.ipynb",
        "dead_json": out / f".report.json.{dead}.k2j4h5g6.tmp",
        "live_nb": out / f".03_compare_methods.{live}.zzzz9999.tmp.ipynb",
        "old_legacy": out / ".index.html.q1w2e3r4.tmp",
        "new_legacy": out / ".index.html.a1s2d3f4.tmp",
        "dead_dir": tmp / f"asdlab-report-{dead}-x7y8z9" / "runtime" / "kernel-1.json",
        "live_dir": tmp / f"asdlab-report-{live}-abc123" / "spec.json",
    }
    for path in made.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    hour_ago = time.time() - 3600
    os.utime(made["old_legacy"], (hour_ago, hour_ago))

    lines = []
    run_report(data, out, preset="smoke", methods=["raw_spec"], jobs=1, notebooks_dir=nbs, log=lines.append,
               execute=FakeExecutor())
    gone = {k for k, p in made.items() if not p.exists()}
    assert gone == {"dead_nb", "dead_json", "old_legacy", "dead_dir"}
    assert not made["dead_dir"].parent.parent.exists()
    removed = [ln for ln in lines if ln.strip().startswith("removed")]
    assert removed == [f"  removed 4 leftover(s) of an interrupted run: .00_asd_in_one_hour.{dead}.abcd1234.tmp.ipynb, "
                       f".index.html.q1w2e3r4.tmp, .report.json.{dead}.k2j4h5g6.tmp, "
                       f"{tmp}/asdlab-report-{dead}-x7y8z9"], lines


def test_procs_helpers_parse_pids_and_describe_in_one_line(tmp_path, monkeypatch):
    assert writer_pid(".scores.csv.4242.ab_d1234.tmp") == 4242
    assert writer_pid(".01_method_report-ae_mse.17.abcdefgh.tmp.ipynb") == 17
    assert writer_pid(".scores.csv.abcdefgh.tmp") is None
    assert writer_pid("asdlab-report-99-xyz", "asdlab-report-") == 99
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid()) and not pid_alive(0)
    paths = [tmp_path / f".f{i}.1.abcdefgh.tmp" for i in range(7)]
    assert describe_removed(paths, tmp_path, show=2) == \
        "removed 7 leftover(s) of an interrupted run: .f0.1.abcdefgh.tmp, .f1.1.abcdefgh.tmp and 5 more"
    assert remove_leftovers(tmp_path / "absent") == []

    fault_point("anything")  # no $ASDLAB_FAULT_AT: nothing happens
    monkeypatch.setenv("ASDLAB_FAULT_AT", "elsewhere@1")
    fault_point("anything")
    code = "from asdlab.core.procs import fault_point\nfor i in range(5):\n    print(i, flush=True)\n    fault_point('p')\n"
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, ASDLAB_FAULT_AT="p@3"),
                          capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL and done.stdout.split() == ["0", "1", "2"]


@pytest.fixture(name="data")
def _data(tmp_path, make_dcase_tree):
    return make_dcase_tree(tmp_path / "data", machines=["fan"])
