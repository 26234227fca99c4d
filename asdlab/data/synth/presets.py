"""Dataset sizes: how many clips of how many seconds each machine type gets, per style.

``dcase2024`` style (:data:`PRESETS`): one section, source and target domains.

=========  ============  ============  =================  =========  ===============
preset     source train  target train  test per cell (*)  clip (s)   clips / machine
=========  ============  ============  =================  =========  ===============
smoke      16            3             4                  2          35
course     120           6             25                 5          226
paper      990           10            50                 10         1200
=========  ============  ============  =================  =========  ===============

(*) a test cell is one of {source, target} x {normal, anomaly}, so the test split has four
times this many clips. ``paper`` has the counts of the DCASE 2024 development set.

``dcase2020`` style (:data:`PRESETS_2020`): several machine IDs per type, no domains; per ID:

=========  ===  =====  ===========  ============  ========
preset     IDs  train  test normal  test anomaly  clip (s)
=========  ===  =====  ===========  ============  ========
smoke      2    8      3            3             2
course     3    50     15           15            5
paper      4    (*)    (*)          (*)           10 (ToyCar 11)
=========  ===  =====  ===========  ============  ========

(*) per type, about the DCASE 2020 development set's counts per ID (:data:`PAPER_2020_COUNTS`);
ToyConveyor has 3 IDs in every preset, as in the 2020 development set.
"""

from __future__ import annotations

import dataclasses

#: (split, domain, label) cells in file-name order
CELLS = (
    ("train", "source", "normal"),
    ("train", "target", "normal"),
    ("test", "source", "normal"),
    ("test", "source", "anomaly"),
    ("test", "target", "normal"),
    ("test", "target", "anomaly"),
)


@dataclasses.dataclass(frozen=True)
class Preset:
    """Clip counts per machine type and clip length in seconds."""

    name: str
    source_train: int
    target_train: int
    test_per_cell: int
    seconds: float

    def count(self, split: str, domain: str, label: str) -> int:
        """Number of clips of one (split, domain, label) cell."""
        if split == "train":
            return self.source_train if domain == "source" else self.target_train
        return self.test_per_cell

    @property
    def clips_per_machine(self) -> int:
        """All clips of one machine type (train and test)."""
        return sum(self.count(*cell) for cell in CELLS)


PRESETS: dict[str, Preset] = {
    "smoke": Preset("smoke", source_train=16, target_train=3, test_per_cell=4, seconds=2.0),
    "course": Preset("course", source_train=120, target_train=6, test_per_cell=25, seconds=5.0),
    "paper": Preset("paper", source_train=990, target_train=10, test_per_cell=50, seconds=10.0),
}

STYLES = ("dcase2024", "dcase2020")
"""Dataset styles of the factory; the first is the default."""

DEV_IDS_2020 = {"ToyCar": ("01", "02", "03", "04"), "ToyConveyor": ("01", "02", "03")}
"""Machine IDs of the DCASE 2020 development set where they are not 00, 02, 04, 06."""
_MIMII_IDS = ("00", "02", "04", "06")

PAPER_2020_COUNTS = {
    "ToyCar": (1000, 250, 365), "ToyConveyor": (1000, 400, 770), "fan": (920, 100, 370),
    "pump": (840, 100, 115), "slider": (700, 100, 220), "valve": (820, 100, 120)}
"""(train normal, test normal, test anomaly) per machine ID of the ``paper`` preset: the 2020
development set's counts per type divided by its IDs, rounded (approximate)."""


@dataclasses.dataclass(frozen=True)
class Preset2020:
    """Clip counts per machine ID and clip length of the ``dcase2020`` style. ``ids``: IDs per
    type (at most the type's development IDs); ``per_machine``: (train, test normal, test
    anomaly) of a type when it differs; ``long_machines``: types recorded for ``long_seconds``."""

    name: str
    ids: int
    train: int
    test_normal: int
    test_anomaly: int
    seconds: float
    per_machine: dict = dataclasses.field(default_factory=dict)
    long_machines: tuple[str, ...] = ()
    long_seconds: float = 0.0

    def machine_ids(self, machine: str) -> tuple[str, ...]:
        """The IDs of ``machine``: the first ``ids`` of its 2020 development IDs."""
        return DEV_IDS_2020.get(machine, _MIMII_IDS)[:self.ids]

    def counts(self, machine: str) -> tuple[int, int, int]:
        """(train normal, test normal, test anomaly) per ID of ``machine``."""
        return self.per_machine.get(machine, (self.train, self.test_normal, self.test_anomaly))

    def clip_seconds(self, machine: str) -> float:
        """Clip length of ``machine`` in seconds."""
        return self.long_seconds if machine in self.long_machines else self.seconds

    def clips(self, machine: str) -> int:
        """All clips of one machine type (every ID, train and test)."""
        return len(self.machine_ids(machine)) * sum(self.counts(machine))


PRESETS_2020: dict[str, Preset2020] = {
    "smoke": Preset2020("smoke", ids=2, train=8, test_normal=3, test_anomaly=3, seconds=2.0),
    "course": Preset2020("course", ids=3, train=50, test_normal=15, test_anomaly=15, seconds=5.0),
    "paper": Preset2020("paper", ids=4, train=0, test_normal=0, test_anomaly=0, seconds=10.0,
                        per_machine=PAPER_2020_COUNTS, long_machines=("ToyCar",), long_seconds=11.0),
}
