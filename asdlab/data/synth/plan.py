"""The plan of a dataset: one :class:`ClipSpec` per file, computed without rendering audio.

Every random choice is seeded from the dataset seed and the clip's identity, never from the
order in which clips are made, so any subset of clips can be rendered by any process:

- per cell (machine, split, domain, label): a generator seeded with
  ``[seed, crc32(machine), split, domain, label, 0]`` deals the attribute combinations of the
  domain (each used equally often); in anomaly cells it deals the fault kinds (equally often),
  then to each kind's clips the attribute combinations (equally often, so that no kind is tied
  to one operating condition) and severities spread evenly over ``SEVERITY_RANGE`` (one per
  equal-width stratum);
- per clip: ``SeedSequence([seed, crc32(machine), split, domain, label, index])`` spawns four
  independent streams: design (SNR and gain), machine sound, background noise, fault.

The ``dcase2020`` style (:func:`machine_plan_2020`) has one unit per machine ID and no domains:
its clips are "source" clips of their unit (whose attributes, :mod:`.units`, they carry), named
``{normal,anomaly}_id_XX_NNNNNNNN.wav`` (indices from 0 per ID and label, as in 2020) under
``<machine>/{train,test}/``; the clip streams' entropy gains ``[2020, int(ID)]``. Anomaly kinds
and severities are dealt per ID as above.
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib
from pathlib import PurePosixPath

import numpy as np

from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.presets import CELLS, Preset, Preset2020
from asdlab.data.synth.units import unit_attributes

SECTION = "00"
#: severities are spread evenly over this range in every anomaly cell
SEVERITY_RANGE = (0.1, 1.0)
GAIN_SD_DB = 1.0
STYLE_CODE_2020 = 2020
_CODES = {"train": 0, "test": 1, "source": 0, "target": 1, "normal": 0, "anomaly": 1}


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one clip. ``anomaly`` is ``""`` and ``severity`` 0 for normal
    clips; ``snr_db`` is the machine's nominal level over the background's stationary level;
    ``gain_db`` the clip's level offset; ``seconds`` its length."""

    machine: str
    split: str
    domain: str
    label: str
    index: int
    attributes: tuple[tuple[str, str], ...]
    hidden: bool
    anomaly: str
    severity: float
    environment: str
    snr_db: float
    gain_db: float
    seconds: float
    seed: int
    style: str = "dcase2024"
    section: str = SECTION

    @property
    def attribute_string(self) -> str:
        """True attributes as in file names: ``key_value`` pairs joined by ``_``."""
        return "_".join(f"{k}_{v}" for k, v in self.attributes)

    def _name(self, attribute_string: str) -> str:
        if self.style == "dcase2020":
            return f"{self.label}_id_{self.section}_{self.index:08d}.wav"
        return (f"section_{SECTION}_{self.domain}_{self.split}_{self.label}_{self.index:04d}_"
                f"{attribute_string}.wav")

    @property
    def file_name(self) -> str:
        """The published file name (``noAttribute`` for machines with hidden attributes)."""
        return self._name("noAttribute" if self.hidden else self.attribute_string)

    @property
    def true_file_name(self) -> str:
        """The file name with the true attributes, as in the official correspondence files."""
        return self._name(self.attribute_string)

    @property
    def rel_path(self) -> PurePosixPath:
        """Path of the WAV file relative to the dataset root."""
        if self.style == "dcase2020":
            return PurePosixPath(self.machine, self.split, self.file_name)
        return PurePosixPath("dev_data", "raw", self.machine, self.split, self.file_name)

    def streams(self) -> list[np.random.Generator]:
        """The clip's four independent generators: design, machine, noise, fault."""
        entropy = _entropy(self.seed, self.machine, self.split, self.domain, self.label, self.index)
        if self.style == "dcase2020":
            entropy += [STYLE_CODE_2020, int(self.section)]
        ss = np.random.SeedSequence(entropy)
        return [np.random.default_rng(child) for child in ss.spawn(4)]


def _entropy(seed: int, machine: str, split: str, domain: str, label: str, index: int) -> list[int]:
    return [seed, zlib.crc32(machine.encode()), _CODES[split], _CODES[domain], _CODES[label], index]


def _dealt(options: list, count: int, rng: np.random.Generator) -> list:
    """``count`` items from ``options``, each used equally often (within one), in random order
    (none, and no random draw, for ``count`` 0: a cell with fewer clips than fault kinds)."""
    if count == 0:
        return []
    rounds = -(-count // len(options))
    picks = np.concatenate([rng.permutation(len(options)) for _ in range(rounds)])[:count]
    return [options[i] for i in rng.permutation(picks)]


def cell_specs(machine: str, split: str, domain: str, label: str, count: int, seconds: float,
               seed: int, unit: str | None = None) -> list[ClipSpec]:
    """The specs of one cell, indices 1..count; with ``unit`` (a ``dcase2020`` machine ID),
    indices 0..count-1 of that unit, whose attributes every clip carries."""
    model = MODELS[machine]
    entropy = _entropy(seed, machine, split, domain, label, 0)
    if unit is None:
        grid = model.attributes[domain]
        combos = [tuple(zip(grid, values)) for values in itertools.product(*grid.values())]
        extra, first = {}, 1
    else:
        entropy += [STYLE_CODE_2020, int(unit)]
        combos = [unit_attributes(seed, machine, unit)]
        extra, first = {"style": "dcase2020", "section": unit}, 0
    rng = np.random.default_rng(entropy)
    if label == "anomaly":
        kinds = _dealt(list(model.anomaly_kinds), count, rng)
        attributes, severities = [None] * count, np.zeros(count)
        lo, hi = SEVERITY_RANGE
        for kind in model.anomaly_kinds:
            mine = [i for i, k in enumerate(kinds) if k == kind]
            for i, combo in zip(mine, _dealt(combos, len(mine), rng)):
                attributes[i] = combo
            strata = rng.permutation(len(mine)) + rng.uniform(size=len(mine))
            severities[mine] = lo + (hi - lo) * strata / len(mine)
    else:
        attributes, kinds, severities = _dealt(combos, count, rng), [""] * count, np.zeros(count)
    specs = []
    for i in range(count):
        spec = ClipSpec(machine, split, domain, label, i + first, attributes[i], unit is not None or model.hidden,
                        kinds[i], round(float(severities[i]), 3), model.environment[domain], 0.0, 0.0, seconds,
                        seed, **extra)
        design = spec.streams()[0]
        snr = design.uniform(*model.snr_db[domain])
        gain = float(np.clip(design.normal(0.0, GAIN_SD_DB), -2.5 * GAIN_SD_DB, 2.5 * GAIN_SD_DB))
        specs.append(dataclasses.replace(spec, snr_db=round(snr, 2), gain_db=round(gain, 2)))
    return specs


def machine_plan(machine: str, preset: Preset, seed: int) -> list[ClipSpec]:
    """All clip specs of one machine type, cell by cell in file-name order."""
    return [spec for cell in CELLS
            for spec in cell_specs(machine, *cell, preset.count(*cell), preset.seconds, seed)]


CELLS_2020 = (("train", "source", "normal"), ("test", "source", "normal"), ("test", "source", "anomaly"))
"""(split, domain, label) cells of each ``dcase2020`` machine ID, in file-name order."""


def machine_plan_2020(machine: str, preset: Preset2020, seed: int) -> list[ClipSpec]:
    """All clip specs of one machine type in the ``dcase2020`` style: ID by ID, cell by cell."""
    seconds = preset.clip_seconds(machine)
    return [spec for unit in preset.machine_ids(machine)
            for cell, count in zip(CELLS_2020, preset.counts(machine))
            for spec in cell_specs(machine, *cell, count, seconds, seed, unit=unit)]
