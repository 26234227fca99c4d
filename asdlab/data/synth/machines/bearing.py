"""Rolling-element bearing on a test rig: rolling noise ringing structural resonances, and
defect impulse trains at the bearing's characteristic frequencies.

Physics: a shaft at ``f_r`` Hz carries a bearing with 9 balls (ball/pitch diameter ratio 0.2,
zero contact angle). A healthy bearing makes broadband rolling noise, slightly modulated at the
cage frequency (FTF = f_r/2 (1 - d/D)), sparse micro-impacts from surface roughness, and the
drive shows shaft-rate harmonics and motor hum. What the microphone hears of the structure
depends on where it is: each position sees other resonances. A local defect produces an
impact each time a ball passes it, which rings the resonances: on the outer race at
BPFO = n/2 f_r (1 - d/D), on the inner race at BPFI = n/2 f_r (1 + d/D), amplitude-modulated
at the shaft rate as the defect passes through the load zone.

Attributes: ``vel`` rotation speed level (shaft rate = 4 x vel Hz), ``loc`` microphone
location. Domain shift: target speeds between the source ones, a microphone location never
used in the source domain, and a noisier background (the ``plant``).
Anomalies:

- ``outer_race``: a spall on the outer race - a steady metallic ticking at BPFO with a little
  slip jitter;
- ``inner_race``: a spall on the inner race - ticking at BPFI, pulsing once per revolution;
- ``dry``: lubrication loss - a brighter, louder friction hiss and many more micro-impacts;
- ``cage_wear``: worn cage pockets - the cage no longer holds the balls evenly and runs
  unstably: in irregular episodes (1-3 a second) the balls skid, so the cage falls behind its
  kinematic rate (slip up to 10 %), the cage-rate modulation of the rolling noise deepens and
  turns rough (harmonics of the cage rate), and the rolling noise swells (up to +40 %), while
  it is quieter between episodes (down to -40 %). A modulation of rate and level around the
  same mean (the rolling noise keeps its mean power): the time-averaged spectrum hardly
  changes, the frame-to-frame envelope does.
"""

from __future__ import annotations

import numpy as np

from asdlab.data.synth import dsp
from asdlab.data.synth.machines.base import Anomaly, MachineModel

N_BALLS = 9
BALL_RATIO = 0.2  # ball diameter / pitch diameter
MODES_HZ = {"A": (2300.0, 3900.0, 5600.0), "B": (1700.0, 3100.0, 4800.0), "C": (2000.0, 3500.0, 6300.0)}
MODE_GAINS = {"A": (1.0, 0.7, 0.5), "B": (0.6, 1.0, 0.5), "C": (0.8, 0.5, 0.9)}
MODE_DECAYS_S = (0.005, 0.0035, 0.0025)


class Bearing(MachineModel):
    name = "bearing"
    attributes = {
        "source": {"vel": ("6", "10", "14"), "loc": ("A", "B")},
        "target": {"vel": ("8", "12"), "loc": ("C",)},
    }
    anomaly_kinds = ("outer_race", "inner_race", "dry", "cage_wear")
    environment = {"source": "hall", "target": "plant"}
    snr_db = {"source": (4.0, 12.0), "target": (2.0, 10.0)}

    def sound(self, attrs, anomaly: Anomaly | None, rng, fault_rng, n, sr):
        outer = self.severity(anomaly, "outer_race")
        inner = self.severity(anomaly, "inner_race")
        dry = self.severity(anomaly, "dry")
        wear = self.severity(anomaly, "cage_wear")
        loc = attrs["loc"]
        modes, gains = MODES_HZ[loc], MODE_GAINS[loc]
        f_r = dsp.rate(rng, 4.0 * float(attrs["vel"]), n, sr, jitter=0.01)
        theta = dsp.phase(f_r, n, sr, rng.uniform(0, 2 * np.pi))
        speed_ratio = float(np.mean(f_r)) / 40.0
        duration = n / sr

        drive = dsp.harmonics(theta, [0.08, 0.05, 0.03], dsp.phases(rng, 3))
        drive += dsp.harmonics(dsp.phase(100.0, n, sr), [0.05, 0.02], dsp.phases(rng, 2))
        structure = lambda f: dsp.band(f, 400.0, 7500.0, 1.0) * (0.25 + dsp.peaks(f, modes, 5.0, gains))
        cage_start = rng.uniform(0, 2 * np.pi)
        cage = 1.0 + 0.12 * np.sin(0.5 * (1.0 - BALL_RATIO) * theta + cage_start)
        if wear:  # skidding episodes: the cage lags, its modulation deepens, the noise swells
            episodes = dsp.drift(fault_rng, n, sr, rate_hz=fault_rng.uniform(1.0, 3.0))
            episodes = np.clip((episodes - episodes.mean()) / (episodes.std() + 1e-12), -2.5, 2.5)
            skid = 1.0 / (1.0 + np.exp(-3.0 * episodes))  # 0 (rolling) .. 1 (skidding)
            slip = dsp.phase(0.1 * wear * skid * f_r, n, sr)  # shaft turns lost by skidding
            cage_theta = 0.5 * (1.0 - BALL_RATIO) * (theta - slip) + cage_start
            rough = 0.12 * np.sin(cage_theta) + wear * (0.5 + 0.5 * skid) * dsp.harmonics(
                cage_theta, [0.3, 0.3, 0.2, 0.1], dsp.phases(fault_rng, 4))
            worn = np.clip((1.0 + 0.4 * wear * (2.0 * skid - 1.0)) * (1.0 + rough), 0.0, None)
            cage = worn * np.sqrt(np.mean(cage ** 2) / np.mean(worn ** 2))  # same mean power
        rolling = 0.8 * speed_ratio * dsp.colored_noise(rng, n, sr, structure) * cage
        roughness = dsp.poisson_times(rng, 25.0, duration)
        rough_amps = 0.25 * rng.exponential(1.0, len(roughness))
        friction = dsp.colored_noise(fault_rng, n, sr, lambda f: dsp.band(f, 3500.0, 8000.0, 1.5))
        out = drive + rolling * dsp.db(4.0 * dry) + 0.5 * dry * speed_ratio * friction

        impulses = dsp.pulses(n, sr, roughness, rough_amps)
        if dry:
            extra = dsp.poisson_times(fault_rng, 250.0 * dry, duration)
            impulses += dsp.pulses(n, sr, extra, 0.35 * fault_rng.exponential(1.0, len(extra)))
        if outer:
            bpfo = dsp.phase(0.5 * N_BALLS * (1.0 - BALL_RATIO) * f_r
                             * (1.0 + 0.01 * dsp.drift(fault_rng, n, sr, 3.0)), n, sr)
            hits = dsp.crossings(bpfo, sr, fault_rng.uniform(0, 2 * np.pi))
            impulses += dsp.pulses(n, sr, hits, 2.2 * outer * dsp.db(fault_rng.normal(0.0, 1.0, len(hits))))
        if inner:
            bpfi = dsp.phase(0.5 * N_BALLS * (1.0 + BALL_RATIO) * f_r, n, sr)
            hits = dsp.crossings(bpfi, sr, fault_rng.uniform(0, 2 * np.pi))
            load_zone = (0.5 + 0.5 * np.cos(theta[np.minimum((hits * sr).astype(int), n - 1)])) ** 2
            amps = 3.0 * inner * load_zone * dsp.db(fault_rng.normal(0.0, 1.0, len(hits)))
            impulses += dsp.pulses(n, sr, hits, amps)
        return out + dsp.ring(impulses, sr, modes, MODE_DECAYS_S, gains)
