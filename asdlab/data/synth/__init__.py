"""The built-in machine-sound factory: a deterministic DCASE-2024-dev-like (or, with
``style="dcase2020"``, DCASE-2020-dev-like) dataset with ground truth.

``generate_dataset(out_dir, preset, seed, ...)`` writes ``out_dir/dev_data/raw/<machine>/
{train,test}/`` with the official file names, ``attributes_00.csv`` for the machine types
whose attributes are public, and ``out_dir/ground_truth/`` (true attributes, anomaly kind and
severity, evaluator-style label and domain files). See ``docs/factory.md``; :func:`asdlab.viz.factory_preview.preview`
shows and plays a normal clip and one clip of each anomaly kind.

Modules: ``dsp`` (signal building blocks), ``machines`` (one sound model per machine type),
``noise`` (factory backgrounds), ``presets``, ``plan`` (clip specs and seeding), ``units``
(the machine IDs of the 2020 style), ``render
(spec -> WAV), ``groundtruth``, ``generate``.
"""

from asdlab.data.synth.generate import MACHINES, MACHINES_2020, STYLE_MACHINES, generate_dataset
from asdlab.data.synth.presets import PRESETS, PRESETS_2020, STYLES, Preset, Preset2020


__all__ = ["MACHINES", "MACHINES_2020", "PRESETS", "PRESETS_2020", "STYLES", "STYLE_MACHINES", "Preset",
           "Preset2020", "generate_dataset"]
