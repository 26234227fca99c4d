"""Industrial fan: shaft-rate harmonics, blade-pass tones and aerodynamic broadband noise.

Physics: a fan with ``blade`` blades turning at ``spd`` revolutions per second radiates tones
at the blade-pass frequency (BPF = blades x shaft rate) and its harmonics, a weak residual
imbalance line at the shaft rate, 100 Hz motor hum, and turbulent broadband noise whose level
grows with the fifth power of speed (fan law: +15 dB per doubling), whose spectrum scales with
speed, and which is modulated by every blade passing. Housing modes colour the noise.

Attributes: ``spd`` shaft rate (Hz), ``blade`` number of blades.
Domain shift: the target fan runs faster (30 Hz) than any source fan.
DCASE 2020 units (machine IDs): each fan its own shaft rate (18-32 Hz) and blade count (5-9).
Anomalies:

- ``imbalance``: a mass imbalance on a loose mount - a strong once-per-revolution line with
  its first harmonics and a throbbing amplitude modulation of the whole sound at the shaft rate;
- ``blade_rub``: a blade tip scraping the housing once per revolution - short bursts of
  high-frequency scraping noise whose intensity comes and goes;
- ``clogging``: a clogged filter or duct - the fan slows down, the flow noise gets louder and
  darker and fluctuates slowly (unsteady flow);
- ``speed_hunting``: an unstable speed loop (an inverter with a worn speed sensor, or a belt
  that slips and grips): the shaft rate wanders irregularly around its set point, 1.5-3 swings
  a second, by 4 % (standard deviation; peaks of 10-15 %) at severity 1. Blade-pass and shaft
  tones glide with it, and their level follows it as dipole sources do (sound power ~ speed^6),
  the flow noise's as the fan law says (~ speed^5); each swing is rescaled to keep its mean
  power, so the time-averaged spectrum hardly changes while the frame-to-frame one does.
"""

from __future__ import annotations

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

HOUSING_MODES_HZ = (640.0, 1450.0, 2900.0)
MAINS_HUM_HZ = 100.0
HUNT_DEPTH = 0.04  # standard deviation of the relative speed swing of speed_hunting at severity 1


class Fan(MachineModel):
    name = "fan"
    attributes = {
        "source": {"spd": ("20", "25"), "blade": ("5", "7")},
        "target": {"spd": ("30",), "blade": ("5", "7")},
    }
    anomaly_kinds = ("imbalance", "blade_rub", "clogging", "speed_hunting")
    environment = {"source": "hall", "target": "hall"}
    snr_db = {"source": (4.0, 12.0), "target": (4.0, 12.0)}
    styles = ("dcase2024", "dcase2020")

    def unit(self, rng):
        return {"spd": f"{rng.uniform(18.0, 32.0):.1f}", "blade": str(int(rng.choice([5, 6, 7, 9])))}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        imbalance = self.severity(anomaly, "imbalance")
        rub = self.severity(anomaly, "blade_rub")
        clog = self.severity(anomaly, "clogging")
        hunt = self.severity(anomaly, "speed_hunting")
        shaft_hz = float(attrs["spd"])
        blades = int(attrs["blade"])
        speed_ratio = shaft_hz / 25.0

        f_shaft = dsp.rate(rng, shaft_hz * (1.0 - 0.03 * clog), n, sr, jitter=0.008)
        if hunt:  # relative speed error of the hunting loop, and the loudness that follows it
            swing = dsp.drift(fault_rng, n, sr, rate_hz=fault_rng.uniform(1.5, 3.0))
            swing = HUNT_DEPTH * hunt * (swing - swing.mean()) / (swing.std() + 1e-12)
            f_shaft = f_shaft * (1.0 + swing)
            tone_gain, flow_gain = (1.0 + swing) ** 3.0, (1.0 + swing) ** 2.5  # power ~ speed^6, ^5
            tone_gain /= np.sqrt(np.mean(tone_gain ** 2))  # each keeps its mean power
            flow_gain /= np.sqrt(np.mean(flow_gain ** 2))
        theta = dsp.phase(f_shaft, n, sr, rng.uniform(0, 2 * np.pi))
        bpf_amps = 0.30 * 0.55 ** np.arange(6) * dsp.db(rng.normal(0.0, 1.5, 6))
        blade_tones = dsp.harmonics(blades * theta, bpf_amps, dsp.phases(rng, 6))
        shaft_tones = dsp.harmonics(theta, [0.05, 0.025, 0.012], dsp.phases(rng, 3))
        hum = dsp.harmonics(dsp.phase(MAINS_HUM_HZ, n, sr), [0.05, 0.02], dsp.phases(rng, 2))

        centre = 350.0 * speed_ratio * (1.0 - 0.35 * clog)
        flow = dsp.colored_noise(rng, n, sr, lambda f: dsp.band(f, 0.25 * centre, centre, 1.0)
                                 * (0.6 + dsp.peaks(f, HOUSING_MODES_HZ, 4.0, (0.5, 0.4, 0.25))))
        flow_level = 0.85 * speed_ratio ** 2.5 * dsp.db(6.0 * clog)
        blade_mod = 1.0 + 0.15 * np.sin(blades * theta + rng.uniform(0, 2 * np.pi))
        surge = 1.0 + 0.35 * clog * dsp.drift(fault_rng, n, sr, rate_hz=2.0)
        if hunt:
            out = (blade_tones + shaft_tones) * tone_gain + flow_level * flow * blade_mod * flow_gain + hum
        else:
            out = blade_tones + shaft_tones + hum + flow_level * flow * blade_mod * surge

        if imbalance:
            wobble = 1.0 + 0.3 * imbalance * np.sin(theta + fault_rng.uniform(0, 2 * np.pi))
            looseness = dsp.harmonics(theta, imbalance * np.array([0.6, 0.3, 0.15, 0.08]),
                                      dsp.phases(fault_rng, 4))
            out = out * wobble + looseness
        if rub:
            contact = np.maximum(np.cos(theta - fault_rng.uniform(0, 2 * np.pi)), 0.0) ** 12
            intensity = np.clip(0.6 + 0.6 * dsp.drift(fault_rng, n, sr, rate_hz=1.5), 0.0, None)
            scrape = dsp.colored_noise(fault_rng, n, sr, lambda f: dsp.band(f, 2200.0, 6000.0, 2.0))
            out = out + 1.6 * rub * contact * intensity * scrape
        return out
