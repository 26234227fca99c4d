"""Toy car on a roller: DC-motor whine with speed-dependent harmonics, gear mesh, tyre noise.

Physics: the car's DC motor spins at a rate proportional to the supply voltage (``spd``); its
sound is a stack of rotor harmonics, a commutation whine (commutation events per revolution x
rotor rate) with brush noise pulsing at that rate, and the mesh tone of a 9-tooth pinion. The
wheels turn ``ratio`` times slower; the tyres roll on the roller with a buzz at the tread rate
(tread blocks x wheel rate) over band-limited rolling noise. The car model sets motor constant,
commutator, gear ratio, tread and plastic-body resonances. A far microphone hears the car
quieter and duller.

Attributes (public, like DCASE 2024): ``car`` model (A1, A2, B1, B2), ``spd`` motor voltage,
``mic`` microphone (1 near, 2 far). Domain shift: the target cars run at a higher voltage and
are recorded with the far microphone.
DCASE 2020 units (machine IDs): each its own car model and motor voltage (26-34 V), near microphone.
Anomalies:

- ``bent_shaft``: a bent axle - the load and so the motor pitch wobble once per wheel turn and
  the rolling noise swells and fades with it;
- ``gear_damage``: a damaged pinion tooth - a harsher contact once per motor revolution: a
  rattling buzz (sidebands around the mesh tone) and ringing of the gear;
- ``tire_damage``: a flat spot on a tyre - a thump once per wheel turn;
- ``speed_hunting``: a worn speed controller (or a loose supply contact) over-corrects: the
  motor rate wanders irregularly (standard deviation 1.5 %, peaks about +-4 %, 1.5-3 changes of
  course a second) and the wheels follow; the motor current (torque) jumps as the controller
  pushes and brakes, so the commutation whine, brush noise and mesh tone swell and fade with it
  (standard deviation 60 %), and the rolling noise with the wheel speed and the tyres' traction
  (30 %). Modulations of rate and level around the same mean (each surging part keeps its mean
  power): the time-averaged spectrum hardly changes, the frame-to-frame pitch and envelope do.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

PINION_TEETH = 9


@dataclasses.dataclass(frozen=True)
class _Car:
    hz_per_volt: float
    commutations: int  # commutation events per rotor revolution
    ratio: float  # motor revolutions per wheel revolution
    tread: int  # tread blocks per wheel revolution
    body_hz: tuple[float, float]


CARS = {
    "A1": _Car(6.2, 6, 16.0, 18, (1150.0, 2600.0)),
    "A2": _Car(6.2, 6, 16.0, 24, (1250.0, 2800.0)),
    "B1": _Car(5.0, 10, 12.0, 20, (1500.0, 3300.0)),
    "B2": _Car(5.0, 10, 12.0, 28, (1400.0, 3000.0)),
}
MIC_GAIN = {"1": 1.0, "2": dsp.db(-3.0)}
MIC_CUTOFF_HZ = {"1": 7000.0, "2": 3000.0}


class ToyCar(MachineModel):
    name = "ToyCar"
    attributes = {
        "source": {"car": ("A1", "A2", "B1", "B2"), "spd": ("28V", "31V"), "mic": ("1",)},
        "target": {"car": ("A1", "B1"), "spd": ("34V",), "mic": ("2",)},
    }
    anomaly_kinds = ("bent_shaft", "gear_damage", "tire_damage", "speed_hunting")
    environment = {"source": "hall", "target": "hall"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}
    styles = ("dcase2024", "dcase2020")

    def unit(self, rng):
        return {"car": str(rng.choice(sorted(CARS))), "spd": f"{rng.uniform(26.0, 34.0):.1f}V", "mic": "1"}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        bent = self.severity(anomaly, "bent_shaft")
        gear = self.severity(anomaly, "gear_damage")
        tire = self.severity(anomaly, "tire_damage")
        hunt = self.severity(anomaly, "speed_hunting")
        car = CARS[attrs["car"]]
        volts = float(attrs["spd"].rstrip("V"))
        mic = attrs["mic"]
        mic_gain = MIC_GAIN[mic]

        def shaped(f):  # microphone low-pass times plastic-body resonances
            mic_response = mic_gain / np.sqrt(1.0 + (np.asarray(f) / MIC_CUTOFF_HZ[mic]) ** 4)
            return mic_response * (0.5 + dsp.peaks(f, car.body_hz, 3.0, (0.8, 0.5)))

        f_motor = dsp.rate(rng, car.hz_per_volt * volts, n, sr, jitter=0.015, wobble=0.004)
        if hunt:  # the controller's wandering rate and the current (torque) that drives it
            wander = dsp.drift(fault_rng, n, sr, rate_hz=fault_rng.uniform(1.5, 3.0))
            wander = (wander - wander.mean()) / (wander.std() + 1e-12)
            f_motor = f_motor * (1.0 + 0.015 * hunt * wander)
            push = np.gradient(wander)
            push /= push.std() + 1e-12
            current = np.clip(1.0 + 0.6 * hunt * push, 0.05, None)
            current /= np.sqrt(np.mean(current ** 2))  # same mean power
        wheel_theta = dsp.phase(f_motor / car.ratio, n, sr, rng.uniform(0, 2 * np.pi))
        f_motor = f_motor * (1.0 + 0.02 * bent * np.sin(wheel_theta))
        theta = dsp.phase(f_motor, n, sr, rng.uniform(0, 2 * np.pi))
        f0 = float(np.mean(f_motor))

        k = np.arange(1, 9)
        motor = dsp.harmonics(theta, 0.12 * k ** -0.8 * shaped(k * f0), dsp.phases(rng, 8))
        comm_amps = 0.2 * np.array([1.0, 0.5, 0.25]) * shaped(car.commutations * f0 * np.arange(1, 4))
        commutation = dsp.harmonics(car.commutations * theta, comm_amps, dsp.phases(rng, 3))
        brush_pulse = 1.0 + 0.8 * np.maximum(np.cos(car.commutations * theta), 0.0) ** 4
        brush_noise = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 2000.0, 7000.0, 2.0) * shaped(f))
        brush = 0.15 * brush_pulse * brush_noise
        rattle = 1.0 + 3.0 * gear * np.maximum(np.cos(theta - fault_rng.uniform(0, 2 * np.pi)), 0.0) ** 20
        mesh_amps = 0.12 * np.array([1.0, 0.4]) * shaped(PINION_TEETH * f0 * np.array([1, 2]))
        mesh = dsp.harmonics(PINION_TEETH * theta, mesh_amps, dsp.phases(rng, 2)) * rattle
        if hunt:  # the torque surges: whine, brush noise and the mesh force follow the current
            commutation, brush, mesh = commutation * current, brush * current, mesh * current
        wobble = 0.5 * bent * np.sin(wheel_theta + fault_rng.uniform(0, 2 * np.pi))
        tread = 1.0 + 0.5 * np.sin(car.tread * wheel_theta) + wobble
        road = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 150.0, 2500.0, 1.0) * shaped(f))
        rolling = 0.55 * (volts / 31.0) ** 1.5 * tread * road
        if hunt:  # rolling noise grows with the wheel speed (as v^1.5) and the tyres' traction
            follow = (1.0 + 0.015 * hunt * wander) ** 1.5 * np.clip(1.0 + 0.3 * hunt * push, 0.05, None)
            rolling = rolling * follow / np.sqrt(np.mean(follow ** 2))  # same mean power
        out = motor + commutation + brush + mesh + rolling

        if gear:
            hits = dsp.crossings(theta, sr, fault_rng.uniform(0, 2 * np.pi))
            clicks = dsp.pulses(n, sr, hits, 1.2 * gear * dsp.db(fault_rng.normal(0.0, 2.0, len(hits))))
            out = out + mic_gain * dsp.ring(clicks, sr, (3600.0, 5200.0), (0.002, 0.0015), (1.0, 0.6))
        if tire:
            hits = dsp.crossings(wheel_theta, sr, fault_rng.uniform(0, 2 * np.pi))
            thumps = dsp.pulses(n, sr, hits, 2.0 * tire * dsp.db(fault_rng.normal(0.0, 1.5, len(hits))))
            out = out + mic_gain * dsp.ring(thumps, sr, (140.0, 420.0, 1300.0), (0.012, 0.008, 0.004),
                                            (1.0, 0.6, 0.3))
        return out
