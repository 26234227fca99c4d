"""Classification targets for the auxiliary-classification methods.

The class of a clip is ``machine/section/attributes`` when the file name carries its attributes,
and ``machine/section`` when they are hidden (``noAttribute``) or absent. That is what the
DCASE 2023-2024 systems train on; later methods add pseudo labels for the hidden ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HIDDEN = "noAttribute"


def class_name(machine: str, section: str, attributes: str | None) -> str:
    """``"fan/00/m-n_W"`` or ``"gearbox/00"`` when attributes are hidden or empty."""
    if attributes and attributes != HIDDEN:
        return f"{machine}/{section}/{attributes}"
    return f"{machine}/{section}"


def class_names(table: pd.DataFrame) -> pd.Series:
    """The class of every row of a clip table (see :func:`class_name`)."""
    attrs = table["attributes"].fillna("")
    return pd.Series([class_name(m, s, a) for m, s, a in zip(table["machine"], table["section"], attrs)],
                     index=table.index, name="class")


def encode_classes(train: pd.DataFrame, others: pd.DataFrame | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Classes seen in ``train`` (sorted) and the class index of every row of ``train`` and
    ``others``; a row of ``others`` whose class never occurs in training (anonymised evaluation
    files, unseen attribute combinations) gets -1."""
    names = sorted(set(class_names(train)))
    index = {c: i for i, c in enumerate(names)}
    tr = class_names(train).map(index).to_numpy(dtype=np.int64)
    ot = np.array([], dtype=np.int64) if others is None else \
        class_names(others).map(lambda c: index.get(c, -1)).to_numpy(dtype=np.int64)
    return names, tr, ot
