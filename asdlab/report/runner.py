"""``asdlab report``: execute the plan's notebooks into one report folder.

``run_report(data, "reports/NAME", preset=...)`` writes, in ``reports/NAME/``:

- ``<name>.ipynb`` and ``<name>.html`` per notebook (executed copy with the parameters
  papermill injected; standalone HTML with offline plotly figures),
- ``runs/``: the run folders the notebooks train or reuse (``runs_dir`` of every notebook),
- ``report.json``: parameters, data fingerprint, and per notebook its status, input
  fingerprint and times (updated after every notebook),
- ``index.html``: links to every notebook with status and duration, and the comparison table.

Each notebook runs in its own process (:mod:`asdlab.report.worker`), ``jobs`` at a time, with
``$ASDLAB_THREADS`` (and the BLAS thread variables) set to ``cpu_count // jobs``; with an
``executor`` (``asdlab report --executor ray``) that process runs as one of its tasks, on any node of
the cluster, with the task's CPU count as its threads. A notebook is
skipped when its inputs did not change: its source text, parameters, the data fingerprint, the
asdlab version, and the ``config.json`` + ``summary.json`` of the run folders it writes or reads.
``seeds=[0, 1, 2]`` adds training seeds: every notebook works on the first seed's runs (as with
``seed``), and the comparison notebook trains each method's further seeds into
``runs/seed<s>/<method>`` and shows mean ± sd over the seeds (:mod:`asdlab.runs.seeds`); the
seeds are part of the report's identity. ``force`` re-executes every notebook, but the
notebooks still reuse run folders whose configuration matches (delete ``runs/`` to retrain).
Run folders made by older code whose method's parameters have since changed
(:func:`asdlab.runs.folder.stale_runs`) are removed first, so their notebooks retrain them.
Other changes to the asdlab code under an unchanged version number are not detected.

Interrupts: the notebook processes die with ``asdlab report`` and their kernels with them
(:func:`asdlab.core.procs.die_with_parent`; they also stay in its process group). ``index.html``
always matches ``report.json``: both say "running" until the end (a killed run leaves them so),
the comparison table comes last. Temporary files and folders carry their owner's pid; the next
run removes those of dead owners and says so in one line.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import asdlab
from asdlab.core.atomic import atomic_write_text
from asdlab.core.lock import WAIT_ENV, folder_lock
from asdlab.core.procs import describe_removed, fault_point, remove_leftovers, temp_prefix
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.report.index import write_index, write_status_index
from asdlab.report.plan import PLAN, Step, Task, build_plan, check_parameters, default_methods, read_notebook
from asdlab.report.schedule import estimated_seconds, next_task, remaining_paths

REPORT_FILE = "report.json"
INDEX_FILE = "index.html"
RUNS_DIR = "runs"
TEMP_PREFIX = "asdlab-report-"
"""Temporary folders of the notebook processes: ``<tempdir>/asdlab-report-<pid of asdlab report>-*``."""
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Set to the same count as ``$ASDLAB_THREADS`` for the kernels unless already set."""


class ReportExistsError(AsdlabError):
    """The report folder was made for other data, preset or seeds (or is not a report)."""


@dataclasses.dataclass
class ReportResult:
    """Outcome of :func:`run_report`: the report folder ``out``, its ``report`` dict (the content
    of ``report.json``), the names of the notebooks ``executed`` now and of those ``failed``."""

    out: Path
    report: dict
    executed: list[str]
    failed: list[str]

    @property
    def ok(self) -> bool:
        return not self.failed


def default_notebooks_dir() -> Path:
    """``notebooks/`` next to the ``asdlab`` package (the project checkout)."""
    return Path(asdlab.__file__).resolve().parent.parent / "notebooks"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def runs_state(runs_dir: Path, methods: list[str]) -> dict:
    """``{method: {"config": text|None, "summary": text|None}}`` of the run folders."""
    def text(p: Path):
        return p.read_text() if p.is_file() else None
    return {m: {"config": text(runs_dir / m / "config.json"), "summary": text(runs_dir / m / "summary.json")}
            for m in methods}


def execute_in_process(spec: dict, env: dict) -> dict:
    """Run :mod:`asdlab.report.worker` on ``spec`` in a new Python process with ``env``;
    returns its ``{"status", "error"}`` (a failed status when the process died). The process
    dies with this one; its kernel's connection file and whatever else it puts in ``$TMPDIR``
    go to its temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
        spec = {**spec, "result": str(Path(tmp) / "result.json"), "parent_pid": os.getpid()}
        env = {**env, "JUPYTER_RUNTIME_DIR": str(Path(tmp) / "runtime"), "TMPDIR": tmp}
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        with _LIVE_LOCK:
            if _STOPPING.is_set():
                return {"status": "failed", "error": "interrupted before it started"}
            proc = subprocess.Popen([sys.executable, "-m", "asdlab.report.worker", str(spec_file)], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            _LIVE.add(proc)
        try:
            output, _ = proc.communicate()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
        result = Path(spec["result"])
        if result.is_file():
            return json.loads(result.read_text())
        tail = "\n".join(output.strip().splitlines()[-15:])
        return {"status": "failed", "error": f"notebook process exited with status {proc.returncode}: {tail}"}


def execute_on(executor, spec: dict, env: dict) -> dict:
    """:func:`execute_in_process` as a task of ``executor`` (:mod:`asdlab.runs.executors`), which
    may run it on another machine: that machine's environment plus this one's ``ASDLAB_*`` and
    thread variables (:func:`execute_with_env`)."""
    own = {k: v for k, v in env.items() if k.startswith("ASDLAB_") or k in THREAD_VARS}
    return executor.submit(execute_with_env, spec, own).result()


def execute_with_env(spec: dict, env: dict) -> dict:
    """:func:`execute_in_process` with this process's environment updated by ``env``."""
    return execute_in_process(spec, {**os.environ, **env})


_LIVE: set = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _stop_live() -> None:
    """Stop the notebook processes still running (after an interrupt): SIGINT first, which
    papermill answers by shutting its kernel down, then SIGTERM, then SIGKILL."""
    with _LIVE_LOCK:
        _STOPPING.set()
        procs = list(_LIVE)
    for stop in (lambda p: p.send_signal(signal.SIGINT), lambda p: p.terminate(), lambda p: p.kill()):
        for p in procs:
            if p.poll() is None:
                stop(p)
        deadline = time.time() + 5
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass


def _check_identity(out: Path, identity: dict, force: bool) -> dict | None:
    """The previous report.json when it matches ``identity`` (else None with ``force``); a
    :class:`ReportExistsError` when the folder belongs to something else and not ``force``."""
    report_file = out / REPORT_FILE
    if report_file.is_file():
        try:
            old = json.loads(report_file.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None:
            was_id = dict(old.get("identity", {}))
            was_id.setdefault("seeds", [was_id.get("seed")])  # reports made before --seeds: one seed
            # a style's dataset added to a report that had none: its notebooks' runs are new
            diff = [k for k in identity if was_id.get(k) != identity[k]
                    and not (k.startswith(("data_dcase", "data_fingerprint_")) and k not in was_id)]
            if not diff:
                return old
            if force:
                return None
            was = ", ".join(f"{k}={was_id.get(k)!r}" for k in diff)
            redo = (f"pass --force to redo it there (after deleting {out / RUNS_DIR}: the notebooks "
                    f"refuse to replace runs made for other data)")
            if diff == ["seeds"]:  # same data, preset and first seed: the shared seeds' runs fit
                redo = "pass --force to redo it there (the runs of the seeds both share are reused)"
            raise ReportExistsError(f"{out} holds a report made for {was}, not for "
                                    f"{', '.join(f'{k}={identity[k]!r}' for k in diff)}; choose another "
                                    f"--out, or {redo}")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_FILE).is_file() and not force:
        raise ReportExistsError(f"{out} is not empty and holds no {REPORT_FILE}; choose another "
                                f"--out or pass --force to write the report there")
    return None


def _holding_the_report_lock(fn):
    """``fn(data, out, ...)`` run while holding the lock of the report folder ``out``
    (:func:`asdlab.core.lock.folder_lock`): a second report into it stops at once, naming the holder."""
    @functools.wraps(fn)
    def locked(data, out, *args, **kwargs):
        with folder_lock(Path(out).expanduser().resolve(), "report folder"):
            return fn(data, out, *args, **kwargs)
    return locked


@_holding_the_report_lock
def run_report(data: str | os.PathLike, out: str | os.PathLike, preset: str = "course",
               methods: list[str] | None = None, jobs: int = 2, force: bool = False,
               seed: int | None = None, seeds: list[int] | None = None,
               notebooks_dir: str | os.PathLike | None = None, plan: tuple[Step, ...] = PLAN,
               log: Callable[[str], None] | None = print,
               execute: Callable[[dict, dict], dict] = execute_in_process,
               data_2020: str | os.PathLike | None = None, executor=None) -> ReportResult:
    """Execute the notebooks of ``plan`` for ``methods`` on the dataset ``data`` into ``out``.

    ``data_2020``: a ``dcase2020``-style dataset (several machine IDs per type, e.g. ``asdlab
    synth --style dcase2020``); the plan's steps of that style (notebook 02, the paper's setting)
    then run on it, with their runs in ``out/runs/dcase2020/``. Without it they run on ``data``.

    ``methods``: default every registered method (with ``data_2020``, less the Figure 1 losses
    CE / linear CE / ArcFace / ArcMix, whose runs notebook 02 then trains on those data; named
    ``methods`` apply to every notebook); ``jobs``: notebooks at once (>= 1);
    ``seed``: the training seed (default 0), or ``seeds``: several (not both; the first one plays
    ``seed``'s part, the comparison notebook trains and averages them all);
    ``notebooks_dir``: where ``<notebook>.py`` files are (default :func:`default_notebooks_dir`);
    ``log``: progress lines (None: silent); ``execute(spec, env)``: runs one notebook (see
    :mod:`asdlab.report.worker`; replaceable in tests); ``executor``: an
    :class:`asdlab.runs.executors.Executor` (e.g. ``RayExecutor``) on which each notebook's process
    runs instead (:func:`execute_on`; its tasks' ``threads`` become ``$ASDLAB_THREADS``; the data and
    report folders must be on a path every node reaches). Every parameter and notebook is checked
    before anything runs (:class:`ConfigError`); a report folder made for other data, preset or
    seeds is refused unless ``force``. A failing notebook does not stop the others: it is listed
    in ``result.failed``.
    """
    from asdlab.data import build_clip_table
    from asdlab.methods import PRESETS, get_method, list_methods
    from asdlab.runs import data_fingerprint
    from asdlab.runs.seeds import check_seeds

    say = log or (lambda _msg: None)
    if preset not in PRESETS:
        raise ConfigError(f"preset {preset!r}: must be one of {', '.join(PRESETS)}")
    if seed is not None and seeds is not None:
        raise ConfigError(f"seed={seed!r} and seeds={seeds!r} together: give the seeds with seeds "
                          f"only (its first one is the report's main seed)")
    if seeds is None:
        seed = 0 if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed={seed!r}: must be a non-negative integer")
        seeds = [seed]
    seeds = check_seeds(seeds)
    seed = seeds[0]
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs={jobs!r}: must be an integer >= 1")
    data = Path(data).expanduser().resolve()
    if not data.is_dir():
        raise ConfigError(f"--data {data}: no such folder")
    extra = {}
    if data_2020 is not None:
        extra["dcase2020"] = Path(data_2020).expanduser().resolve()
        if not extra["dcase2020"].is_dir():
            raise ConfigError(f"--data-2020 {extra['dcase2020']}: no such folder")
    style_methods = None
    if methods is None:
        style_methods = [m.name for m in list_methods()]
        methods = default_methods(style_methods, tuple(extra))
    methods = list(dict.fromkeys(get_method(m).name for m in methods))
    if not methods:
        raise ConfigError("no methods selected")
    nb_dir = Path(notebooks_dir or default_notebooks_dir()).resolve()
    out = Path(out).expanduser().resolve()
    runs_dir = out / RUNS_DIR

    identity = {"data": str(data), "data_fingerprint": data_fingerprint(build_clip_table(data)["path"]),
                "preset": preset, "seed": seed, "seeds": seeds}
    for style, folder in extra.items():
        identity[f"data_{style}"] = str(folder)
        identity[f"data_fingerprint_{style}"] = data_fingerprint(build_clip_table(folder)["path"])
    tasks = build_plan(methods, plan, seeds=seeds, styles=tuple(extra), style_methods=style_methods)
    common = {"preset": preset, "data_dir": str(data), "runs_dir": str(runs_dir), "seed": seed,
              "interactive": False}
    sources, static = {}, {}
    for task in tasks:
        src = nb_dir / f"{task.notebook}.py"
        if task.notebook not in sources:
            nb = read_notebook(src)
            sources[task.notebook] = (src, src.read_text(encoding="utf-8"), nb)
        params = {**common, **task.params}
        if task.style is not None:
            params.update(data_dir=str(extra[task.style]), runs_dir=str(runs_dir / task.style))
        check_parameters(sources[task.notebook][2], params, str(src))
        task.params = params
        static[task.name] = {"source": sources[task.notebook][1], "params": params,
                             "data_fingerprint": identity["data_fingerprint" + (f"_{task.style}" if task.style else "")],
                             "asdlab_version": asdlab.__version__}
    old = _check_identity(out, identity, force)
    previous = {} if (old is None or force) else {e["name"]: e for e in old.get("notebooks", [])}

    parallel = max(1, min(jobs, len(tasks)))
    threads = max(1, (os.cpu_count() or 1) // parallel) if executor is None else executor.threads
    if executor is not None:
        execute = functools.partial(execute_on, executor)
    # notebooks may reuse one finished run at the same moment: wait for each other's run locks
    env = dict(os.environ, ASDLAB_THREADS=str(threads), **{WAIT_ENV: "3600"})
    for var in THREAD_VARS:
        env.setdefault(var, str(threads))
    started = time.time()
    report = {"asdlab_version": asdlab.__version__, "identity": identity,
              "parameters": {"data": str(data), **{f"data_{k}": str(v) for k, v in extra.items()},
                             "preset": preset, "seed": seed, "seeds": seeds,
                             "methods": methods, "jobs": jobs, "force": force, "threads": threads,
                             "notebooks_dir": str(nb_dir), "runs_dir": str(runs_dir)},
              "data_fingerprint": identity["data_fingerprint"], "status": "running",
              "started": _now(), "finished": None, "duration_s": None, "notebooks": []}
    entries: dict[str, dict] = {}

    def save(final: bool = False) -> None:  # earlier results of notebooks not reached yet stay on record
        report["notebooks"] = [entries.get(t.name) or previous[t.name] for t in tasks
                               if t.name in entries or t.name in previous]
        (out / INDEX_FILE).unlink(missing_ok=True)  # never an index.html of another report.json
        atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2) + "\n")
        if not final:
            write_status_index(out, report)

    out.mkdir(parents=True, exist_ok=True)
    leftovers = remove_leftovers(out) + remove_leftovers(tempfile.gettempdir(), folder_prefix=TEMP_PREFIX)
    if leftovers:
        say(f"  {describe_removed(leftovers, out)}")
    from asdlab.runs.folder import stale_runs

    for folder in stale_runs(runs_dir):  # made by older code: the notebooks retrain them
        say(f"  removed {folder.relative_to(out)} (its method's parameters changed since it was made)")
        shutil.rmtree(folder)
    save()
    say(f"report {out}: {len(tasks)} notebook(s), up to {parallel} at a time, {threads} thread(s) each")

    def fingerprint(task: Task) -> str:
        return _hash({**static[task.name], "runs": runs_state(runs_dir, task.runs)})

    def reusable(task: Task) -> dict | None:
        prev = previous.get(task.name)
        if (prev and prev.get("status") == "ok" and prev.get("input_fingerprint") == fingerprint(task)
                and (out / prev["ipynb"]).is_file() and (out / prev["html"]).is_file()):
            return {**prev, "executed": False}
        return None

    def run_one(task: Task) -> dict:
        fd, tmp = tempfile.mkstemp(dir=out, prefix=temp_prefix(task.name), suffix=".tmp.ipynb")
        os.close(fd)
        os.unlink(tmp)
        spec = {"source": str(sources[task.notebook][0]), "name": task.name, "params": task.params,
                "cwd": str(nb_dir), "tmp_ipynb": tmp, "ipynb": str(out / f"{task.name}.ipynb"),
                "html": str(out / f"{task.name}.html")}
        t0, begun = time.time(), _now()
        try:
            result = execute(spec, env)
        except Exception as err:  # a broken executor must not stop the other notebooks
            result = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        finally:
            Path(tmp).unlink(missing_ok=True)
        return {"name": task.name, "notebook": task.notebook, "source": spec["source"],
                "parameters": task.params, "status": result["status"], "error": result.get("error"),
                "input_fingerprint": fingerprint(task), "started": begun, "finished": _now(),
                "duration_s": round(time.time() - t0, 2), "executed": True,
                "ipynb": f"{task.name}.ipynb", "html": f"{task.name}.html"}

    pending, finished = list(tasks), set()
    paths = remaining_paths(tasks, {t.name: estimated_seconds(t, previous) for t in tasks})
    running: dict = {}
    pool = ThreadPoolExecutor(max_workers=jobs)
    _STOPPING.clear()
    try:
        while pending or running:
            held = set().union(*(t.locks for t in running.values()))
            ready = next_task(pending, finished, held, paths)
            if ready is not None and len(running) < jobs:
                pending.remove(ready)
                entry = reusable(ready)
                if entry is not None:
                    entries[ready.name] = entry
                    finished.add(ready.name)
                    say(f"  reused  {ready.name} (inputs unchanged)")
                    save()
                else:
                    say(f"  start   {ready.name}")
                    running[pool.submit(run_one, ready)] = ready
                continue
            if not running:  # cannot happen with a plan built by build_plan
                raise RuntimeError(f"report plan cannot proceed: {[t.name for t in pending]} wait "
                                   f"for notebooks that are not in the plan")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                entry = entries[task.name] = fut.result()
                finished.add(task.name)
                if entry["status"] == "ok":
                    say(f"  ok      {task.name} ({entry['duration_s']:.1f} s)")
                else:
                    say(f"  FAILED  {task.name} ({entry['duration_s']:.1f} s): {entry['error']}")
                save()
                fault_point("report.notebook")  # test hook: killed between notebooks
    except BaseException:
        _stop_live()
        if executor is not None:
            executor.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        report["status"] = "interrupted"
        save()
        raise
    pool.shutdown()

    failed = [e["name"] for e in report["notebooks"] if e["status"] != "ok"]
    report.update(status="failed" if failed else "ok", finished=_now(),
                  duration_s=round(time.time() - started, 2))
    save(final=True)
    write_index(out, report, methods)
    return ReportResult(out=out, report=report, failed=failed,
                        executed=[e["name"] for e in report["notebooks"] if e["executed"]])
