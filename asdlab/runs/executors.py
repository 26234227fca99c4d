"""Where a sweep's runs (and a report's notebooks) execute: local processes or a Ray cluster.

An :class:`Executor` has one verb, ``submit(fn, *args) -> concurrent.futures.Future``, plus
``cancel()`` (stop what is queued or running), ``close()``, ``describe()`` (one line) and
``threads`` (CPU threads each task should use). ``fn`` must be a module-level function of an
installed package (it is pickled by reference).

- :class:`LocalExecutor` (``jobs`` processes on this machine, each dying with its parent,
  :func:`asdlab.core.procs.die_with_parent`; a fresh process per task on Python >= 3.11).
- :class:`RayExecutor` (a Ray cluster; ``pip install 'asdlab[cluster]'``): each call is one Ray
  task asking for ``num_cpus`` CPUs and, when the cluster has GPUs, one GPU; a task whose worker
  or node dies is retried once (``max_retries=1``; an error raised by ``fn`` itself is not).
  Every node must run the same asdlab and reach the same paths: the data folder and the sweep
  (or report) folder must be on a file system that every node mounts at the same path (NFS, a
  cluster file system), since each task writes its run folder there itself.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import socket
import sys
import threading
from typing import Callable

from asdlab.core.allocator import tune_allocator
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.core.procs import die_with_parent

CLUSTER_EXTRA = "pip install 'asdlab[cluster]'"


class Executor:
    """Runs module-level functions somewhere and hands back :class:`concurrent.futures.Future` s."""

    threads: int = 1
    """CPU threads each task should use (torch's intra-op threads)."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> concurrent.futures.Future:
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop every task still queued or running (after an interrupt)."""

    def close(self) -> None:
        """Release the processes or the cluster connection."""

    def describe(self) -> str:
        return type(self).__name__

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _init_local_worker(parent_pid: int, threads: int) -> None:
    die_with_parent(parent_pid)
    tune_allocator()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def _call_tuned(fn: Callable, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a Ray worker, after :func:`asdlab.core.allocator.tune_allocator`."""
    tune_allocator()
    return fn(*args, **kwargs)


class LocalExecutor(Executor):
    """``jobs`` worker processes on this machine (spawned, so no state is inherited; each task in
    a fresh process where Python allows, >= 3.11); ``threads``: CPU threads per task (default 1).
    The processes die with this one."""

    def __init__(self, jobs: int = 1, threads: int = 1):
        for name, value in (("jobs", jobs), ("threads", threads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}: must be an integer >= 1")
        self.jobs, self.threads, self._cancelled = jobs, threads, False
        kw = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
        self._pool = concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_local_worker,
            initargs=(os.getpid(), threads), **kw)

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def cancel(self) -> None:
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._cancelled = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.kill()
        for proc in processes:
            proc.join(timeout=5)

    def close(self) -> None:
        self._pool.shutdown(wait=not self._cancelled)

    def describe(self) -> str:
        return f"this machine ({self.jobs} process(es) at a time, {self.threads} thread(s) each)"


def import_ray():
    """The ``ray`` module, or one :class:`ConfigError` line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs the ray package, which is not installed: {CLUSTER_EXTRA}") from None
    return ray


CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """For a ``HOST:PORT`` address: one :class:`AsdlabError` line unless something accepts TCP
    connections there within ``timeout`` seconds (``ray.init`` itself would retry for minutes).
    ``"auto"`` and ``ray://`` addresses are left to Ray."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: give HOST:PORT of the Ray head (the port of `ray start --head "
                          f"--port`, 6379 by default) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise AsdlabError(f"--address {address}: no Ray head answers there ({err.strerror or err}); start one with "
                          f"`ray start --head --port {port}`") from None


class RayExecutor(Executor):
    """Tasks on a Ray cluster, connecting to ``address`` (``"auto"``: the cluster started on this
    machine with ``ray start``; ``"HOST:PORT"``: its head's GCS address).

    ``num_cpus``: CPUs each task asks for, also its torch threads (default 1); ``num_gpus``: GPUs
    each asks for (None: 1 when the cluster has GPUs, else 0); ``max_retries``: re-runs of a task
    whose worker process or node died (default 1). Data and output folders must be on a path that
    every node reaches (see the module doc). Connecting to a cluster that is not there is one
    :class:`AsdlabError` line."""

    def __init__(self, address: str = "auto", num_cpus: int = 1, num_gpus: int | None = None,
                 max_retries: int = 1):
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1:
            raise ConfigError(f"num_cpus={num_cpus!r}: must be an integer >= 1")
        ray = self._ray = import_ray()
        self.address, self.threads, self.max_retries = address, num_cpus, max_retries
        self._own = not ray.is_initialized()
        if self._own:
            check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="WARNING",
                         configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise AsdlabError(f"--address {address}: cannot reach a Ray cluster ({first}); start one with "
                                  f"`ray start --head` (and `ray start --address HEAD:PORT` on the other "
                                  f"machines)") from None
        resources = ray.cluster_resources()
        self.cluster = {k: resources.get(k, 0) for k in ("CPU", "GPU")}
        self.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.num_gpus = (1 if self.cluster["GPU"] > 0 else 0) if num_gpus is None else num_gpus
        self._remote = None  # the Ray remote function, made on the first submit
        self._refs: list = []
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        ray = self._ray
        with self._lock:
            if self._remote is None:
                self._remote = ray.remote(_call_tuned)
            ref = self._remote.options(num_cpus=self.threads, num_gpus=self.num_gpus, max_retries=self.max_retries,
                                       retry_exceptions=False).remote(fn, *args, **kwargs)
            self._refs.append(ref)
        out = concurrent.futures.Future()
        out.set_running_or_notify_cancel()

        def settle(inner: concurrent.futures.Future) -> None:
            try:
                out.set_result(inner.result())
            except BaseException as err:  # the task's own error, not Ray's wrapper
                out.set_exception(self._unwrap(err))
        ref.future().add_done_callback(settle)
        return out

    def _unwrap(self, err: BaseException) -> BaseException:
        exc = self._ray.exceptions
        if isinstance(err, exc.RayTaskError):
            cause = getattr(err, "cause", None)
            return cause if isinstance(cause, BaseException) else AsdlabError(str(err).splitlines()[0])
        if isinstance(err, (exc.WorkerCrashedError, exc.NodeDiedError, exc.LocalRayletDiedError)):
            first = (str(err).strip().splitlines() or [""])[0]
            return AsdlabError(f"its Ray worker died {1 + self.max_retries} time(s) (retried {self.max_retries}): "
                               f"{first}")
        if isinstance(err, exc.TaskCancelledError):
            return AsdlabError("cancelled")
        return err

    def cancel(self) -> None:
        with self._lock:
            refs, self._refs = self._refs, []
        for ref in refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished, or the cluster is gone
                pass

    def close(self) -> None:
        if self._own and self._ray.is_initialized():
            self._ray.shutdown()

    def describe(self) -> str:
        gpu = f", {self.num_gpus} GPU" if self.num_gpus else ""
        return (f"the Ray cluster at {self.address} ({self.nodes} node(s), {self.cluster['CPU']:g} CPU(s), "
                f"{self.cluster['GPU']:g} GPU(s); {self.threads} CPU(s){gpu} per task)")


def make_executor(kind: str = "local", address: str = "auto", jobs: int = 1, threads: int = 1) -> Executor:
    """``kind`` ``"local"`` -> :class:`LocalExecutor` (``jobs``, ``threads``); ``"ray"`` ->
    :class:`RayExecutor` (``address``, ``num_cpus=threads``). Bad counts are one line naming the
    command-line option."""
    for option, value in (("--jobs", jobs), ("--cpus-per-task", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{option} {value!r}: must be an integer >= 1")
    if kind == "local":
        return LocalExecutor(jobs=jobs, threads=threads)
    if kind == "ray":
        return RayExecutor(address=address, num_cpus=threads)
    raise ConfigError(f"--executor {kind!r}: choose local or ray")
