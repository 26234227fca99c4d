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
- ``wheel_flat``: a flat spot on one wheel - a thump once per wheel turn;
- ``loose_coupling``: a worn coupling between two vehicles - the train runs jerkily: its speed
  surges irregularly (1-2.5 changes a second, standard deviation 2 %; the motor pitch follows),
  and the slack (10 mm) opens within about 30 ms when the locomotive pulls and shuts when it
  coasts. The vehicles behind the coupling lag and spurt, so their joint clicks come 10-17 ms
  late or early and louder or softer with their own speed; the motor current is high while the
  locomotive pulls them and low while they push (+-80 %), and the driven wheels' rolling noise
  follows the traction (+-50 %). Timing and level modulations around the same mean (motor,
  rolling noise and clicks keep their mean power at the microphone): the time-averaged spectrum
  hardly changes, the frame-to-frame envelope does.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import signal

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

PIECE_M = 0.18
N_PIECES = 12
WHEEL_CIRCUMFERENCE_M = 0.07
RAIL_MODES_HZ = (1400.0, 2900.0, 4400.0)
RAIL_DECAYS_S = (0.006, 0.004, 0.003)
SLACK_M = 0.010  # free play of a loose coupling at severity 1 (m)
SLACK_S = 0.03  # time constant of the slack opening or closing (s)


def _heard(level: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``level`` (a gain per sample or per event) rescaled to unit mean power as the microphone
    hears it, ``mean(weight * level**2) == mean(weight)`` (``weight``: the lap swell squared)."""
    return level / np.sqrt(np.mean(weight * level ** 2) / np.mean(weight))


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
    anomaly_kinds = ("damaged_rail", "wheel_flat", "loose_coupling")
    environment = {"source": "hall", "target": "workshop"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        rail = self.severity(anomaly, "damaged_rail")
        flat = self.severity(anomaly, "wheel_flat")
        loose = self.severity(anomaly, "loose_coupling")
        train = TRAINS[attrs["car"]]
        mic_gain, swell, cutoff = MIC[attrs["mic"]]
        mic = lambda f: 1.0 / np.sqrt(1.0 + (np.asarray(f) / cutoff) ** 4)
        speed = dsp.rate(rng, 0.1 * float(attrs["spd"]), n, sr, jitter=0.02, wobble=0.01)
        start = rng.uniform(0.0, PIECE_M * N_PIECES)
        pos = start + np.cumsum(speed) / sr
        v0 = float(np.mean(speed))
        run_speed, run_pos, lags = speed, pos, [0.0] * len(train.axles_m)
        if loose:  # the train surges; the slack opens while the locomotive pulls, shuts coasting
            surge = dsp.drift(fault_rng, n, sr, rate_hz=fault_rng.uniform(1.0, 2.5))
            surge = (surge - surge.mean()) / (surge.std() + 1e-12)
            run_speed = speed * (1.0 + 0.02 * loose * surge)
            run_pos = start + np.cumsum(run_speed) / sr
            pull = np.gradient(surge)
            pull = np.tanh(3.0 * pull / (pull.std() + 1e-12))  # -1 coasting (shut) .. 1 pulling (open)
            r = np.exp(-1.0 / (SLACK_S * sr))
            taut = signal.lfilter([1.0 - r], [1.0, -r], pull, zi=[r * pull[0]])[0]
            slack = 0.5 * SLACK_M * loose * (1.0 + taut)
            load = 1.0 + 0.8 * loose * taut  # the motor pulls the vehicles behind only when taut
            coupling = 2 * int(fault_rng.integers(1, len(train.axles_m) // 2))  # first axle behind it
            lags = [slack if i >= coupling else np.zeros(n) for i in range(len(train.axles_m))]
        lap = 1.0 / (1.0 + swell * (1.0 - np.cos(2.0 * np.pi * run_pos / (PIECE_M * N_PIECES))))

        f_motor = train.motor_hz_per_mps * run_speed
        theta = dsp.phase(f_motor, n, sr, rng.uniform(0, 2 * np.pi))
        k = np.arange(1, 7)
        motor = dsp.harmonics(theta, 0.12 * k ** -1.0 * mic(k * v0 * train.motor_hz_per_mps),
                              dsp.phases(rng, 6))
        motor += dsp.harmonics(train.commutations * theta, [0.08, 0.03], dsp.phases(rng, 2))
        rail_noise = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 300.0, 4000.0, 1.0) * mic(f))
        rolling = 0.45 * (v0 / 0.7) * rail_noise
        if loose:  # motor current follows the load; rolling noise the speed and the traction
            motor = motor * _heard(load, lap ** 2)  # each at its normal mean power
            rolling = rolling * _heard((1.0 + 0.02 * loose * surge) * (1.0 + 0.5 * loose * taut), lap ** 2)

        joint_gain = rng.uniform(0.6, 1.4, N_PIECES)
        hits, joints, amps, at, impact = [], [], [], [], []
        for offset, lag in zip(train.axles_m, lags):
            along = (pos - offset) / PIECE_M
            times = dsp.crossings(2.0 * np.pi * along, sr)
            levels = dsp.db(rng.normal(0.0, 1.5, len(times)))
            if loose:  # the same joints, with their levels, passed at the faulty train's times
                level_of = dict(zip(np.floor(along[np.round(times * sr).astype(int)]), levels))
                along = (run_pos - lag - offset) / PIECE_M
                times = dsp.crossings(2.0 * np.pi * along, sr)
                passed = np.floor(along[np.round(times * sr).astype(int)])
                levels = np.array([level_of[j] if j in level_of else dsp.db(fault_rng.normal(0.0, 1.5))
                                   for j in passed])
                at.append(np.round(times * sr).astype(int))
                impact.append(((run_speed - np.gradient(lag) * sr) / speed)[at[-1]])  # own speed
            hits.append(times)
            joints.append(np.floor(along[(times * sr).astype(int)]).astype(int) % N_PIECES)
            amps.append(0.9 * (v0 / 0.7) * levels)
        hits, joints, amps = np.concatenate(hits), np.concatenate(joints), np.concatenate(amps)
        if loose:  # each click as loud as its axle's speed, at the same mean power
            amps = amps * _heard(np.concatenate(impact), lap[np.concatenate(at)] ** 2)
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

        return mic_gain * lap * out * (1.0 + swell)
