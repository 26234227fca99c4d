"""Toy train on a loop of track: rail-joint clicks, rolling noise and motor hum.

Physics: the train runs at ``0.1 x spd`` m/s around a loop of 12 track pieces of 0.18 m.
Every axle clicks as it crosses a joint between pieces, so each joint gives a burst of clicks
spaced by the axle distances over the speed ("clickety-clack"), and each joint has its own
loudness. The motor hums with rotor harmonics and a commutation whine proportional to speed;
the wheels make rolling noise. The train comes closer to and goes away from the microphone
once per lap, so the level swells and fades; the far microphone hears it quieter and duller.

Attributes (hidden in file names, as in DCASE 2024): ``car`` train model (A = locomotive and
one car, 4 axles; B = two cars, 6 axles; 1/2 = motor variant), ``spd`` speed level, ``mic``
microphone (1 near, 2 far). Domain shift: the target train runs faster, with the far microphone,
in another background (the ``workshop``).
Anomalies:

- ``damaged_rail``: one joint (one the train passes during the clip) is broken or misaligned -
  once per lap every axle bangs on it, louder and lower than on the other joints;
- ``wheel_flat``: a flat spot on one wheel - a thump once per wheel turn.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

PIECE_M = 0.18
N_PIECES = 12
WHEEL_CIRCUMFERENCE_M = 0.07
RAIL_MODES_HZ = (1400.0, 2900.0, 4400.0)
RAIL_DECAYS_S = (0.006, 0.004, 0.003)


@dataclasses.dataclass(frozen=True)
class _Train:
    axles_m: tuple[float, ...]  # axle positions behind the first axle
    motor_hz_per_mps: float
    commutations: int


TRAINS = {
    "A1": _Train((0.0, 0.035, 0.11, 0.145), 260.0, 6),
    "A2": _Train((0.0, 0.035, 0.11, 0.145), 320.0, 10),
    "B1": _Train((0.0, 0.04, 0.12, 0.16, 0.24, 0.28), 260.0, 6),
    "B2": _Train((0.0, 0.04, 0.12, 0.16, 0.24, 0.28), 320.0, 10),
}
MIC = {"1": (1.0, 0.5, 7000.0), "2": (dsp.db(-4.0), 0.8, 3500.0)}  # gain, lap swell depth, cutoff Hz


class ToyTrain(MachineModel):
    name = "ToyTrain"
    hidden = True
    attributes = {
        "source": {"car": ("A1", "A2", "B1"), "spd": ("6", "8"), "mic": ("1",)},
        "target": {"car": ("A1", "B1"), "spd": ("10",), "mic": ("2",)},
    }
    anomaly_kinds = ("damaged_rail", "wheel_flat")
    environment = {"source": "hall", "target": "workshop"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        rail = self.severity(anomaly, "damaged_rail")
        flat = self.severity(anomaly, "wheel_flat")
        train = TRAINS[attrs["car"]]
        mic_gain, swell, cutoff = MIC[attrs["mic"]]
        mic = lambda f: 1.0 / np.sqrt(1.0 + (np.asarray(f) / cutoff) ** 4)
        speed = dsp.rate(rng, 0.1 * float(attrs["spd"]), n, sr, jitter=0.02, wobble=0.01)
        pos = rng.uniform(0.0, PIECE_M * N_PIECES) + np.cumsum(speed) / sr
        v0 = float(np.mean(speed))

        f_motor = train.motor_hz_per_mps * speed
        theta = dsp.phase(f_motor, n, sr, rng.uniform(0, 2 * np.pi))
        k = np.arange(1, 7)
        motor = dsp.harmonics(theta, 0.12 * k ** -1.0 * mic(k * v0 * train.motor_hz_per_mps),
                              dsp.phases(rng, 6))
        motor += dsp.harmonics(train.commutations * theta, [0.08, 0.03], dsp.phases(rng, 2))
        rail_noise = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 300.0, 4000.0, 1.0) * mic(f))
        rolling = 0.45 * (v0 / 0.7) * rail_noise

        joint_gain = rng.uniform(0.6, 1.4, N_PIECES)
        hits, joints, amps = [], [], []
        for offset in train.axles_m:
            along = (pos - offset) / PIECE_M
            times = dsp.crossings(2.0 * np.pi * along, sr)
            hits.append(times)
            joints.append(np.floor(along[(times * sr).astype(int)]).astype(int) % N_PIECES)
            amps.append(0.9 * (v0 / 0.7) * dsp.db(rng.normal(0.0, 1.5, len(times))))
        hits, joints, amps = np.concatenate(hits), np.concatenate(joints), np.concatenate(amps)
        damaged = fault_rng.choice(np.unique(joints)) if len(joints) else -1
        gains = joint_gain[joints] * np.where(joints == damaged, 1.0 + 4.0 * rail, 1.0)
        clicks = dsp.ring(dsp.pulses(n, sr, hits, amps * gains), sr, RAIL_MODES_HZ, RAIL_DECAYS_S,
                          mic(np.array(RAIL_MODES_HZ)))
        clunks = dsp.pulses(n, sr, hits[joints == damaged], 3.0 * rail)
        clicks += dsp.ring(clunks, sr, (320.0, 900.0), (0.03, 0.012), (1.0, 0.5))
        out = motor + rolling + clicks

        if flat:
            axle = train.axles_m[fault_rng.integers(len(train.axles_m))]
            wheel_theta = 2.0 * np.pi * (pos - axle) / WHEEL_CIRCUMFERENCE_M
            hits = dsp.crossings(wheel_theta, sr, fault_rng.uniform(0, 2 * np.pi))
            thumps = dsp.pulses(n, sr, hits, 2.5 * flat * dsp.db(fault_rng.normal(0.0, 1.0, len(hits))))
            out = out + dsp.ring(thumps, sr, (500.0, 1600.0), (0.012, 0.006), (1.0, 0.5))

        lap = 1.0 / (1.0 + swell * (1.0 - np.cos(2.0 * np.pi * pos / (PIECE_M * N_PIECES))))
        return mic_gain * lap * out * (1.0 + swell)
