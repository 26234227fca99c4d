"""From a :class:`~asdlab.data.synth.plan.ClipSpec` to a 16 kHz mono 16-bit WAV file.

The mix is ``gain * (machine + background * 10**(-snr_db / 20))`` with the machine at about
unit RMS, then scaled to a recording level of ``LEVEL_DBFS`` (RMS, dB full scale) plus the
clip's ``gain_db``, clipped to full scale and rounded to 16-bit integers. In the ``dcase2020``
style the machine sound first passes through its unit's mounting (:mod:`.units`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from asdlab.core.atomic import atomic_write
from asdlab.data.synth import dsp
from asdlab.data.synth.machines import MODELS, Anomaly
from asdlab.data.synth.noise import ENVIRONMENTS
from asdlab.data.synth.plan import ClipSpec
from asdlab.data.synth.units import unit_mounting

SAMPLE_RATE = 16000
LEVEL_DBFS = -26.0
WAV_HEADER_BYTES = 44


def render(spec: ClipSpec, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The clip's waveform: float64 in [-1, 1], ``round(spec.seconds * sr)`` samples."""
    n = round(spec.seconds * sr)
    _, machine_rng, noise_rng, fault_rng = spec.streams()
    anomaly = Anomaly(spec.anomaly, spec.severity) if spec.anomaly else None
    machine = MODELS[spec.machine].sound(dict(spec.attributes), anomaly, machine_rng, fault_rng, n, sr)
    if spec.style == "dcase2020":
        machine = unit_mounting(spec.seed, spec.machine, spec.section).apply(machine, sr)
    background = ENVIRONMENTS[spec.environment].render(noise_rng, n, sr)
    mix = (machine + background * dsp.db(-spec.snr_db)) * dsp.db(LEVEL_DBFS + spec.gain_db)
    return np.clip(mix, -1.0, 1.0)


def to_pcm16(wave: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] -> int16 (round to nearest, saturating)."""
    return np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)


def wav_bytes(spec: ClipSpec, sr: int = SAMPLE_RATE) -> int:
    """Size in bytes of the clip's WAV file (canonical 44-byte header + 2 bytes per sample)."""
    return WAV_HEADER_BYTES + 2 * round(spec.seconds * sr)


def write_clip(root: Path, spec: ClipSpec, sr: int = SAMPLE_RATE) -> Path:
    """Render ``spec`` and write it under ``root`` atomically (temporary name, then
    :func:`os.replace`); returns the path."""
    path = root / spec.rel_path
    pcm = to_pcm16(render(spec, sr))
    atomic_write(path, lambda fh: sf.write(fh, pcm, sr, subtype="PCM_16", format="WAV"))
    return path
