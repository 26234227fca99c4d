"""Centrifugal water pump: motor hum, vane-pass pulsation and pipe-resonant flow noise.

Physics: a 2-pole induction motor on 50 Hz mains turns the impeller at ``rpm`` (a little below
3000 rpm, by its slip); the speed hardly changes from clip to clip. The motor hums at twice the
mains frequency and whines at the rotor-slot pass frequency (``bars`` x shaft rate, with
100 Hz sidebands); residual imbalance gives a weak shaft-rate line. Each of the ``vanes``
impeller vanes passing the volute tongue makes a pressure pulse: the vane-pass tone (vanes x
shaft rate) and its harmonics, stronger away from the best-efficiency flow. Turbulent flow
makes broadband noise whose level grows with the flow rate (``flow``, fraction of the
best-efficiency flow) and which is modulated at vane pass; the water column in the discharge
pipe (``pipe_m`` long, sound speed about 1250 m/s in a water-filled steel pipe) resonates at
multiples of c / 2L, and three casing modes (``casing1..3`` Hz) colour tones and noise alike;
the mounting (``tilt``, dB per octave) makes a unit brighter or duller. Bearings hiss faintly.
Each clip has its own small speed offset, slow flow fluctuation, levels and phases.

Units (DCASE 2020 machine IDs, :meth:`Pump.unit`): ``rpm``, ``vanes``, ``bars``, ``pipe_m``,
``casing1..3``, ``flow``, ``tilt``, drawn independently: two units differ in tone pitches,
resonance combs, brightness and flow noise, and still sound like the same kind of pump.
Anomalies:

- ``leakage``: a leaking seal or flange on the pressure side - a jet hiss with an orifice
  peak (2.5-5 kHz) pulsing with the vane-pass pressure, and a little less delivered flow;
- ``contamination``: grit in the water - random impacts of particles on the impeller and
  casing (Poisson, more and harder the more severe) ringing the casing and impeller modes;
- ``clogging``: a partly blocked inlet or impeller channel - the pump runs at part load and
  the flow surges irregularly 1-3 times a second (flow noise and vane-pass tone swell and fade,
  the motor slip follows the load), and the blocked channel weakens one vane pulse per
  revolution (the vane-pass tone throbs at the shaft rate). Both are modulations around the
  same mean power: the time-averaged spectrum hardly changes, the frame-to-frame envelope does.
"""

from __future__ import annotations

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

MAINS_HZ = 50.0
PIPE_SOUND_SPEED = 1250.0  # m/s, water in a steel pipe (wall elasticity lowers it from 1480)
CASING_BASE_HZ = (750.0, 1900.0, 3600.0)
CASING_DECAYS_S = (0.004, 0.0025, 0.0015)
IMPELLER_MODE_HZ = 5600.0
UNIT_KEYS = ("rpm", "vanes", "bars", "pipe_m", "casing1", "casing2", "casing3", "flow", "tilt")


class Pump(MachineModel):
    name = "pump"
    hidden = True
    styles = ("dcase2020",)
    attributes = {}
    anomaly_kinds = ("leakage", "contamination", "clogging")
    environment = {"source": "plant"}
    snr_db = {"source": (6.0, 14.0)}

    def unit(self, rng):
        casing = np.array(CASING_BASE_HZ) * rng.uniform(0.88, 1.14, 3)
        return {
            "rpm": f"{rng.uniform(2820.0, 2980.0):.1f}",
            "vanes": str(int(rng.integers(5, 8))),
            "bars": str(int(rng.integers(24, 35))),
            "pipe_m": f"{rng.uniform(2.0, 5.0):.2f}",
            "casing1": f"{casing[0]:.0f}",
            "casing2": f"{casing[1]:.0f}",
            "casing3": f"{casing[2]:.0f}",
            "flow": f"{rng.uniform(0.75, 1.0):.2f}",
            "tilt": f"{rng.uniform(-2.0, 0.0):.2f}",
        }

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        leak = self.severity(anomaly, "leakage")
        grit = self.severity(anomaly, "contamination")
        clog = self.severity(anomaly, "clogging")
        p = self.unit_numbers(attrs, UNIT_KEYS)
        vanes, bars, flow = int(p["vanes"]), int(p["bars"]), p["flow"]
        casing = (p["casing1"], p["casing2"], p["casing3"])
        comb = np.arange(1, 40) * PIPE_SOUND_SPEED / (2.0 * p["pipe_m"])
        comb = comb[comb < 4000.0]

        def response(f):  # casing modes x pipe resonances x mounting slope
            f = np.asarray(f, dtype=np.float64)
            return ((0.45 + dsp.peaks(f, casing, 5.0, (0.7, 0.5, 0.35)))
                    * (0.7 + dsp.peaks(f, comb, 12.0, 0.35 * 0.97 ** np.arange(len(comb))))
                    * dsp.tilt(f, p["tilt"]))

        # the fault's modulations (zero for a normal clip): surge and blocked-channel throb
        surge = dsp.drift(fault_rng, n, sr, rate_hz=fault_rng.uniform(1.0, 3.0))
        surge = 0.5 * clog * (surge - surge.mean()) / (surge.std() + 1e-12)
        blocked_angle = fault_rng.uniform(0, 2 * np.pi)

        shaft_hz = p["rpm"] / 60.0
        f_shaft = dsp.rate(rng, shaft_hz, n, sr, jitter=0.002, wobble=0.0008)
        f_shaft = f_shaft * (1.0 - 0.004 * surge)  # more load, more slip
        theta = dsp.phase(f_shaft, n, sr, rng.uniform(0, 2 * np.pi))
        mains = dsp.phase(2.0 * MAINS_HZ * (1.0 + 0.0005 * rng.standard_normal()), n, sr)

        hum = dsp.harmonics(mains, 0.10 * np.array([1.0, 0.4, 0.2]) * dsp.db(rng.normal(0.0, 1.0, 3)),
                            dsp.phases(rng, 3))
        slot_hz = bars * shaft_hz
        slot = (dsp.harmonics(bars * theta + mains, [0.035 * response(slot_hz + 100.0)], dsp.phases(rng, 1))
                + dsp.harmonics(bars * theta - mains, [0.035 * response(slot_hz - 100.0)], dsp.phases(rng, 1)))
        shaft = dsp.harmonics(theta, [0.05, 0.02], dsp.phases(rng, 2))
        k = np.arange(1, 6)
        vp_amps = (0.6 * (1.0 + 0.8 * (1.0 - flow)) * 0.55 ** (k - 1) * response(k * vanes * shaft_hz)
                   * dsp.db(rng.normal(0.0, 1.0, 5)))
        vane_pass = dsp.harmonics(vanes * theta, vp_amps, dsp.phases(rng, 5))
        noise = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 40.0, 6000.0, 1.0)
                                  * dsp.tilt(f, -4.5, 400.0) * response(f))
        flow_level = 0.85 * (flow / 0.85) ** 2 * (1.0 - 0.12 * leak)
        fluct = 1.0 + 0.08 * dsp.drift(rng, n, sr, rate_hz=0.7)
        vp_mod = 1.0 + 0.2 * np.sin(vanes * theta + rng.uniform(0, 2 * np.pi))
        bearing = 0.05 * dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 3000.0, 7500.0, 2.0))

        surging = np.clip(fluct + surge, 0.05, None)
        surging /= np.sqrt(np.mean(surging ** 2) / np.mean(fluct ** 2))  # same mean power
        depth = 0.6 * clog
        throb = (1.0 - depth * np.maximum(np.cos(theta - blocked_angle), 0.0) ** 4)
        throb /= np.sqrt(np.mean(throb ** 2))
        out = (hum + slot + shaft + bearing
               + (vane_pass * throb + flow_level * noise * vp_mod) * surging)

        if leak:
            f_leak = fault_rng.uniform(2500.0, 5000.0)
            jet = dsp.colored_noise(fault_rng, n, sr, lambda f: dsp.band(f, 1200.0, 7000.0, 1.5)
                                    * (0.3 + dsp.peaks(f, (f_leak,), 6.0, (1.0,))))
            pulsing = 1.0 + 0.3 * np.sin(vanes * theta + fault_rng.uniform(0, 2 * np.pi))
            out = out + 0.45 * leak * jet * pulsing
        if grit:
            times = dsp.poisson_times(fault_rng, 3.0 + 30.0 * grit, n / sr)
            hits = dsp.pulses(n, sr, times, 2.5 * grit * fault_rng.lognormal(0.0, 0.6, len(times)))
            out = out + dsp.ring(hits, sr, casing + (IMPELLER_MODE_HZ,), CASING_DECAYS_S + (0.001,),
                                 (0.5, 0.7, 0.8, 1.0))
        return out
