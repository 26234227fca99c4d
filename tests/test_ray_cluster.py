"""Sweeps and reports on a real Ray cluster: a head and a worker node started on 127.0.0.1 as
separate processes (``ray start --block`` in sessions of their own), stopped in teardown with
nothing left running.

One test function holds the whole story, marked ``serial``: `make test` runs it alone after the
parallel pass, as a loaded 2-core machine can miss Ray's fixed 30 s for a node to register. A
report's notebook runs as a Ray task; a 2-method x 2-seed smoke sweep runs on the cluster while
the worker node's raylet is killed in the middle of a run (the run is retried once, on the head) and gives the same per-clip scores as the local executor.
Skipped only when ``ray`` is not importable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.serial  # `make test` runs it alone, after the parallel pass

from test_report import write_notebooks  # noqa: E402

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(sid: int) -> list[int]:
    """Pids of the live processes in session ``sid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(entry.name))
    return out


def _named(pids, name: str) -> list[int]:
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(pid)
        except OSError:
            pass
    return found


class LocalCluster:
    """``ray start --block`` of a head (``--port P``) and one worker node, 1 CPU each, each in a
    session of its own (so its raylet, GCS and agents can be found and killed), ``--temp-dir``
    a fresh short folder (Unix socket paths are limited to 107 characters)."""

    def __init__(self, env: dict):
        self.temp = Path(tempfile.mkdtemp(prefix="asdray", dir="/tmp"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**env, "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: dict[str, subprocess.Popen] = {}

    def start_node(self, name: str, *args: str, wait: bool = True) -> None:
        log = open(self.temp / f"{name}.log", "w")
        cmd = [str(BIN / "ray"), "start", "--block", "--num-cpus", "1", "--temp-dir", str(self.temp),
               "--node-ip-address", "127.0.0.1", "--object-store-memory", str(80 * 2**20),
               "--disable-usage-stats", "--dashboard-agent-listen-port", str(_free_port()),
               "--dashboard-agent-grpc-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port()),
               "--metrics-export-port", str(_free_port()), *args]
        self.nodes[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True)
        if wait:
            self.wait_started(name)

    def wait_started(self, name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in (self.temp / f"{name}.log").read_text():
            if self.nodes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray {name} node did not start:\n{(self.temp / f'{name}.log').read_text()}")
            time.sleep(0.3)

    def pids(self, name: str) -> list[int]:
        return _session(self.nodes[name].pid)

    def stop(self) -> None:
        for proc in self.nodes.values():  # ray start --block stops its node's processes on SIGTERM
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.nodes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = [p for proc in self.nodes.values() for p in _session(proc.pid)]
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        for proc in self.nodes.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.temp, ignore_errors=True)


START_ATTEMPTS = 3  # Ray gives a node's raylet a fixed 30 s to register; a loaded 2-core CI can miss it


def _start(cluster: LocalCluster) -> None:
    """The head, then the worker once the head's own raylet has registered (starting both at once
    doubles the load on the GCS while each raylet has its fixed 30 s to register)."""
    cluster.start_node("head", "--head", "--port", str(cluster.port), "--include-dashboard=false")
    cluster.start_node("worker", "--address", cluster.address)


def _stop(cluster: LocalCluster) -> None:
    cluster.stop()
    left = [p for proc in cluster.nodes.values() for p in _session(proc.pid)]
    assert left == [], f"Ray processes left running: {left}"


@pytest.fixture(name="cluster")
def _cluster():
    for attempt in range(1, START_ATTEMPTS + 1):
        cluster = LocalCluster(dict(os.environ))  # $ASDLAB_CACHE (conftest) reaches the Ray workers
        try:
            _start(cluster)
            break
        except RuntimeError as e:  # only Ray's own startup timeout is retried, on fresh ports and folders
            _stop(cluster)
            if "timed out during startup" not in str(e) or attempt == START_ATTEMPTS:
                raise
    try:
        yield cluster
    finally:
        _stop(cluster)


def asdlab(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "asdlab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def kill_worker_raylet_during_a_run(cluster: LocalCluster, sweep: Path, proc: subprocess.Popen) -> tuple[str, int]:
    """Wait until a run folder's lock is held by a process of the worker node, then SIGKILL that
    node's raylet and the run's worker process, as when the node dies (a worker killed with its
    raylet only can still finish a short run and hand its result to the driver before it notices).
    Returns (the run folder, relative; the killed run's pid)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        worker = set(cluster.pids("worker"))
        for lock in sweep.glob("*/*/seed*.lock"):
            try:
                pid = json.loads(lock.read_text())["pid"]
            except (OSError, ValueError, KeyError):
                continue
            if pid in worker:
                raylets = _named(worker, "raylet")
                assert raylets, "no raylet on the worker node"
                os.kill(raylets[0], signal.SIGKILL)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return str(lock.relative_to(sweep))[: -len(".lock")], pid
        time.sleep(0.05)
    raise AssertionError(f"no run started on the worker node; sweep output:\n{proc.communicate()[0]}")


def test_sweep_and_report_on_a_local_ray_cluster(tmp_path, cluster):
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "asdlab", "synth", "--preset", "smoke", "--machines", "ToyCar", "fan",
                    "--out", str(data), "--quiet"], check=True, capture_output=True)

    # the reference: a sweep on the local executor, meanwhile
    sweep = ["sweep", "--data", str(data), "--methods", "raw_spec", "ae_mse", "--seeds", "0", "1",
             "--set", "ae_mse.epochs=1", "--preset", "smoke"]
    local = asdlab(*sweep, "--out", str(tmp_path / "local"), "--jobs", "1")

    # a report's notebook runs as a Ray task, with the task's CPU count as its threads
    nbs = write_notebooks(tmp_path / "nbs", {
        "00_asd_in_one_hour": "import os\nprint('in ray task', 'RAY_RAYLET_PID' in os.environ, os.environ['ASDLAB_THREADS'])\n"})
    driver = (f"from asdlab.report import Step, run_report\nfrom asdlab.runs.executors import RayExecutor\n"
              f"with RayExecutor({cluster.address!r}) as ex:\n"
              f"    r = run_report({str(data)!r}, {str(tmp_path / 'report')!r}, preset='smoke', methods=['ae_mse'], "
              f"notebooks_dir={str(nbs)!r}, plan=(Step('00_asd_in_one_hour'),), log=None, executor=ex)\n"
              f"print(r.report['notebooks'][0]['status'])\n")
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr
    executed = (tmp_path / "report" / "00_asd_in_one_hour.ipynb").read_text()
    assert "in ray task True 1" in executed

    # the same sweep on the cluster, killing the worker node in the middle of a run
    on_ray = asdlab(*sweep, "--out", str(tmp_path / "ray"), "--executor", "ray", "--address", cluster.address)
    killed_run, killed_pid = kill_worker_raylet_during_a_run(cluster, tmp_path / "ray", on_ray)
    ray_out = finish(on_ray)
    local_out = finish(local)

    assert "4 run(s) done, 0 finished run(s) skipped, 0 failed" in ray_out
    assert "4 run(s) done" in local_out and "this machine (1 process(es) at a time" in local_out
    assert "the Ray cluster at 127.0.0.1" in ray_out and "2 node(s), 2 CPU(s)" in ray_out
    redone = re.search(rf"ok +{re.escape(killed_run)} \(.*pid (\d+)\)", ray_out)
    assert redone and int(redone.group(1)) != killed_pid, ray_out  # the retry, on the head
    assert not Path(f"/proc/{killed_pid}").exists()
    assert _named(cluster.pids("worker"), "raylet") == []

    runs = sorted(str(p.parent.relative_to(tmp_path / "local")) for p in (tmp_path / "local").glob("*/*/*/summary.json"))
    assert runs == ["ae_mse/epochs=1/seed0", "ae_mse/epochs=1/seed1", "raw_spec/default/seed0", "raw_spec/default/seed1"]
    for run in runs:
        a = pd.read_csv(tmp_path / "local" / run / "scores.csv")
        b = pd.read_csv(tmp_path / "ray" / run / "scores.csv")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (pd.read_csv(tmp_path / "local" / "comparison.csv").equals(pd.read_csv(tmp_path / "ray" / "comparison.csv")))
