"""Factory background noise: a stationary bed plus transient events, per environment.

The stationary bed is broadband noise with a spectral slope, low-frequency ventilation
rumble, electrical hum at a mains frequency and a distant machine's tone (at a random pitch
per clip). Transients are metal clanks (impacts ringing a few random modes) and pneumatic hiss
bursts, at Poisson-random times. :meth:`Environment.render` returns the bed at unit RMS with
the transients on top at ``transient_db`` relative to it; the mixer scales the whole by the
clip's signal-to-noise ratio.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asdlab.data.synth import dsp


@dataclasses.dataclass(frozen=True)
class Environment:
    """One kind of factory background.

    ``tilt_db_per_octave``: slope of the broadband bed; ``rumble``, ``hum``, ``distant``:
    levels of ventilation rumble (< 150 Hz), mains hum (``mains_hz`` harmonics) and a distant
    machine's tone, relative to the broadband bed; ``clanks_per_s``, ``hiss_per_s``: mean rates
    of transient events; ``transient_db``: their level relative to the bed (dB).
    """

    name: str
    tilt_db_per_octave: float
    rumble: float
    mains_hz: float
    hum: float
    distant: float
    clanks_per_s: float
    hiss_per_s: float
    transient_db: float

    def render(self, rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
        """``n`` samples of this background at ``sr`` Hz (stationary part at unit RMS)."""
        duration = n / sr
        bed = dsp.colored_noise(rng, n, sr, lambda f: np.hypot(
            dsp.tilt(f, self.tilt_db_per_octave) * dsp.band(f, 25.0, 7800.0, 1.0),
            self.rumble * 3.0 * dsp.band(f, 20.0, 150.0, 2.0)))
        hum_theta = dsp.phase(self.mains_hz * (1.0 + 0.001 * rng.standard_normal()), n, sr)
        bed += self.hum * dsp.harmonics(hum_theta, [1.0, 0.6, 0.3, 0.15], dsp.phases(rng, 4))
        distant_hz = rng.uniform(90.0, 400.0) * (1.0 + 0.002 * dsp.drift(rng, n, sr))
        bed += self.distant * dsp.harmonics(dsp.phase(distant_hz, n, sr), [1.0, 0.5, 0.3], dsp.phases(rng, 3))
        bed /= dsp.rms(bed)

        level = dsp.db(self.transient_db)
        clank_times = dsp.poisson_times(rng, self.clanks_per_s, duration)
        clank_modes = rng.uniform(400.0, 5000.0, 3)
        clank_train = dsp.pulses(n, sr, clank_times, level * rng.lognormal(0.0, 0.5, len(clank_times)))
        clanks = dsp.ring(clank_train, sr, clank_modes, rng.uniform(0.03, 0.15, 3), (1.0, 0.7, 0.5))
        hiss_times = dsp.poisson_times(rng, self.hiss_per_s, duration)
        hiss_env = dsp.bursts(n, sr, hiss_times, level * rng.uniform(0.3, 1.0, len(hiss_times)), 0.02, 0.25)
        hiss = hiss_env * dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 1000.0, 6000.0, 1.5))
        return bed + clanks + hiss


ENVIRONMENTS = {
    env.name: env
    for env in (
        Environment("hall", -3.0, 0.3, 50.0, 0.15, 0.2, 0.25, 0.1, 6.0),
        Environment("workshop", -1.5, 0.2, 50.0, 0.1, 0.3, 0.6, 0.3, 9.0),
        Environment("plant", -4.5, 0.8, 60.0, 0.25, 0.4, 0.15, 0.4, 6.0),
    )
}
