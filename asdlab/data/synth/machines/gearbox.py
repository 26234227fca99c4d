"""Gearbox: gear-mesh tones with shaft-rate sidebands, driven by a DC motor, lifting a weight.

Physics: a DC motor turns the input shaft (``17``-tooth pinion) at a rate set by the supply
voltage and slowed by the load; the pinion meshes with a ``41``-tooth wheel. Each tooth
contact excites the housing, so the sound has the gear-mesh frequency (teeth x shaft rate) and
its harmonics, amplitude-modulated by both shaft rates (sidebands at mesh +- shaft rates), plus
mesh-synchronous broadband noise ringing the housing modes, the motor's commutator whine and
brush hiss. A heavier load raises the mesh force (louder tones) and lowers the speed.

Attributes (hidden in file names, as in DCASE 2024): ``volt`` motor voltage (V), ``wt`` load
weight (g). Domain shift: the target gearbox runs at a higher voltage with other weights.
Anomalies:

- ``broken_tooth``: a chipped pinion tooth - once per pinion revolution an impact that rings
  the housing and a brief drop of the mesh tone (a periodic "tick");
- ``worn_teeth``: distributed wear and pitting - stronger higher mesh harmonics, stronger
  shaft-rate sidebands and more mesh noise (a rougher, growling mesh);
- ``eccentric_gear``: the wheel runs eccentric on its shaft (a worn bore or bent shaft) - once
  per wheel revolution (9-16 Hz) the centre distance, and with it the tooth engagement, swings:
  the mesh force swells and fades (+-50 %, mesh tones and mesh noise), the mesh phase lags and
  leads (transmission error, +-0.3 rad of mesh phase) and the motor slows a little (0.5 %) in
  the heavier half-turn. Amplitude and phase modulation at the wheel rate around the same mean
  (mesh tones and noise keep their mean power): the sidebands share the mesh's power, so the
  time-averaged spectrum hardly changes, the frame-to-frame envelope does.
"""

from __future__ import annotations

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

PINION_TEETH = 17
WHEEL_TEETH = 41
COMMUTATOR_SEGMENTS = 7
HOUSING_MODES_HZ = (1650.0, 3100.0, 4700.0)
HOUSING_DECAYS_S = (0.006, 0.004, 0.003)
HOUSING_GAINS = (1.0, 0.7, 0.5)


def _housing(f: np.ndarray) -> np.ndarray:
    """Magnitude response of the gearbox housing: a broad band with three mode peaks."""
    return dsp.band(f, 600.0, 7000.0, 1.0) * (0.3 + dsp.peaks(f, HOUSING_MODES_HZ, 6.0, HOUSING_GAINS))


class Gearbox(MachineModel):
    name = "gearbox"
    hidden = True
    attributes = {
        "source": {"volt": ("1.0", "1.3"), "wt": ("0", "100", "200")},
        "target": {"volt": ("1.6",), "wt": ("50", "150")},
    }
    anomaly_kinds = ("broken_tooth", "worn_teeth", "eccentric_gear")
    environment = {"source": "workshop", "target": "workshop"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        broken = self.severity(anomaly, "broken_tooth")
        wear = self.severity(anomaly, "worn_teeth")
        ecc = self.severity(anomaly, "eccentric_gear")
        weight = float(attrs["wt"])
        shaft_hz = 24.0 * float(attrs["volt"]) * (1.0 - 0.0006 * weight)
        load_gain = dsp.db(1.5 * weight / 100.0)

        f_in = dsp.rate(rng, shaft_hz, n, sr, jitter=0.01, wobble=0.004)
        start = rng.uniform(0, 2 * np.pi)
        theta_in = dsp.phase(f_in, n, sr, start)
        theta_out = theta_in * PINION_TEETH / WHEEL_TEETH + rng.uniform(0, 2 * np.pi)
        mesh_error = 0.0
        if ecc:  # once per wheel turn: engagement (force), transmission error and motor load swing
            wheel_angle = theta_out - fault_rng.uniform(0, 2 * np.pi)
            swing = np.cos(wheel_angle)
            theta_in = dsp.phase(f_in * (1.0 - 0.005 * ecc * swing), n, sr, start)
            mesh_error = 0.3 * ecc * np.sin(wheel_angle)
            force = 1.0 + 0.5 * ecc * swing
            force /= np.sqrt(np.mean(force ** 2))  # same mean power
        depth_in = 0.08 + 0.35 * wear
        sidebands = (1.0 + depth_in * np.cos(theta_in + rng.uniform(0, 2 * np.pi))
                     + 0.05 * np.cos(theta_out))
        mesh_amps = 0.32 * np.array([1.0, 0.45, 0.25, 0.12, 0.06]) * dsp.db(rng.normal(0.0, 1.0, 5))
        mesh_amps[1:] *= 1.0 + 2.5 * wear
        mesh_theta = PINION_TEETH * theta_in + mesh_error
        mesh = dsp.harmonics(mesh_theta, mesh_amps * load_gain, dsp.phases(rng, 5))
        mesh_noise = dsp.colored_noise(rng, n, sr, _housing) * (1.0 + 0.6 * np.sin(mesh_theta))
        mesh_noise *= 0.35 * load_gain * dsp.db(7.0 * wear)
        if ecc:
            mesh, mesh_noise = mesh * force, mesh_noise * force
        whine = dsp.harmonics(COMMUTATOR_SEGMENTS * theta_in, [0.12, 0.05, 0.02],
                              dsp.phases(rng, 3))
        brush = 0.12 * dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 3000.0, 7000.0, 2.0))
        out = mesh * sidebands + mesh_noise + whine + brush

        if broken:
            tooth_angle = fault_rng.uniform(0, 2 * np.pi)
            out = out - 0.5 * broken * np.maximum(np.cos(theta_in - tooth_angle), 0.0) ** 30 * mesh
            impacts = dsp.crossings(theta_in, sr, tooth_angle)
            hits = dsp.pulses(n, sr, impacts, 1.8 * broken * dsp.db(fault_rng.normal(0.0, 1.5, len(impacts))))
            out = out + dsp.ring(hits, sr, HOUSING_MODES_HZ, HOUSING_DECAYS_S, HOUSING_GAINS)
        return out
