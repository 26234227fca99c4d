"""Solenoid valves switching in a pattern: open/close clicks, flow hiss, pump hum.

Physics: a solenoid valve opens when its plunger is pulled in and closes when a spring pushes
it back onto the seat; both strike metal and ring the valve body (a few kHz, a few ms), with a
low thump of the mounting. While a valve is open, fluid rushes through it (band-limited hiss).
A pump feeding the line hums in the background. Valve 1 always switches; a second valve with
its own body modes may switch too.

Attributes: ``v1pat`` and ``v2pat``: the switching pattern of each valve (``none`` = idle); a
pattern is a repeating list of open intervals. Domain shift: in the target domain the second
valve works as well.
DCASE 2020 units (machine IDs): each its own pattern of valve 1 (valve 2 idle or switching) and
``tempo``, a factor on the pattern's period and intervals (0.8-1.25; 1 when absent).
Anomalies:

- ``stuck``: the plunger sticks now and then - whole switching cycles of valve 1 are missing
  (no clicks, no flow);
- ``chatter``: a weak spring or worn seat - the plunger bounces, adding quick extra clicks
  after some switching events (at least one per clip, more the more severe);
- ``leak``: contamination on the seat - a whistling hiss while valve 1 should be closed;
- ``sluggish``: a gummed plunger (varnish or dirt in the armature tube) or a weak coil - the
  plunger's response time varies from cycle to cycle by tens of ms: at severity 1 each open
  interval of valve 1 moves by up to +-60 ms, its opening and its closing by up to +-25 ms
  more (a longer mean delay would only shift the pattern's phase, random anyway), and the
  plunger travels slowly, so the flow builds up and dies away over 60 ms instead of 20 ms.
  Same clicks, same flow: the switching rhythm turns irregular, the average spectrum stays.
"""

from __future__ import annotations

import functools

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

#: pattern name -> (period in s, open intervals within one period in s)
PATTERNS = {
    "A": (0.8, ((0.0, 0.30),)),
    "B": (1.2, ((0.0, 0.20), (0.50, 0.70))),
    "C": (1.6, ((0.0, 0.70),)),
    "D": (1.0, ((0.10, 0.45),)),
}
BODY_MODES_HZ = ((2600.0, 4300.0, 6100.0), (1900.0, 3500.0, 5300.0))
BODY_DECAYS_S = (0.008, 0.005, 0.003)
BODY_GAINS = (1.0, 0.6, 0.4)
THUMP_HZ, THUMP_DECAY_S = 180.0, 0.015
PUMP_HZ = 24.5
BOUNCES = (0.8, 0.55, 0.35)  # relative strength of successive plunger bounces
SLUGGISH_SHIFT_S = 0.06  # sluggish at severity 1: an open interval moves by up to +-this (s)
SLUGGISH_JITTER_S = 0.025  # ... and its opening and its closing each by up to +-this more (s)
SLUGGISH_RAMP_S = 0.04  # sluggish at severity 1: extra time (s) the flow takes to start and stop


def _schedule(pattern: str, rng: np.random.Generator, duration: float, tempo: float = 1.0):
    """Open/close times (s) of a valve following ``pattern`` (times scaled by ``tempo``) from a
    random phase, each event jittered by 4 ms; returns (opens, closes, cycle index of each interval)."""
    period, intervals = PATTERNS[pattern]
    period, intervals = period * tempo, tuple((a * tempo, b * tempo) for a, b in intervals)
    start = -rng.uniform(0.0, period)
    cycles = np.arange(int(np.ceil((duration - start) / period)) + 1)
    opens = (start + cycles[:, None] * period + np.array([a for a, _ in intervals])).ravel()
    closes = (start + cycles[:, None] * period + np.array([b for _, b in intervals])).ravel()
    opens = opens + rng.normal(0.0, 0.004, opens.shape)
    closes = closes + rng.normal(0.0, 0.004, closes.shape)
    return opens, closes, np.repeat(cycles, len(intervals))


class Valve(MachineModel):
    name = "valve"
    attributes = {
        "source": {"v1pat": ("A", "B", "C"), "v2pat": ("none",)},
        "target": {"v1pat": ("A", "B"), "v2pat": ("D",)},
    }
    anomaly_kinds = ("stuck", "chatter", "leak", "sluggish")
    environment = {"source": "plant", "target": "plant"}
    snr_db = {"source": (6.0, 14.0), "target": (6.0, 14.0)}
    styles = ("dcase2024", "dcase2020")

    def unit(self, rng):
        return {"v1pat": str(rng.choice(sorted(PATTERNS))), "v2pat": str(rng.choice(["none", "none", "D"])),
                "tempo": f"{rng.uniform(0.8, 1.25):.2f}"}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        stuck = self.severity(anomaly, "stuck")
        chatter = self.severity(anomaly, "chatter")
        leak = self.severity(anomaly, "leak")
        slow = self.severity(anomaly, "sluggish")
        duration = n / sr
        pump = dsp.harmonics(dsp.phase(dsp.rate(rng, PUMP_HZ, n, sr), n, sr),
                             0.10 * 0.6 ** np.arange(6), dsp.phases(rng, 6))
        out = pump + 0.08 * dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 60.0, 600.0, 1.0))
        for valve, pattern in enumerate((attrs["v1pat"], attrs["v2pat"])):
            if pattern == "none":
                continue
            opens, closes, cycle = _schedule(pattern, rng, duration, float(attrs.get("tempo", 1.0)))
            open_amps = dsp.db(rng.normal(0.0, 1.5, len(opens)))
            close_amps = 1.4 * dsp.db(rng.normal(0.0, 1.5, len(closes)))
            flow_band = functools.partial(dsp.band, lo=800.0 + 400 * valve, hi=4000.0, order=1.5)
            hiss = dsp.colored_noise(rng, n, sr, flow_band)
            if valve == 0 and stuck:
                cycles = np.unique(cycle[(opens > 0.0) & (opens < duration)])
                missing = fault_rng.choice(cycles, max(1, round(stuck * 0.5 * len(cycles))), replace=False)
                keep = ~np.isin(cycle, missing)
                opens, closes = opens[keep], closes[keep]
                open_amps, close_amps = open_amps[keep], close_amps[keep]
            ramp_s = 0.02
            if valve == 0 and slow:  # each opening of the plunger late or early by its own delay
                shift = SLUGGISH_SHIFT_S * fault_rng.uniform(-1.0, 1.0, len(opens))
                jitter = SLUGGISH_JITTER_S * fault_rng.uniform(-1.0, 1.0, (2, len(opens)))
                opens, closes = opens + slow * (shift + jitter[0]), closes + slow * (shift + jitter[1])
                ramp_s = 0.02 + slow * SLUGGISH_RAMP_S
            flow = dsp.gate(n, sr, opens, closes, ramp_s=ramp_s)
            out = out + 0.35 * flow * hiss
            events = np.concatenate((opens, closes))
            amps = np.concatenate((open_amps, close_amps))
            clicks = dsp.pulses(n, sr, events, amps)
            if valve == 0 and chatter:
                bouncing = fault_rng.uniform(size=len(events)) < 0.3 + 0.7 * chatter
                bouncing[fault_rng.choice(np.flatnonzero((events > 0.0) & (events < duration)))] = True
                delays = np.cumsum(fault_rng.uniform(0.012, 0.03, (len(events), len(BOUNCES))), axis=1)
                for k, strength in enumerate(BOUNCES):
                    clicks += dsp.pulses(n, sr, events[bouncing] + delays[bouncing, k],
                                         strength * chatter * amps[bouncing])
            out = out + dsp.ring(clicks, sr, BODY_MODES_HZ[valve], BODY_DECAYS_S, BODY_GAINS)
            out = out + dsp.ring(clicks, sr, (THUMP_HZ,), (THUMP_DECAY_S,), (0.8,))
            if valve == 0 and leak:
                closed = 1.0 - flow
                whistle = dsp.colored_noise(fault_rng, n, sr, lambda f: dsp.peaks(f, (3400.0,), 12.0, (1.0,)))
                out = out + 0.3 * leak * closed * whistle
        return out
