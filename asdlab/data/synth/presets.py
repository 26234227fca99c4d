"""Dataset sizes: how many clips of how many seconds each machine type gets.

=========  ============  ============  =================  =========  ===============
preset     source train  target train  test per cell (*)  clip (s)   clips / machine
=========  ============  ============  =================  =========  ===============
smoke      16            3             4                  2          35
course     120           6             25                 5          226
paper      990           10            50                 10         1200
=========  ============  ============  =================  =========  ===============

(*) a test cell is one of {source, target} x {normal, anomaly}, so the test split has four
times this many clips. ``paper`` has the counts of the DCASE 2024 development set.
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
