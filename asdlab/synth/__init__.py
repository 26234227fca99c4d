"""The built-in machine-sound factory: a deterministic DCASE-2024-dev-like dataset with ground truth.

``generate_dataset(out_dir, preset, seed, ...)`` writes ``out_dir/dev_data/raw/<machine>/
{train,test}/`` with the official file names, ``attributes_00.csv`` for the machine types
whose attributes are public, and ``out_dir/ground_truth/`` (true attributes, anomaly kind and
severity, evaluator-style label and domain files). ``preview(data_dir, machine)`` shows and
plays a normal clip and one clip of each anomaly kind. See ``docs/factory.md``.

Modules: ``dsp`` (signal building blocks), ``machines`` (one sound model per machine type),
``noise`` (factory backgrounds), ``presets``, ``plan`` (clip specs and seeding), ``render``
(spec -> WAV), ``groundtruth``, ``generate``, ``preview``.
"""

from asdlab.synth.generate import MACHINES, generate_dataset
from asdlab.synth.presets import PRESETS, Preset


def preview(data_dir, machine: str, **kwargs):
    """See :func:`asdlab.synth.preview.preview` (imported on first use: it needs plotly)."""
    from asdlab.synth.preview import preview as _preview

    return _preview(data_dir, machine, **kwargs)


__all__ = ["MACHINES", "PRESETS", "Preset", "generate_dataset", "preview"]
