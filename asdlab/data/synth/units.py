"""Physically distinct units of one machine type: the machine IDs of the ``dcase2020`` style.

A unit is what makes two machines of one type sound different although both are normal: its
operating point (speeds, part counts, ..., drawn by the type's model, :meth:`MachineModel.unit`)
and its mounting, the structure-borne path from the machine to the microphone (base plate,
housing, fixing): a few broad resonances and a spectral tilt that colour everything the machine
radiates. Both are drawn from the dataset seed, the machine type and the ID alone, so every clip
of a unit, in any process, sees the same unit.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import numpy as np
import scipy.fft

from asdlab.data.synth import dsp
from asdlab.data.synth.machines import MODELS

UNIT_CODE = 2020
"""Entropy tag of unit draws (keeps them apart from the clip streams of :mod:`.plan`)."""
MOUNT_BAND_HZ = (150.0, 6500.0)
MOUNT_Q = (1.5, 4.0)
MOUNT_GAIN_DB = (-6.0, 6.0)
MOUNT_TILT_DB_PER_OCTAVE = 1.0


@dataclasses.dataclass(frozen=True)
class Mounting:
    """Magnitude response of a unit's mounting: ``1 + sum_i (g_i - 1) * peak_i(f)`` (linear
    gains ``g_i`` from ``gains_db``, resonances at ``freqs_hz`` with quality ``qs``) times a
    tilt of ``tilt_db_per_octave`` around 1 kHz."""

    freqs_hz: tuple[float, ...]
    qs: tuple[float, ...]
    gains_db: tuple[float, ...]
    tilt_db_per_octave: float

    def response(self, freqs: np.ndarray) -> np.ndarray:
        """Magnitude (linear) at ``freqs`` (Hz)."""
        out = np.ones_like(np.asarray(freqs, dtype=np.float64))
        for f0, q, g in zip(self.freqs_hz, self.qs, self.gains_db):
            out += (dsp.db(g) - 1.0) * dsp.peaks(freqs, [f0], q, [1.0])
        return out * dsp.tilt(freqs, self.tilt_db_per_octave)

    def apply(self, x: np.ndarray, sr: int) -> np.ndarray:
        """``x`` ``(n,)`` filtered by :meth:`response` (zero phase, by FFT), rescaled to its
        own RMS, so the mounting colours the sound without changing its level."""
        n = len(x)
        spec = scipy.fft.rfft(x) * self.response(np.fft.rfftfreq(n, 1.0 / sr))
        y = scipy.fft.irfft(spec, n)
        return y * (dsp.rms(x) / max(dsp.rms(y), 1e-12))


def _rngs(seed: int, machine: str, section: str) -> list[np.random.Generator]:
    ss = np.random.SeedSequence([seed, zlib.crc32(machine.encode()), UNIT_CODE, int(section)])
    return [np.random.default_rng(child) for child in ss.spawn(2)]


@functools.lru_cache(maxsize=256)
def unit_attributes(seed: int, machine: str, section: str) -> tuple[tuple[str, str], ...]:
    """The operating point of unit ``section`` (the machine ID) of ``machine``: its model's
    :meth:`~asdlab.data.synth.machines.base.MachineModel.unit` as ``(key, value)`` pairs."""
    return tuple(MODELS[machine].unit(_rngs(seed, machine, section)[0]).items())


@functools.lru_cache(maxsize=256)
def unit_mounting(seed: int, machine: str, section: str, n_modes: int = 4) -> Mounting:
    """The mounting of unit ``section`` of ``machine``: ``n_modes`` resonances log-uniform in
    :data:`MOUNT_BAND_HZ`, quality in :data:`MOUNT_Q`, gains in :data:`MOUNT_GAIN_DB`, tilt
    uniform within +-:data:`MOUNT_TILT_DB_PER_OCTAVE`."""
    rng = _rngs(seed, machine, section)[1]
    lo, hi = np.log(MOUNT_BAND_HZ)
    freqs = np.sort(np.exp(rng.uniform(lo, hi, n_modes)))
    return Mounting(tuple(np.round(freqs, 1)), tuple(np.round(rng.uniform(*MOUNT_Q, n_modes), 2)),
                    tuple(np.round(rng.uniform(*MOUNT_GAIN_DB, n_modes), 2)),
                    round(float(rng.uniform(-1.0, 1.0) * MOUNT_TILT_DB_PER_OCTAVE), 2))
