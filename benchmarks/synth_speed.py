"""How fast does the factory make ``paper`` clips (10 s, 16 kHz) with one and two processes?

Renders and writes a stratified subset of the ``paper`` plan (``--per-machine`` clips of each
of the 7 machine types, spread over all cells) into a temporary folder, once with ``jobs=1``
and once with ``jobs=2``, and prints clips per second, the speed-up and the projected time of
the whole ``paper`` dataset (8400 clips). Then renders one 10 s clip of each unit-based machine model
(the ``dcase2020`` style's; normal and each anomaly kind, the fastest of them) and prints its milliseconds and
its ratio to the median model of the same run (formerly a test's fixed 0.3 s bound)::

    python benchmarks/synth_speed.py [--per-machine 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from asdlab.data.synth import MACHINES, PRESETS
from asdlab.data.synth.generate import MODELS, write_clips
from asdlab.data.synth.machines.base import Anomaly
from asdlab.data.synth.plan import machine_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-machine", type=int, default=40, help="clips per machine type")
    args = parser.parse_args()
    preset = PRESETS["paper"]
    step = preset.clips_per_machine // args.per_machine
    specs = [s for m in MACHINES for s in machine_plan(m, preset, seed=0)[::step][:args.per_machine]]
    rates = {}
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory(prefix="asdlab_speed_") as tmp:
            t0 = time.perf_counter()
            write_clips(Path(tmp), specs, jobs=jobs, progress=False)
            rates[jobs] = len(specs) / (time.perf_counter() - t0)
        total = preset.clips_per_machine * len(MACHINES)
        print(f"jobs={jobs}: {rates[jobs]:.1f} clips/s ({len(specs)} clips of {preset.seconds:g} s); "
              f"whole paper preset ({total} clips): about {total / rates[jobs] / 60:.1f} min")
    print(f"speed-up jobs=2 / jobs=1: {rates[2] / rates[1]:.2f}")
    render_times()


def render_times(sr: int = 16000, seconds: float = 10.0) -> None:
    """Per ``dcase2020``-style machine model: the fastest render of one clip of a unit (normal or
    any anomaly kind), in ms."""
    best = {}
    for name, model in MODELS.items():
        if "dcase2020" not in model.styles:
            continue
        attrs = model.unit(np.random.default_rng(0))
        times = []
        for kind in (None, *model.anomaly_kinds):
            t0 = time.perf_counter()
            model.sound(attrs, Anomaly(kind, 1.0) if kind else None, np.random.default_rng(5),
                        np.random.default_rng(6), int(seconds * sr), sr)
            times.append(time.perf_counter() - t0)
        best[name] = min(times)
    median = float(np.median(list(best.values())))
    for name, t in best.items():
        print(f"{name}: {1e3 * t:.0f} ms per {seconds:g} s clip, {t / median:.2f} x the median model")


if __name__ == "__main__":
    main()
