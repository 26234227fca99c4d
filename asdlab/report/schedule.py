"""Which ready notebook a report starts next: the one at the head of the longest remaining path.

Starting ready notebooks in plan order left a slot idle at the end of the course report: 04
(about 6 min) became ready only after the last method page, because the pages it reads came
last. Ordering by the longest chain of estimated seconds still to run from each task (the task
itself plus its longest chain of dependents) starts those pages and 02 early; on the course
report's measured durations the two-slot schedule shrinks from 1775 to 1594 s (the sum of the
notebooks over two slots is 1593 s). Only the order changes, never what runs.
"""

from __future__ import annotations

from asdlab.report.plan import Task

COURSE_SECONDS: dict[str, float] = {
    "00_asd_in_one_hour": 31, "02_noisy_arcmix_angles": 792, "03_compare_methods": 18,
    "04_subclusters": 24, "05_pseudo_labels": 22,
    "01_method_report-ae_mse": 253, "01_method_report-ae_mahala": 33,
    "01_method_report-contrastive_ae_cnn": 213, "01_method_report-guided_clustering": 236,
    "01_method_report-raw_spec": 30, "01_method_report-sc_adacos": 215,
    "01_method_report-sc_noisy_arcmix": 135, "01_method_report-stgram_arcface": 170,
    "01_method_report-tastgram_noisy_arcmix": 180,
}
"""Seconds of each notebook in the `course` report timed on a fresh clone (2 slots, 1 thread
each; issue 13's stop 13 note, code of ``1cedc12``). Used only to order the start of notebooks that have not run in
this report folder before; a report folder's own previous durations take precedence."""

DEFAULT_SECONDS = 200.0
"""The estimate of a notebook neither measured above nor run before (a method page that trains)."""


def estimated_seconds(task: Task, previous: dict[str, dict]) -> float:
    """Seconds ``task`` is expected to take: its ``duration_s`` in ``previous`` (the report
    folder's last ``report.json`` entries, by name) when it ran there to the end, else
    :data:`COURSE_SECONDS`, else :data:`DEFAULT_SECONDS`."""
    entry = previous.get(task.name) or {}
    if entry.get("status") == "ok" and entry.get("duration_s"):
        return float(entry["duration_s"])
    return float(COURSE_SECONDS.get(task.name, DEFAULT_SECONDS))


def remaining_paths(tasks: list[Task], seconds: dict[str, float]) -> dict[str, float]:
    """Per task name: its seconds plus the longest chain of seconds of the tasks that wait for
    it, directly or not (``after``). ``tasks`` must form no cycle (:func:`build_plan`'s never do)."""
    waiting: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for a in t.after:
            if a in waiting:
                waiting[a].append(t.name)
    memo: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in memo:
            memo[name] = seconds[name] + max((path(w) for w in waiting[name]), default=0.0)
        return memo[name]

    return {t.name: path(t.name) for t in tasks}


def next_task(pending: list[Task], finished: set[str], held: set[str],
              paths: dict[str, float]) -> Task | None:
    """The ready task of ``pending`` (all its ``after`` in ``finished``, no lock in ``held``)
    with the longest remaining path; ties go to the earlier one in ``pending``. None if none is ready."""
    ready = [t for t in pending if all(a in finished for a in t.after) and not t.locks & held]
    return max(ready, key=lambda t: paths[t.name], default=None)
