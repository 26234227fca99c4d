"""Fault injection (issue 16): ``asdlab run``, ``asdlab synth`` and ``asdlab report`` are SIGKILLed at
seeded points (the ``$ASDLAB_FAULT_AT`` hook of :func:`asdlab.core.procs.fault_point`), then run
again: the re-run completes, its results are byte-identical to an uninterrupted run (scores.csv,
summary.json less its timestamps, every WAV's md5), and nothing is left behind (``.partial``,
``.tmp``, ``.lock``, ``.old`` files, temporary folders, live processes)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

import asdlab.core.atomic
from asdlab.cli import main
from asdlab.data.synth import generate_dataset
from asdlab.report import run_report
from test_report import write_notebooks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL and /proc: Linux only")

RNG = random.Random(16)
LEFTOVER_SUFFIXES = (".partial", ".tmp", ".tmp.ipynb", ".lock", ".old")


def leftovers(*folders: Path) -> list[str]:
    return sorted(str(p) for f in folders for p in f.rglob("*")
                  if p.name.endswith(LEFTOVER_SUFFIXES) or p.name.startswith("asdlab-report-"))


def killed(args: list[str], fault: str, tmp: Path, tag: str) -> subprocess.CompletedProcess:
    """Run ``python -m asdlab ARGS`` with ``$ASDLAB_FAULT_AT=fault``; assert it was SIGKILLed."""
    env = dict(os.environ, ASDLAB_FAULT_AT=fault, ASDLAB_TEST_TAG=tag, TMPDIR=str(tmp), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "asdlab", *args], env=env, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, (fault, done.returncode, done.stderr[-2000:])
    return done


def live_processes(tag: str) -> list[psutil.Process]:
    """Processes still running with ``ASDLAB_TEST_TAG=tag`` in their environment."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.status() != psutil.STATUS_ZOMBIE and p.environ().get("ASDLAB_TEST_TAG") == tag:
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def wait_gone(tag: str) -> list[psutil.Process]:
    import time

    end = time.monotonic() + 5
    while live_processes(tag) and time.monotonic() < end:
        time.sleep(0.1)
    return live_processes(tag)


def count_atomic_writes(monkeypatch, fn) -> int:
    """How many times ``fn()`` passes the ``atomic_write`` fault point (in this process)."""
    hits = []
    monkeypatch.setattr(asdlab.core.atomic, "fault_point", lambda name: hits.append(name))
    fn()
    monkeypatch.undo()
    return hits.count("atomic_write")


def run_results(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    for key in [k for k in summary if "time" in k or k in ("started", "finished", "duration_s")]:
        summary.pop(key)
    return {"scores.csv": (folder / "scores.csv").read_bytes(), "summary": summary,
            "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))}


@pytest.fixture(name="tiny")
def _tiny(tmp_path, make_dcase_tree):
    return make_dcase_tree(tmp_path / "data", machines=["fan"], seconds=1.0)


def test_killed_run_reruns_to_identical_results(tmp_path, tiny, monkeypatch, capsys):
    def run(out, cache):
        return main(["run", "ae_mse", "--data", str(tiny), "--out", str(out), "--preset", "smoke", "--quiet",
                     "--cache", str(cache)])

    n = count_atomic_writes(monkeypatch, lambda: run(tmp_path / "ref", tmp_path / "cache-ref"))
    reference = run_results(tmp_path / "ref")
    assert n > 5
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for i, k in enumerate(sorted(RNG.sample(range(1, n + 1), 2))):  # two seeded kill points
        out, cache, tag = tmp_path / f"run{i}", tmp_path / f"cache{i}", uuid.uuid4().hex
        killed(["run", "ae_mse", "--data", str(tiny), "--out", str(out), "--preset", "smoke", "--quiet",
                "--cache", str(cache)], f"atomic_write@{k}", tmp, tag)
        assert wait_gone(tag) == []
        assert run(out, cache) == 0, capsys.readouterr().err
        assert run_results(out) == reference, f"killed at atomic write {k} of {n}"
        assert leftovers(tmp_path / f"run{i}", tmp) == [] and not out.with_name(out.name + ".lock").exists()
        # a feature-cache entry whose write was killed is redone by the re-run, which must also
        # remove the dead writer's temporary file (asdlab.core.atomic.atomic_write(..., sweep=True))
        assert leftovers(cache) == [], f"killed at atomic write {k} of {n}"
        assert not out.with_name(out.name + ".partial").exists()


def md5s(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_killed_synth_reruns_to_identical_wavs(tmp_path):
    machines = ["fan", "valve"]
    generate_dataset(tmp_path / "ref", preset="smoke", machines=machines, jobs=1, progress=False)
    reference = md5s(tmp_path / "ref")
    assert sum(k.endswith(".wav") for k in reference) == 70
    out, tmp, tag = tmp_path / "killed", tmp_path / "tmp", uuid.uuid4().hex
    tmp.mkdir()
    k = RNG.randint(1, 70 // 8 - 1)  # after the k-th batch of 8 clips, with two workers busy
    killed(["synth", "--preset", "smoke", "--machines", *machines, "--out", str(out), "--jobs", "2", "--quiet"],
           f"synth.batch@{k}", tmp, tag)
    assert wait_gone(tag) == []
    assert (out / ".asdlab_synth.partial.json").is_file()
    generate_dataset(out, preset="smoke", machines=machines, jobs=2, progress=False)
    assert md5s(out) == reference, f"killed after batch {k}"
    assert leftovers(out, tmp) == [] and not (out / ".asdlab_synth.partial.json").exists()


def test_killed_report_reruns_to_a_complete_report(tmp_path, tiny):
    nbs, out = write_notebooks(tmp_path / "nbs"), tmp_path / "report"
    tmp, tag = tmp_path / "tmp", uuid.uuid4().hex
    tmp.mkdir()
    args = ["report", "--data", str(tiny), "--preset", "smoke", "--out", str(out), "--methods", "raw_spec",
            "--jobs", "1", "--notebooks", str(nbs), "--quiet"]
    killed(args, "report.notebook@1", tmp, tag)  # after the first notebook (tests/test_interrupts.py kills one mid-run)
    assert wait_gone(tag) == []
    first = json.loads((out / "report.json").read_text())
    assert first["status"] == "running" and len(first["notebooks"]) == 1
    assert f"content='{first['started']}'" in (out / "index.html").read_text()

    lines = []
    old, tempfile.tempdir = tempfile.tempdir, str(tmp)
    try:
        result = run_report(tiny, out, preset="smoke", methods=["raw_spec"], jobs=1, notebooks_dir=nbs,
                            log=lines.append)
    finally:
        tempfile.tempdir = old
    assert result.ok, result.report
    report = json.loads((out / "report.json").read_text())
    assert [e["name"] for e in report["notebooks"]] == ["00_asd_in_one_hour", "01_method_report-raw_spec",
                                                        "03_compare_methods"]
    assert [e["executed"] for e in report["notebooks"]].count(False) == 1  # the one that finished is reused
    assert "<meta name='asdlab-report-status' content='ok'>" in (out / "index.html").read_text()
    assert leftovers(out, tmp) == [] and not out.with_name("report.lock").exists()
