"""One writer per run or report folder: a second process stops at once, in one line naming the
holder, and writes nothing; a killed holder leaves no lock that blocks the next run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from asdlab.cli import main
from asdlab.core.lock import LockedError, folder_lock, lock_path
from asdlab.report import run_report

HOLD = textwrap.dedent("""
    import sys, time
    from asdlab.core.lock import folder_lock
    with folder_lock(sys.argv[1], "run folder"):
        print("held", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    """A second process holding the lock of ``tmp_path / "out"`` until the test ends."""
    target = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield target, proc
    proc.kill()
    proc.wait()


def test_a_second_process_is_refused_with_the_holders_pid_and_host(holder):
    target, proc = holder
    with pytest.raises(LockedError) as err:
        with folder_lock(target, "run folder"):
            pass
    msg = str(err.value)
    assert f"{target}: run folder in use by pid {proc.pid} on host {socket.gethostname()}" in msg
    assert "\n" not in msg


def test_a_killed_holder_leaves_a_lock_file_that_the_next_process_takes_over(holder):
    target, proc = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert lock_path(target).exists()              # the kill left the file behind ...
    with folder_lock(target):                      # ... but no lock: taken over at once
        assert str(os.getpid()) in lock_path(target).read_text()
    assert not lock_path(target).exists()          # a normal release removes it


def test_run_into_a_folder_another_process_writes_exits_2_and_writes_nothing(holder, tmp_path, make_dcase_tree, capsys):
    target, proc = holder
    data = make_dcase_tree(tmp_path / "data", machines={"fan": ""})
    code = main(["run", "ae_mse", "--data", str(data), "--out", str(target), "--preset", "smoke", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"in use by pid {proc.pid}" in err[0]
    assert not target.exists() and not target.with_name("out.partial").exists()


def test_a_second_report_into_the_same_folder_is_refused(holder, tmp_path, make_dcase_tree):
    target, proc = holder
    data = make_dcase_tree(tmp_path / "data", machines={"fan": ""})
    with pytest.raises(LockedError, match=f"pid {proc.pid}"):
        run_report(data, target, preset="smoke", methods=["ae_mse"], log=None)
    assert not target.exists()


def test_with_a_wait_the_second_process_takes_the_lock_when_the_first_lets_go(tmp_path, monkeypatch):
    """Inside a report (``$ASDLAB_LOCK_WAIT``) notebooks that reuse the same finished run wait
    for each other instead of failing."""
    target = tmp_path / "out"
    code = HOLD.replace("time.sleep(120)", "time.sleep(1.0); print('releasing', flush=True)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    monkeypatch.setenv("ASDLAB_LOCK_WAIT", "30")
    with folder_lock(target):                     # waits about 1 s instead of failing
        assert str(os.getpid()) in lock_path(target).read_text()
        assert proc.stdout.readline().strip() == "releasing"   # printed before the holder let go
    proc.wait()
    monkeypatch.setenv("ASDLAB_LOCK_WAIT", "not a number")  # ignored: fail at once
    with folder_lock(target):
        pass


def test_rescore_into_a_folder_another_process_writes_exits_2_and_writes_nothing(holder, tmp_path, capsys):
    target, proc = holder
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text('{"method": "ae_mse", "params": {}, "seed": 0}')
    code = main(["rescore", str(src), "--backend", "mse", "--out", str(target)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{target}: run folder in use by pid {proc.pid}" in err[0]
    assert not target.exists() and not target.with_name("out.partial").exists()
