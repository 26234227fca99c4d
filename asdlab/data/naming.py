"""Parse DCASE Task 2 clip file names (2020-2025).

Accepted styles (only the ``.wav`` extension is matched case-insensitively):

* 2021-2025: ``section_SS_{source,target}_{train,test}_{normal,anomaly}_NNNN[_<attributes>].wav``;
  the attribute part may be missing (2021 test files), ``noAttribute`` (hidden), ``key_value``
  pairs joined by ``_`` (``car_A1_spd_7_mic_1``) or a string that does not split into pairs
  (2021 ``A1Spd28VMic1``, ``strength_1_ambient``).
* anonymised evaluation test files: ``section_SS_NNNN.wav`` (2022-2025) and
  ``section_SS_{source,target}_test_NNNN.wav`` (2021: the domain is told, the label is not).
* DCASE2020: ``{normal,anomaly}_id_XX_NNNNNNNN.wav`` and its anonymised evaluation test
  files ``id_XX_NNNNNNNN.wav``; the machine ID becomes the section.
"""

from __future__ import annotations

import os
import re

from asdlab.core.errors import DataError

HIDDEN = "noAttribute"
RAW_KEY = "value"  # attrs key for an attribute string that is not key_value pairs

_SECTIONED = re.compile(
    r"section_(?P<section>\d{2})_(?P<domain>source|target)_(?P<split>train|test)_"
    r"(?P<label>normal|anomaly)_(?P<index>\d+)(?:_(?P<attributes>.+?))?(?i:\.wav)")
_ANONYMISED = re.compile(r"section_(?P<section>\d{2})_(?P<index>\d+)(?i:\.wav)")
_ANONYMISED_2021 = re.compile(
    r"section_(?P<section>\d{2})_(?P<domain>source|target)_test_(?P<index>\d+)(?i:\.wav)")
_DCASE2020 = re.compile(
    r"(?:(?P<label>normal|anomaly)_)?id_(?P<section>\d{2})_(?P<index>\d+)(?i:\.wav)")

EXPECTED = (
    "section_SS_{source|target}_{train|test}_{normal|anomaly}_NNNN[_<attributes>].wav",
    "section_SS_NNNN.wav (anonymised evaluation test file)",
    "section_SS_{source|target}_test_NNNN.wav (DCASE2021 evaluation test file)",
    "[{normal|anomaly}_]id_XX_NNNNNNNN.wav (DCASE2020)",
)


def parse_attributes(s: str) -> dict[str, str]:
    """Attribute string -> ``{key: value}``.

    ``""`` and ``"noAttribute"`` give ``{}``; ``"car_A1_spd_7"`` gives
    ``{"car": "A1", "spd": "7"}``.
    A string that is not an even number of non-empty tokens with distinct keys (e.g. 2021's
    ``"A1Spd28VMic1"``) is kept whole as ``{"value": s}``.
    """
    if s in ("", HIDDEN):
        return {}
    tokens = s.split("_")
    keys, values = tokens[0::2], tokens[1::2]
    if len(tokens) % 2 or "" in tokens or len(set(keys)) != len(keys):
        return {RAW_KEY: s}
    return dict(zip(keys, values))


def parse_filename(name: str | os.PathLike) -> dict:
    """Fields of a clip name (a basename or a path; only the basename is parsed).

    Returns ``section`` (two-digit str), ``domain``, ``split``, ``label`` (str or ``None`` when the
    name does not tell), ``index`` (int), ``attributes`` (raw string, ``""`` when absent) and
    ``attrs`` (dict from :func:`parse_attributes`). Raises :class:`DataError` for any other name.
    """
    base = os.path.basename(os.fspath(name))
    m = _SECTIONED.fullmatch(base)
    if m:
        raw = m["attributes"] or ""
        return _fields(m, m["domain"], m["split"], m["label"], raw)
    m = _ANONYMISED.fullmatch(base)
    if m:
        return _fields(m, None, "test", None, "")
    m = _ANONYMISED_2021.fullmatch(base)
    if m:
        return _fields(m, m["domain"], "test", None, "")
    m = _DCASE2020.fullmatch(base)
    if m:
        return _fields(m, None, None if m["label"] else "test", m["label"], "")
    raise DataError(f"{name}: file name matches no DCASE naming pattern; expected one of: "
                    + "; ".join(EXPECTED))


def _fields(m: re.Match, domain, split, label, raw: str) -> dict:
    return {"section": m["section"], "domain": domain, "split": split, "label": label,
            "index": int(m["index"]), "attributes": raw, "attrs": parse_attributes(raw)}
