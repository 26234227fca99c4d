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
  squeal while moving;
- ``backlash``: a worn ball nut - at each end of stroke the position loop hunts inside the
  lash before it reports "in position", an irregular time, and the controller keeps its cycle
  clock, so every stroke starts late by its own delay: a random walk from stroke to stroke (steps
  of up to 0.14 s, within 0-0.35 s at severity 1), each dwell lasting 10-290 ms instead of
  150 ms. The strokes themselves (speed profile, motor, friction, ball ticks, knocks) are the
  planned ones: the rhythm the speed and acceleration set breaks up, the average spectrum stays.
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
LAG_STEP_S = 0.14  # backlash at severity 1: largest change (s) of a stroke's delay to the next
LAG_RANGE = 2.5  # the delay stays within [0, LAG_RANGE * step]


def _cycle(vmax: float, acc: float, sr: int):
    """One back-and-forth cycle of the planned motion, sample by sample: speed (m/s, >= 0),
    position (m), and the samples at which the carriage stops at either end."""
    v_peak = min(vmax, np.sqrt(acc * STROKE_M))
    t_stroke = STROKE_M / v_peak + v_peak / acc
    ts = np.arange(round(t_stroke * sr)) / sr
    stroke_v = np.clip(np.minimum(np.minimum(acc * ts, v_peak), acc * (t_stroke - ts)), 0.0, None)
    stroke_x = np.cumsum(stroke_v) / sr
    dwell = np.zeros(round(DWELL_S * sr))
    speed = np.concatenate((stroke_v, dwell, stroke_v, dwell))
    pos = np.concatenate((stroke_x, np.full(len(dwell), stroke_x[-1]), stroke_x[-1] - stroke_x,
                          np.full(len(dwell), 0.0)))
    return speed, pos, np.array([len(stroke_v), 2 * len(stroke_v) + len(dwell)])


def _motion(vmax: float, acc: float, n: int, sr: int, start_s: float):
    """Speed (m/s, >= 0) and position (m) of the carriage at each sample, and the times (s)
    at which it stops at either end, for strokes starting ``start_s`` before the clip."""
    speed, pos, stop_phases = _cycle(vmax, acc, sr)
    period = len(speed)
    offset = int(start_s * sr) % period
    idx = (offset + np.arange(n)) % period
    stops = (np.arange(-1, n // period + 2)[:, None] * period + stop_phases - offset).ravel()
    return speed[idx], pos[idx], np.sort(stops[(stops >= 0) & (stops < n)]) / sr


def _lagging(vmax: float, acc: float, n: int, sr: int, start_s: float, lag: np.ndarray):
    """The planned motion of :func:`_motion` followed late by ``lag`` (s, one value per sample,
    >= 0, growing by less than 1 s per s): speed (m/s) and position (m) of a carriage that is
    at each moment where the plan was ``lag`` earlier, its stop times (s) in the clip, and the
    time (s, possibly before the clip) of the planned stop that each one follows."""
    speed, pos, stop_phases = _cycle(vmax, acc, sr)
    period = len(speed)
    offset = int(start_s * sr) % period
    planned = offset + np.maximum.accumulate(np.arange(n) - lag * sr)  # planned sample reached
    at, k = planned % period, np.arange(period + 1)
    speed_l = np.interp(at, k, np.append(speed, speed[0])) * np.gradient(planned)
    pos_l = np.interp(at, k, np.append(pos, pos[0]))
    cycles = np.arange(np.floor(planned[0] / period) - 1, np.ceil(planned[-1] / period) + 1)
    plan_stops = (cycles[:, None] * period + stop_phases).ravel()
    plan_stops = np.sort(plan_stops[(plan_stops >= planned[0]) & (plan_stops <= planned[-1])])
    return speed_l, pos_l, np.interp(plan_stops, planned, np.arange(n)) / sr, (plan_stops - offset) / sr


def _settling_lag(rng: np.random.Generator, vmax: float, acc: float, n: int, sr: int, start_s: float,
                  step_s: float) -> np.ndarray:
    """Lag (s, per sample of the clip, >= 0) behind :func:`_motion` of a carriage whose strokes
    start late by a random walk (drawn from ``rng``): from one stroke to the next the lag
    changes by ``uniform(-step_s, step_s)`` (``step_s < DWELL_S``), folded into
    ``[0, LAG_RANGE * step_s]``. The lag changes only while the planned carriage dwells, so each
    dwell lasts ``DWELL_S`` plus the change and the strokes themselves are the planned ones."""
    speed, _, stop_phases = _cycle(vmax, acc, sr)
    half, stroke = len(speed) // 2, stop_phases[0]
    offset = int(start_s * sr) % len(speed)
    top = LAG_RANGE * step_s
    plan = offset + np.arange(-int(top * sr) - 1, n + 1)  # planned samples around the clip
    which, within = np.divmod(plan, half)  # half cycle (stroke + dwell) and sample within it
    walk = rng.uniform(0.0, top) + step_s * np.cumsum(rng.uniform(-1.0, 1.0, which[-1] - which[0] + 2))
    level = top - np.abs(top - walk % (2.0 * top))  # folded at 0 and top: steps stay within step_s
    change = np.clip((within - stroke) / (half - stroke), 0.0, 1.0)  # 0 in a stroke, 0..1 in a dwell
    k = which - which[0]
    lag = level[k] + (level[k + 1] - level[k]) * change
    return np.interp(offset + np.arange(n), plan + lag * sr, lag)


class Slider(MachineModel):
    name = "slider"
    hidden = True
    attributes = {
        "source": {"vel": ("300", "500"), "ac": ("0.3", "0.5")},
        "target": {"vel": ("700",), "ac": ("0.3", "0.7")},
    }
    anomaly_kinds = ("rail_damage", "no_grease", "backlash")
    environment = {"source": "workshop", "target": "workshop"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}
    styles = ("dcase2024", "dcase2020")

    def unit(self, rng):
        return {"vel": f"{rng.uniform(250.0, 700.0):.0f}", "ac": f"{rng.uniform(0.25, 0.7):.2f}"}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        dent = self.severity(anomaly, "rail_damage")
        dry = self.severity(anomaly, "no_grease")
        lash = self.severity(anomaly, "backlash")
        vmax = float(attrs["vel"]) / 1000.0 * dsp.db(rng.normal(0.0, 0.05))
        acc = float(attrs["ac"]) * G
        start_s = rng.uniform(0.0, 5.0)
        plan, pos, stops = _motion(vmax, acc, n, sr, start_s)
        speed = plan
        if lash:  # each stroke starts late by its own, wandering delay
            lag = _settling_lag(fault_rng, vmax, acc, n, sr, start_s, LAG_STEP_S * lash)
            speed, pos, late_stops, planned_stops = _lagging(vmax, acc, n, sr, start_s, lag)
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
        if lash:  # the strokes shift in time: the friction noise keeps its planned mean power
            friction *= np.sqrt(np.mean((plan / 0.5) ** 2.6) / max(np.mean(rel ** 2.6), 1e-12))
        ticks = dsp.poisson_times(rng, 300.0, duration)
        chance = rng.uniform(size=len(ticks))
        keep = chance < plan[(ticks * sr).astype(int)] / 0.7
        tick_amps = 0.2 * rng.exponential(1.0, keep.sum())
        if lash:  # the balls tick with the actual speed; ticks the plan lacks draw their own size
            moving = chance < speed[(ticks * sr).astype(int)] / 0.7
            sizes = np.zeros(len(ticks))
            sizes[keep] = tick_amps
            sizes[moving & ~keep] = 0.2 * fault_rng.exponential(1.0, np.sum(moving & ~keep))
            keep, tick_amps = moving, sizes[moving]
        tick_train = dsp.pulses(n, sr, ticks[keep], tick_amps)
        balls = dsp.ring(tick_train, sr, (3800.0, 5500.0), (0.0015, 0.001), (1.0, 0.6))
        knock_amps = 0.7 * acc / (0.5 * G) * dsp.db(rng.normal(0.0, 1.0, len(stops)))
        if lash:  # the actual stops, each with the knock of the planned stop it follows
            early = planned_stops < 0.0  # planned before the clip, reached within it
            amps = np.empty(len(planned_stops))
            amps[early] = 0.7 * acc / (0.5 * G) * dsp.db(fault_rng.normal(0.0, 1.0, early.sum()))
            which = np.searchsorted(np.round(stops * sr), np.round(planned_stops[~early] * sr))
            amps[~early] = knock_amps[which]
            stops, knock_amps = late_stops, amps
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
