"""The report's start order: the ready notebook at the head of the longest remaining path first."""

from __future__ import annotations

import heapq

from test_report import FakeExecutor, _data, write_notebooks  # noqa: F401 (the data fixture)

from asdlab.report import run_report
from asdlab.report.plan import Task, build_plan, default_methods
from asdlab.report.schedule import COURSE_SECONDS, estimated_seconds, next_task, remaining_paths
from asdlab.methods import list_methods


def _task(name, after=(), writes=()):
    return Task(name, name, {}, list(after), list(writes), list(writes))


def test_remaining_paths_by_hand():
    # a(10) -> c(100) -> d(5); b(50); e(1) waits for a and b
    tasks = [_task("b"), _task("a"), _task("c", ["a"]), _task("d", ["c"]), _task("e", ["a", "b"])]
    paths = remaining_paths(tasks, {"a": 10, "b": 50, "c": 100, "d": 5, "e": 1})
    assert paths == {"a": 115, "b": 51, "c": 105, "d": 5, "e": 1}


def test_next_task_takes_the_longest_path_then_list_order_and_respects_waits_and_locks():
    tasks = [_task("b"), _task("a", writes=["run"]), _task("c", ["a"]), _task("x", writes=["run"])]
    paths = {"b": 51, "a": 115, "c": 105, "x": 51}
    assert next_task(tasks, set(), set(), paths).name == "a"
    assert next_task(tasks, set(), {"run"}, paths).name == "b"  # a and x hold the run another task writes
    assert next_task([tasks[0], tasks[3]], set(), set(), paths).name == "b"  # a tie: list order
    assert next_task([tasks[2]], set(), set(), paths) is None  # c waits for a
    assert next_task([tasks[2]], {"a"}, set(), paths).name == "c"


def test_estimates_prefer_the_folder_s_own_finished_durations():
    t = _task("04_subclusters")
    assert estimated_seconds(t, {}) == COURSE_SECONDS["04_subclusters"]
    assert estimated_seconds(t, {"04_subclusters": {"status": "ok", "duration_s": 12.5}}) == 12.5
    assert estimated_seconds(t, {"04_subclusters": {"status": "failed", "duration_s": 3.0}}) == 24
    assert estimated_seconds(_task("01_method_report-new_method"), {}) == 200


def _makespan(tasks, seconds, slots=2, pick=None):
    """Two-slot simulation of the runner's loop: start a ready task while a slot is free."""
    t, running, finished, pending = 0.0, [], set(), list(tasks)
    paths = remaining_paths(tasks, seconds)
    while pending or running:
        ready = (pick or next_task)(pending, finished, set(), paths)
        if ready is not None and len(running) < slots:
            pending.remove(ready)
            heapq.heappush(running, (t + seconds[ready.name], ready.name))
            continue
        t, name = heapq.heappop(running)
        finished.add(name)
    return t


def test_the_course_report_plan_ends_within_a_few_seconds_of_its_lower_bound():
    """On the measured course durations, list order idles a slot for minutes at the end (04
    waits for the last pages); the longest-path order ends within a few seconds of the sum over two slots."""
    styles = ("dcase2020",)
    registered = [m.name for m in list_methods()]
    tasks = build_plan(default_methods(registered, styles), styles=styles, style_methods=registered)
    assert {t.name for t in tasks} == set(COURSE_SECONDS)
    seconds = {t.name: COURSE_SECONDS[t.name] for t in tasks}

    def in_list_order(pending, finished, held, paths):
        return next((t for t in pending if all(a in finished for a in t.after)), None)

    assert _makespan(tasks, seconds, pick=in_list_order) == 1215
    assert _makespan(tasks, seconds) == 1179
    assert sum(seconds.values()) / 2 == 1176


def test_the_runner_starts_the_longest_path_first(tmp_path, data):
    """In plan order 00 and ae_mahala's page would come first; sc_noisy_arcmix's page heads the
    longest path (04 and 03 wait for it), so with one slot it starts first, then the rest by
    their remaining paths: ae_mahala's page (33 s + 03's 18 s), 00 (31 s), 04 (24 s), 03."""
    nbs = write_notebooks(tmp_path / "nbs")
    fake = FakeExecutor()
    run_report(data, tmp_path / "out", preset="smoke", methods=["ae_mahala", "sc_noisy_arcmix"], jobs=1,
               notebooks_dir=nbs, log=None, execute=fake)
    assert fake.calls == ["01_method_report-sc_noisy_arcmix", "01_method_report-ae_mahala", "00_asd_in_one_hour",
                          "04_subclusters", "03_compare_methods"]
