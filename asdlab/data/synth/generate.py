"""Write a factory dataset to disk: in parallel, streamed, atomic, resumable, deterministic.

Each WAV is rendered from its :class:`~asdlab.data.synth.plan.ClipSpec` alone and written under a
temporary name then moved into place, by a pool of ``jobs`` processes that receive small
batches of specs; nothing but the plan is held in memory. Output bytes do not depend on
``jobs`` or on the order in which batches finish.

Two marker files in the dataset root record what is there:

- ``.asdlab_synth.partial.json`` while a generation runs (configuration and machine types);
- ``.asdlab_synth.json`` once every file is written (configuration, machine types, file
  count, clip length, sample rate); the partial marker is then removed.

Two styles (``style``): ``"dcase2024"`` (default; ``dev_data/raw/<machine>/``, one section, two
domains) and ``"dcase2020"`` (``<machine>/``, several machine IDs, no domains; see
:mod:`asdlab.data.synth.plan`).

On a new call with the same style, preset, seed and generator version, files already written are
kept and only the missing ones are rendered (an interrupted run is completed; asking for more
machine types extends the dataset); a complete dataset that already holds what is asked is
left untouched. A complete dataset of another configuration is an error unless ``force``; an
interrupted run of another configuration is redone. WAV files in the machine folders that the
plan does not contain (a foreign dataset) are an error unless ``force``. Run one generation
per folder at a time.

Interrupts: the worker processes die with the generating process (Linux ``PR_SET_PDEATHSIG``,
:func:`asdlab.core.procs.die_with_parent`), so a killed generation leaves nothing running; the
temporary files it left (their names carry the writer's pid) are removed by the next call, which
names them in one line on stderr (when ``progress``), and never a live writer's.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import numbers
import os
import shutil
import sys
from pathlib import Path

from tqdm.auto import tqdm

from asdlab.core.errors import DataError
from asdlab.core.atomic import atomic_write_text
from asdlab.core.procs import describe_removed, die_with_parent, fault_point, remove_leftovers
from asdlab.data.synth.groundtruth import TRUTH_DIR, write_machine_truth
from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.plan import ClipSpec, machine_plan, machine_plan_2020
from asdlab.data.synth.presets import PRESETS, PRESETS_2020, STYLES
from asdlab.data.synth.render import SAMPLE_RATE, wav_bytes, write_clip

#: bump whenever the rendered sound or the plan changes: datasets of another version are stale
GENERATOR_VERSION = 2
MARKER = ".asdlab_synth.json"
PARTIAL_MARKER = ".asdlab_synth.partial.json"
MACHINES: tuple[str, ...] = tuple(m for m, model in MODELS.items() if "dcase2024" in model.styles)
"""The machine types of the ``dcase2024`` style, in the order of the 2024 development set."""
MACHINES_2020: tuple[str, ...] = tuple(
    m for m in ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")
    if m in MODELS and "dcase2020" in MODELS[m].styles)
"""The machine types of the ``dcase2020`` style, in the order of the 2020 development set."""
STYLE_MACHINES = {"dcase2024": MACHINES, "dcase2020": MACHINES_2020}
BATCH = 8


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable factory marker ({err}); "
                        f"delete it or pass force=True (--force)") from err


def _config(preset: str, seed: int, style: str = STYLES[0]) -> dict:
    return {"generator": "asdlab.data.synth", "version": GENERATOR_VERSION, "style": style,
            "preset": preset, "seed": seed}


def _same_config(marker: dict, config: dict) -> bool:
    """Markers written before styles existed have no ``style``: they are ``dcase2024``."""
    return all(marker.get(k, STYLES[0] if k == "style" else None) == v for k, v in config.items())


def _describe(marker: dict) -> str:
    return (f"style {marker.get('style', STYLES[0])!r}, preset {marker.get('preset')!r}, seed "
            f"{marker.get('seed')}, generator version {marker.get('version')}, "
            f"machines {', '.join(marker.get('machines', []))}")


def machine_folder(root: Path, machine: str, style: str = STYLES[0]) -> Path:
    """The folder of ``machine`` in a factory dataset of ``style``."""
    return root / machine if style == "dcase2020" else root / "dev_data" / "raw" / machine


def _plan(machine: str, preset: str, seed: int, style: str) -> list[ClipSpec]:
    if style == "dcase2020":
        return machine_plan_2020(machine, PRESETS_2020[preset], seed)
    return machine_plan(machine, PRESETS[preset], seed)


def _remove_dataset(root: Path, machines, style: str) -> None:
    for machine in machines:
        shutil.rmtree(machine_folder(root, machine, style), ignore_errors=True)
    shutil.rmtree(root / TRUTH_DIR, ignore_errors=True)
    for name in (MARKER, PARTIAL_MARKER):
        (root / name).unlink(missing_ok=True)


def _is_written(root: Path, spec: ClipSpec) -> bool:
    path = root / spec.rel_path
    return path.is_file() and path.stat().st_size == wav_bytes(spec)


def _foreign_files(root: Path, plans: dict[str, list[ClipSpec]], style: str) -> list[Path]:
    """WAV files in the requested machines' folders that the plan does not contain."""
    foreign = []
    for machine, specs in plans.items():
        expected = {root / s.rel_path for s in specs}
        folder = machine_folder(root, machine, style)
        foreign += [p for p in sorted(folder.glob("*/*.wav")) if p not in expected]
    return foreign


def _render_batch(root: str, specs: list[ClipSpec]) -> int:
    for spec in specs:
        write_clip(Path(root), spec)
    return len(specs)


def write_clips(root: Path, specs: list[ClipSpec], jobs: int = 1, progress: bool = True) -> None:
    """Render and write ``specs`` under ``root`` with ``jobs`` processes (batches of ``BATCH``
    clips; no markers, no ground truth)."""
    batches = [specs[i:i + BATCH] for i in range(0, len(specs), BATCH)]
    with tqdm(total=len(specs), desc="synth", unit="clip", disable=not progress) as bar:
        if jobs == 1:
            for batch in batches:
                bar.update(_render_batch(str(root), batch))
                fault_point("synth.batch")
            return
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=die_with_parent,
                                                    initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(_render_batch, str(root), b) for b in batches]
            try:
                for done in concurrent.futures.as_completed(futures):
                    bar.update(done.result())
                    fault_point("synth.batch")  # test hook: killed with workers busy
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise


def _check_arguments(preset: str, seed, machines, jobs, style: str = STYLES[0]) -> tuple[int, list[str], int]:
    if style not in STYLES:
        raise DataError(f"unknown factory style {style!r}; choose one of {', '.join(STYLES)}")
    if preset not in PRESETS:
        raise DataError(f"unknown factory preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DataError(f"the factory seed must be a non-negative integer, got {seed!r}")
    known = STYLE_MACHINES[style]
    wanted = list(known) if machines is None else list(machines)
    unknown = sorted(set(wanted) - set(known))
    if unknown or not wanted:
        raise DataError(f"unknown machine type(s) {', '.join(unknown) or '(none given)'} for the {style} "
                        f"style; choose from {', '.join(known)}")
    jobs = (os.cpu_count() or 1) if jobs is None or jobs < 1 else int(jobs)
    return int(seed), [m for m in known if m in wanted], jobs


def generate_dataset(out_dir, preset: str = "course", seed: int = 0, machines=None, jobs: int = 1,
                     force: bool = False, progress: bool = True, style: str = STYLES[0]) -> Path:
    """Generate (or complete) a factory dataset in ``out_dir`` and return its path.

    ``preset``: ``"smoke"``, ``"course"`` or ``"paper"`` (see :data:`asdlab.data.synth.PRESETS`);
    ``seed``: non-negative integer; ``machines``: machine types (default: all of the style,
    :data:`STYLE_MACHINES`); ``style``: ``"dcase2024"`` (default) or ``"dcase2020"``;
    ``jobs``: worker processes (``< 1``: one per CPU); ``force``: replace whatever factory
    dataset or foreign WAV files are in the way; ``progress``: show a progress bar.
    See the module docstring for what happens to existing data.
    """
    seed, machines, jobs = _check_arguments(preset, seed, machines, jobs, style)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: exists and is not a folder; give a folder for the factory dataset")
    config = _config(preset, seed, style)
    complete = _read_json(root / MARKER)
    partial = _read_json(root / PARTIAL_MARKER)
    if force:
        for old in (complete, partial):
            if old is not None:
                _remove_dataset(root, old.get("machines", []), old.get("style", STYLES[0]))
        _remove_dataset(root, machines, style)
        complete = partial = None
    elif complete is not None and not _same_config(complete, config):
        raise DataError(f"{root} already holds a complete factory dataset ({_describe(complete)}); "
                        f"asked for style {style!r}, preset {preset!r}, seed {seed}: "
                        f"choose another folder or pass force=True (--force)")
    elif partial is not None and not _same_config(partial, config):
        _remove_dataset(root, partial.get("machines", []), partial.get("style", STYLES[0]))
        partial = None

    plan = {m: _plan(m, preset, seed, style) for m in machines}
    todo = [s for specs in plan.values() for s in specs if not _is_written(root, s)]
    have = set((complete or {}).get("machines", []))
    if complete is not None and set(machines) <= have and not todo:
        return root
    foreign = _foreign_files(root, plan, style)
    if foreign:
        raise DataError(f"{foreign[0].parent} holds {len(foreign)} WAV file(s) that this factory dataset "
                        f"(style {style!r}, preset {preset!r}, seed {seed}) does not contain, e.g. {foreign[0].name}: "
                        f"choose another folder or pass force=True (--force) to replace them")

    all_machines = [m for m in STYLE_MACHINES[style] if m in have | set(machines)]
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / PARTIAL_MARKER, json.dumps({**config, "machines": all_machines}, indent=2))
    stale = [p for machine in machines for split in sorted(machine_folder(root, machine, style).glob("*/"))
             for p in remove_leftovers(split, legacy_age_s=0)]  # one generation per folder at a time
    if stale and progress:
        print(f"synth: {describe_removed(stale, root)}", file=sys.stderr)
    write_clips(root, todo, jobs, progress)
    for machine, specs in plan.items():
        write_machine_truth(root, machine, specs)
    if style == "dcase2020":
        sizes = {"files": sum(PRESETS_2020[preset].clips(m) for m in all_machines),
                 "clips_per_machine": {m: PRESETS_2020[preset].clips(m) for m in all_machines},
                 "seconds": {m: PRESETS_2020[preset].clip_seconds(m) for m in all_machines}}
    else:
        sizes = {"files": len(all_machines) * PRESETS[preset].clips_per_machine,
                 "clips_per_machine": PRESETS[preset].clips_per_machine, "seconds": PRESETS[preset].seconds}
    marker = {**config, "machines": all_machines, **sizes, "sample_rate": SAMPLE_RATE}
    atomic_write_text(root / MARKER, json.dumps(marker, indent=2))
    (root / PARTIAL_MARKER).unlink(missing_ok=True)
    return root
