"""Toy belt conveyor: DC-motor whine, gear mesh, belt rolling noise and belt-splice ticks.

Physics: a small DC motor (rotor rate ``motor_hz``, 3 poles: 6 commutations per revolution)
whines at the commutation rate with brush noise pulsing at it; its ``pinion``-tooth pinion
meshes with the reduction gears (mesh tone = teeth x rotor rate), which turn the drive pulley
``ratio`` times slower. The pulley (``pulley_mm`` diameter) pulls a belt of ``belt_m`` length
at speed pi x diameter x pulley rate over ``rollers`` idler rollers (``roller_mm``) evenly
spaced along the carrying run to a tail pulley. The belt rolling over the rollers makes
band-limited noise growing with belt speed, throbbing a little at the roller rotation rate
(slightly eccentric rollers). The belt's splice (its glued joint) bumps every roller and
pulley it passes: a tick pattern that repeats once per belt loop, each roller with its own
loudness. Two frame modes (``body1``, ``body2`` Hz) colour everything and ring at every tick.
Each clip has its own speed offset and slow wobble, belt position, levels and phases.

Units (DCASE 2020 machine IDs, :meth:`ToyConveyor.unit`): ``motor_hz``, ``pinion``,
``ratio``, ``pulley_mm``, ``belt_m``, ``rollers``, ``roller_mm``, ``body1``, ``body2``, drawn
independently: units differ in whine and mesh pitches, belt speed and tick rhythm, roller
rate and frame resonances, and still sound like the same kind of conveyor.
Anomalies:

- ``slack_belt``: insufficient tension - stick-slip on the drive pulley, 2.5-4.5 times a
  second, irregularly: the belt lags behind the pulley while the slack span stretches (3-9 mm
  at severity 1), then slips and snaps forward within about 12 ms. The belt speed (rolling
  noise, roller rates, splice-tick timing) sags and spurts around the pulley's speed, and the
  motor slows as the stretching span loads it and speeds up at each slip (a pitch wobble of
  a few per cent). Modulations of timing and pitch around the same mean (the rolling noise
  keeps its mean power): the time-averaged spectrum hardly changes, the frame-to-frame
  spectrum does;
- ``damaged_belt``: a torn patch on the belt - a short scraping burst each time it runs over
  a roller or pulley (the splice-tick pattern of a second, rougher joint);
- ``damaged_roller``: one roller with a worn bearing - a rattle of small impacts at the
  bearing's ball-pass rate (3.1 x the roller rate) ringing the bearing and the frame, and a
  stronger throb of the rolling noise at that roller's rate.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

COMMUTATIONS = 6
BALL_PASS = 3.1  # bearing ball-pass impacts per roller revolution
BEARING_MODES_HZ = (4300.0, 6200.0)
UNIT_KEYS = ("motor_hz", "pinion", "ratio", "pulley_mm", "belt_m", "rollers", "roller_mm", "body1", "body2")
TABLE = 64  # per-loop tick level variations, indexed by loop number modulo TABLE
STRETCH_M = 0.006  # mean stretch of a slack belt's span before it slips, at severity 1 (m)
RELEASE_S = 0.012  # time constant of a slip (s)


def _stick_slip(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Lag (m) of a slack belt behind its drive pulley: between slips (2.5-4.5 a second,
    irregular) it grows linearly to 3-9 mm as the span stretches, at each slip it snaps back
    to 0 within about ``RELEASE_S``. Bounded, so the mean belt speed is the pulley's."""
    duration = n / sr
    gaps = rng.uniform(0.6, 1.4, int(duration * 8.0) + 4) / rng.uniform(2.5, 4.5)
    slips = np.concatenate(([-rng.uniform(0.0, 0.4)], np.cumsum(gaps)))
    stretch = STRETCH_M * rng.uniform(0.5, 1.5, len(slips))
    t = np.arange(n) / sr
    last = np.searchsorted(slips, t, side="right") - 1
    sawtooth = stretch[last + 1] * (t - slips[last]) / (slips[last + 1] - slips[last])
    a = np.exp(-1.0 / (RELEASE_S * sr))
    return signal.lfilter([1.0 - a], [1.0, -a], sawtooth)


def _passes(theta: np.ndarray, sr: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, interpolated between samples) at which the increasing running phase ``theta``
    passes ``angle`` (mod 2 pi), and the number of each turn: event times that move
    continuously with the speed, unlike :func:`dsp.crossings`."""
    u = (theta - angle) / dsp.TWO_PI
    turns = np.floor(u)
    i = np.flatnonzero(np.diff(turns) > 0)
    k = turns[i + 1]
    return (i + (k - u[i]) / (u[i + 1] - u[i])) / sr, k.astype(np.int64)


def _impulses(n: int, sr: int, times_s, amps) -> np.ndarray:
    """Impulses of ``amps`` at ``times_s`` between samples, each split linearly between its two
    neighbouring samples (a continuous function of the time; outside the clip dropped)."""
    pos = np.asarray(times_s, dtype=np.float64) * sr
    i = np.floor(pos).astype(np.int64)
    w = pos - i
    a = np.broadcast_to(np.asarray(amps, dtype=np.float64), pos.shape)
    keep = (i >= 0) & (i < n)
    x = np.zeros(n + 1)
    np.add.at(x, i[keep], (1.0 - w[keep]) * a[keep])
    np.add.at(x, i[keep] + 1, w[keep] * a[keep])
    return x[:n]


class ToyConveyor(MachineModel):
    name = "ToyConveyor"
    hidden = True
    styles = ("dcase2020",)
    attributes = {}
    anomaly_kinds = ("slack_belt", "damaged_belt", "damaged_roller")
    environment = {"source": "hall"}
    snr_db = {"source": (4.0, 12.0)}

    def unit(self, rng):
        return {
            "motor_hz": f"{rng.uniform(70.0, 95.0):.1f}",
            "pinion": str(int(rng.integers(8, 13))),
            "ratio": f"{rng.uniform(30.0, 36.0):.1f}",
            "pulley_mm": f"{rng.uniform(24.0, 28.0):.1f}",
            "belt_m": f"{rng.uniform(0.55, 0.85):.2f}",
            "rollers": str(int(rng.integers(3, 7))),
            "roller_mm": f"{rng.uniform(14.0, 20.0):.1f}",
            "body1": f"{rng.uniform(900.0, 1400.0):.0f}",
            "body2": f"{rng.uniform(2100.0, 3200.0):.0f}",
        }

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        slack = self.severity(anomaly, "slack_belt")
        torn = self.severity(anomaly, "damaged_belt")
        worn = self.severity(anomaly, "damaged_roller")
        p = self.unit_numbers(attrs, UNIT_KEYS)
        rollers, pinion = int(p["rollers"]), int(p["pinion"])
        belt_m, roller_m = p["belt_m"], p["roller_mm"] / 1000.0
        body = (p["body1"], p["body2"])

        def shaped(f):  # plastic frame: a broad floor with two mode peaks
            return 0.5 + dsp.peaks(f, body, 4.0, (0.8, 0.5))

        # stick-slip of a slack belt: its lag behind the pulley (m), zero for a normal clip
        lag = slack * _stick_slip(fault_rng, n, sr)
        load = lag / STRETCH_M - np.mean(lag / STRETCH_M)

        f_motor = dsp.rate(rng, p["motor_hz"], n, sr, jitter=0.012, wobble=0.004)
        f_motor = f_motor * (1.0 - 0.04 * load)  # the stretching span loads the motor
        theta = dsp.phase(f_motor, n, sr, rng.uniform(0, 2 * np.pi))
        f0 = float(np.mean(f_motor))
        speed = np.pi * p["pulley_mm"] / 1000.0 * f_motor / p["ratio"]  # m/s at the pulley
        v0 = float(np.mean(speed))
        belt_speed = np.maximum(speed - np.gradient(lag) * sr, 0.1 * v0)
        belt_theta = dsp.phase(speed / belt_m, n, sr, rng.uniform(0, 2 * np.pi)) - dsp.TWO_PI * lag / belt_m
        roller_theta = belt_theta * belt_m / (np.pi * roller_m)

        k = np.arange(1, 6)
        motor = dsp.harmonics(theta, 0.16 * k ** -1.0 * shaped(k * f0), dsp.phases(rng, 5))
        whine = dsp.harmonics(COMMUTATIONS * theta, 0.45 * np.array([1.0, 0.45, 0.2])
                              * shaped(COMMUTATIONS * f0 * np.arange(1, 4)), dsp.phases(rng, 3))
        brush_pulse = 1.0 + 0.7 * np.maximum(np.cos(COMMUTATIONS * theta), 0.0) ** 4
        brush = 0.18 * brush_pulse * dsp.colored_noise(rng, n, sr,
                                                       lambda f: dsp.band(f, 2000.0, 7000.0, 2.0) * shaped(f))
        mesh_amps = (0.40 * np.array([1.0, 0.35]) * shaped(pinion * f0 * np.array([1, 2]))
                     * dsp.db(rng.normal(0.0, 1.0, 2)))
        mesh = dsp.harmonics(pinion * theta, mesh_amps, dsp.phases(rng, 2))

        roller_phases = dsp.phases(rng, rollers)
        eccentric = np.zeros(n)
        for ph in roller_phases:
            eccentric += np.sin(roller_theta + ph)
        road = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 200.0, 4000.0, 1.0) * shaped(f))
        level = 0.85 * v0 / 0.2
        envelope = (belt_speed / v0) ** 1.5
        normal_envelope = (speed / v0) ** 1.5
        envelope *= np.sqrt(np.mean(normal_envelope ** 2) / np.mean(envelope ** 2))  # same mean power
        throb = 1.0 + 0.12 / np.sqrt(rollers) * eccentric
        if worn:
            bad = int(fault_rng.integers(rollers))
            throb = throb + 0.35 * worn * np.sin(roller_theta + roller_phases[bad])
        rolling = level * envelope * throb * road

        # the splice passes the drive pulley, each roller and the tail pulley once per loop
        stations = np.arange(rollers + 2) / (rollers + 1) * 0.5  # fraction of the belt length
        station_gain = np.concatenate(([1.0], 0.55 * dsp.db(rng.normal(0.0, 2.0, rollers)), [0.8]))
        per_loop = dsp.db(rng.normal(0.0, 1.0, (rollers + 2, TABLE)))
        splice_at = rng.uniform(0.0, 1.0)
        ticks = np.zeros(n)
        for j, x in enumerate(stations):
            times, loops = _passes(belt_theta, sr, dsp.TWO_PI * (x - splice_at))
            ticks += _impulses(n, sr, times, 2.8 * station_gain[j] * per_loop[j, loops % TABLE])
        clicks = dsp.ring(ticks, sr, body + (3600.0,), (0.008, 0.005, 0.002), (1.0, 0.6, 0.5))
        out = motor + whine + brush + mesh + rolling + clicks

        if torn:
            patch_at = fault_rng.uniform(0.0, 1.0)
            times = np.concatenate([_passes(belt_theta, sr, dsp.TWO_PI * (x - patch_at))[0]
                                    for x in stations])
            amps = 2.5 * torn * dsp.db(fault_rng.normal(0.0, 1.5, len(times)))
            env = dsp.bursts(n, sr, times, amps, 0.002, 0.02)
            scrape = dsp.colored_noise(fault_rng, n, sr,
                                       lambda f: dsp.band(f, 800.0, 6000.0, 1.5) * shaped(f))
            out = out + env * scrape
        if worn:
            times, _ = _passes(BALL_PASS * roller_theta, sr, fault_rng.uniform(0, 2 * np.pi))
            hits = _impulses(n, sr, times, 2.0 * worn * fault_rng.lognormal(0.0, 0.5, len(times)))
            out = out + dsp.ring(hits, sr, BEARING_MODES_HZ + (body[0],), (0.0015, 0.001, 0.006),
                                 (1.0, 0.6, 0.5))
        return out
