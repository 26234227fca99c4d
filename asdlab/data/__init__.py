"""Layer 1: DCASE file names, dataset layouts, audio loading, class labels, the factory
(:mod:`asdlab.data.synth`) and its ground truth.

The clip table
--------------
:func:`build_clip_table` returns a ``pandas.DataFrame`` with one row per WAV file and columns

============  ================================================================================
path          absolute path (str)
file          basename, e.g. ``section_00_source_test_normal_0001_car_A1_spd_7.wav``
dataset       ``"dev_data"``, ``"eval_data"`` or ``""`` for the flat ``<root>/<machine>`` layout
machine       machine type = the folder name, e.g. ``"ToyCar"``
section       two-digit string, ``"00"``; for DCASE2020 names the machine ID (``"02"``)
domain        ``"source"``, ``"target"``, or ``None`` (DCASE2020, 2022+ anonymised eval files)
split         ``"train"`` or ``"test"``
label         ``"normal"``, ``"anomaly"``, or ``None`` (anonymised eval files)
index         the clip counter in the name (int)
folder        the split folder the clip was found in: ``"train"``, ``"test"``, or 2021's
              ``"source_test"`` / ``"target_test"`` (which mark the 2021 protocol)
attributes    raw attribute string (``"car_A1_spd_7"``), ``"noAttribute"`` when hidden,
              ``""`` when the name carries none
attr_<key>    one column per attribute key (strings; ``NaN`` where not given), from the name
              or, when present, from ``attributes_SS.csv`` (which wins)
============  ================================================================================

Rows are sorted by machine, section, split, file.
"""

from asdlab.data.audio import CHANNELS, DEFAULT_CHANNEL, SAMPLE_RATE, check_channel, fix_length, load_clip, read_audio, read_many
from asdlab.data.layout import build_clip_table, find_machine_dirs, read_attributes_csv, summarize
from asdlab.data.naming import parse_attributes, parse_filename

__all__ = ["CHANNELS", "DEFAULT_CHANNEL", "SAMPLE_RATE", "check_channel", "build_clip_table", "find_machine_dirs", "fix_length", "load_clip",
           "parse_attributes", "parse_filename", "read_attributes_csv", "read_audio", "read_many",
           "summarize"]
