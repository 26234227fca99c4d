"""Linear slide rail: a carriage stroking back and forth, with friction and rolling noise.

Physics: a servo motor and ball screw (10 mm lead) drive a carriage over a 0.25 m stroke with
a trapezoidal velocity profile (accelerate at ``ac``, cruise at ``vel``, decelerate), dwell
0.15 s and return. The motor's tone follows the speed (4 pole pairs x screw rate), its drive
whine follows the current (mostly during acceleration), friction/rolling noise grows with
speed, the recirculating balls tick at a rate proportional to speed, and every stop knocks.

Attributes (hidden in file names, as in DCASE 2024): ``vel`` cruise speed (mm/s), ``ac``
acceleration (g). Domain shift: the target carriage cruises faster than any source one.
DCASE 2020 units (machine IDs): each its own cruise speed (250-700 mm/s) and acceleration (0.25-0.7 g).
Anomalies:

- ``rail_damage``: a dent in the rail - a click each time the carriage passes one position,
  louder at speed;
- ``no_grease``: lubrication loss - louder, brighter friction and an intermittent stick-slip
  squeal while moving.
"""

from __future__ import annotations

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

STROKE_M = 0.25
DWELL_S = 0.15
LEAD_M = 0.01
POLE_PAIRS = 4
G = 9.81


def _motion(vmax: float, acc: float, n: int, sr: int, start_s: float):
    """Speed (m/s, >= 0) and position (m) of the carriage at each sample, and the times (s)
    at which it stops at either end, for strokes starting ``start_s`` before the clip."""
    v_peak = min(vmax, np.sqrt(acc * STROKE_M))
    t_stroke = STROKE_M / v_peak + v_peak / acc
    ts = np.arange(round(t_stroke * sr)) / sr
    stroke_v = np.clip(np.minimum(np.minimum(acc * ts, v_peak), acc * (t_stroke - ts)), 0.0, None)
    stroke_x = np.cumsum(stroke_v) / sr
    dwell = np.zeros(round(DWELL_S * sr))
    speed = np.concatenate((stroke_v, dwell, stroke_v, dwell))
    pos = np.concatenate((stroke_x, np.full(len(dwell), stroke_x[-1]), stroke_x[-1] - stroke_x,
                          np.full(len(dwell), 0.0)))
    period = len(speed)
    offset = int(start_s * sr) % period
    idx = (offset + np.arange(n)) % period
    stop_phases = np.array([len(stroke_v), 2 * len(stroke_v) + len(dwell)])
    stops = (np.arange(-1, n // period + 2)[:, None] * period + stop_phases - offset).ravel()
    return speed[idx], pos[idx], np.sort(stops[(stops >= 0) & (stops < n)]) / sr


class Slider(MachineModel):
    name = "slider"
    hidden = True
    attributes = {
        "source": {"vel": ("300", "500"), "ac": ("0.3", "0.5")},
        "target": {"vel": ("700",), "ac": ("0.3", "0.7")},
    }
    anomaly_kinds = ("rail_damage", "no_grease")
    environment = {"source": "workshop", "target": "workshop"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}
    styles = ("dcase2024", "dcase2020")

    def unit(self, rng):
        return {"vel": f"{rng.uniform(250.0, 700.0):.0f}", "ac": f"{rng.uniform(0.25, 0.7):.2f}"}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        dent = self.severity(anomaly, "rail_damage")
        dry = self.severity(anomaly, "no_grease")
        vmax = float(attrs["vel"]) / 1000.0 * dsp.db(rng.normal(0.0, 0.05))
        acc = float(attrs["ac"]) * G
        speed, pos, stops = _motion(vmax, acc, n, sr, rng.uniform(0.0, 5.0))
        rel = speed / 0.5
        accel = np.abs(np.gradient(speed) * sr) / acc
        duration = n / sr

        rev = speed / LEAD_M * (1.0 + 0.002 * dsp.drift(rng, n, sr))
        theta = dsp.phase(POLE_PAIRS * rev, n, sr, rng.uniform(0, 2 * np.pi))
        motor = dsp.harmonics(theta, [0.18, 0.10, 0.06, 0.04], dsp.phases(rng, 4)) * np.minimum(rel * 3, 1)
        whine = np.sin(dsp.phase(3150.0, n, sr, rng.uniform(0, 2 * np.pi))) * (0.15 * accel + 0.04 * rel)
        top = 6000.0 + 1500.0 * dry
        friction = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 400.0, top, 1.0) * dsp.tilt(f, -2.0))
        friction *= 0.7 * rel ** 1.3 * dsp.db(8.0 * dry)
        ticks = dsp.poisson_times(rng, 300.0, duration)
        keep = rng.uniform(size=len(ticks)) < speed[(ticks * sr).astype(int)] / 0.7
        tick_train = dsp.pulses(n, sr, ticks[keep], 0.2 * rng.exponential(1.0, keep.sum()))
        balls = dsp.ring(tick_train, sr, (3800.0, 5500.0), (0.0015, 0.001), (1.0, 0.6))
        knock_amps = 0.7 * acc / (0.5 * G) * dsp.db(rng.normal(0.0, 1.0, len(stops)))
        knock_train = dsp.pulses(n, sr, stops, knock_amps)
        knocks = dsp.ring(knock_train, sr, (250.0, 1200.0), (0.02, 0.006), (1.0, 0.5))
        out = motor + whine + friction + balls + knocks

        if dent:
            where = fault_rng.uniform(0.2, 0.8) * STROKE_M
            passes = np.flatnonzero(np.diff(np.sign(pos - where)) != 0) + 1
            hits = dsp.pulses(n, sr, passes / sr, 4.0 * dent * speed[passes] / max(vmax, 1e-6))
            out = out + dsp.ring(hits, sr, (2200.0, 4500.0), (0.008, 0.004), (1.0, 0.6))
        if dry:
            f_squeal = fault_rng.uniform(1800.0, 3000.0) * (1.0 + 0.01 * dsp.drift(fault_rng, n, sr, 8.0))
            stick = np.clip(2.0 * dsp.drift(fault_rng, n, sr, 3.0), 0.0, 1.0) * (speed > 0.2 * vmax)
            out = out + 0.5 * dry * rel * stick * np.sin(dsp.phase(f_squeal, n, sr))
        return out
