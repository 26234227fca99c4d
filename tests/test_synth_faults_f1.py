"""The "beyond energy" faults of ToyCar (speed_hunting), ToyTrain (loose_coupling), bearing
(cage_wear) and gearbox (eccentric_gear): declared last, the normal random stream independent of
the fault, faulty twins, growth with severity, the time-averaged spectrum kept
while the frame-level structure changes, and each fault's physical signature."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.machines.base import Anomaly
from asdlab.data.synth.machines.toycar import CARS
from asdlab.data.synth.machines.toytrain import TRAINS
from asdlab.data.synth.plan import cell_specs
from asdlab.data.synth.render import render

SR = 16000
N = 5 * SR
NEW = {"ToyCar": "speed_hunting", "ToyTrain": "loose_coupling", "bearing": "cage_wear",
       "gearbox": "eccentric_gear"}
OLD = {"ToyCar": ("bent_shaft", "gear_damage", "tire_damage"), "ToyTrain": ("damaged_rail", "wheel_flat"),
       "bearing": ("outer_race", "inner_race", "dry"), "gearbox": ("broken_tooth", "worn_teeth")}
EDGES = np.geomspace(100.0, 7500.0, 31)  # 30 log-spaced bands, 100 Hz - 7.5 kHz

def first_attrs(machine: str, domain: str = "source") -> dict[str, str]:
    return {k: v[0] for k, v in MODELS[machine].attributes[domain].items()}


def all_attrs(machine: str):
    for domain in ("source", "target"):
        grid = MODELS[machine].attributes[domain]
        for values in itertools.product(*grid.values()):
            yield dict(zip(grid, values))


def clip(machine, attrs, kind=None, severity=1.0, seed=5, n=N):
    anomaly = Anomaly(kind, severity) if kind else None
    return MODELS[machine].sound(attrs, anomaly, np.random.default_rng(seed), np.random.default_rng(seed + 1), n, SR)


def band_frames(x, frame=1024):
    """Power in 30 log-spaced bands of 64 ms Hann frames (hop 32 ms): (frames, 30)."""
    starts = np.arange(0, len(x) - frame + 1, frame // 2)
    power = np.abs(np.fft.rfft(x[starts[:, None] + np.arange(frame)] * np.hanning(frame), axis=1)) ** 2
    which = np.digitize(np.fft.rfftfreq(frame, 1.0 / SR), EDGES) - 1
    return np.stack([power[:, which == b].sum(axis=1) for b in range(len(EDGES) - 1)], axis=1)


def average_change(a, b):
    """How much the time-averaged spectrum changes: mean |difference| over the 30 bands (dB)."""
    return float(np.mean(np.abs(10.0 * np.log10(band_frames(a).mean(axis=0) / band_frames(b).mean(axis=0)))))


def frame_distance(a, b):
    """Mean absolute difference (dB) of the frame-by-band log energies of two clips."""
    return float(np.mean(np.abs(10.0 * np.log10(band_frames(a) / band_frames(b)))))


def structure_change(a, b):
    """The larger change (dB) of the mean spectral flux (mean |frame-to-frame difference| of
    band log energies) and of the envelope fluctuation (std of the frame log energy)."""
    def stats(x):
        e = band_frames(x)
        return np.mean(np.abs(np.diff(10.0 * np.log10(e), axis=0))), np.std(10.0 * np.log10(e.sum(axis=1)))
    (flux_a, env_a), (flux_b, env_b) = stats(a), stats(b)
    return float(max(abs(flux_a - flux_b), abs(env_a - env_b)))


def test_new_kinds_are_appended_last():
    for machine, kind in NEW.items():
        assert MODELS[machine].anomaly_kinds == OLD[machine] + (kind,)


@pytest.mark.parametrize("machine", sorted(NEW))
def test_normal_stream_does_not_depend_on_the_fault(machine):
    states = set()
    for kind in (None,) + MODELS[machine].anomaly_kinds:
        rng = np.random.default_rng(11)
        MODELS[machine].sound(first_attrs(machine), Anomaly(kind, 0.7) if kind else None, rng,
                              np.random.default_rng(12), N, SR)
        states.add(str(rng.bit_generator.state))
    assert len(states) == 1


@pytest.mark.parametrize("machine", sorted(NEW))
def test_faulty_twin(machine):
    for domain in ("source", "target"):
        attrs = first_attrs(machine, domain)
        normal = clip(machine, attrs)
        assert np.max(np.abs(clip(machine, attrs, NEW[machine], 1e-9) - normal)) < 1e-4
        faulty = clip(machine, attrs, NEW[machine], 1.0)
        assert np.all(np.isfinite(faulty)) and np.sqrt(np.mean((faulty - normal) ** 2)) > 0.1
        assert abs(np.std(faulty) / np.std(normal) - 1.0) < 0.05  # same level


@pytest.mark.parametrize("machine", sorted(NEW))
def test_stronger_fault_moves_further_from_its_twin(machine):
    attrs = first_attrs(machine)
    normal = clip(machine, attrs, n=10 * SR)
    faulty = [clip(machine, attrs, NEW[machine], s, n=10 * SR) for s in (0.1, 0.4, 1.0)]
    d = [frame_distance(f, normal) for f in faulty]
    assert 0.0 < d[0] < d[1] < d[2] and d[2] > 1.0, d
    s = [structure_change(normal, f) for f in faulty]
    assert s[0] < s[1] < s[2] and s[2] > 0.3, s


@pytest.mark.parametrize("machine", sorted(NEW))
def test_fault_beyond_energy_changes_structure_not_the_average_spectrum(machine):
    for i, attrs in enumerate(all_attrs(machine)):  # every operating point of both domains
        normal = clip(machine, attrs, seed=30 + i, n=10 * SR)
        faulty = clip(machine, attrs, NEW[machine], 1.0, seed=30 + i, n=10 * SR)
        avg, structure = average_change(normal, faulty), structure_change(normal, faulty)
        assert avg < 0.5 and structure > 3.0 * avg, (attrs, avg, structure)
        if i == 0:  # the check really separates the two kinds of change: a louder machine fails it
            louder = 1.5 * normal
            assert structure_change(normal, louder) < 0.01 < 3.0 < average_change(normal, louder)


def pitch_wander(x, hz, window_s=0.25):
    """Relative standard deviation of the strongest frequency within +-10 % of ``hz``, one
    estimate per window (FFT zero-padded 16 times)."""
    w = int(window_s * SR)
    f = np.fft.rfftfreq(16 * w, 1.0 / SR)
    near = np.abs(f - hz) < 0.1 * hz
    peaks = [f[near][np.argmax(np.abs(np.fft.rfft(x[i:i + w] * np.hanning(w), 16 * w))[near])]
             for i in range(0, len(x) - w + 1, w)]
    return float(np.std(peaks) / np.mean(peaks))


def envelope_share(x, lo, hi, band_hz, ref_hz):
    """Power (dB) of the Hilbert envelope of the ``lo``-``hi`` Hz band within ``band_hz`` (a
    (low, high) pair in Hz) over its power within ``ref_hz``, per Hz."""
    b, a = signal.butter(2, [lo, hi], btype="band", fs=SR)
    e = np.abs(signal.hilbert(signal.lfilter(b, a, x)))
    spec = np.abs(np.fft.rfft((e - e.mean()) * np.hanning(len(e)))) ** 2
    f = np.fft.rfftfreq(len(e), 1.0 / SR)
    inside = lambda band: spec[(f > band[0]) & (f < band[1])].mean()
    return float(10.0 * np.log10(inside(band_hz) / inside(ref_hz)))


def test_speed_faults_make_the_motor_pitch_wander():
    """ToyCar speed_hunting: the commutation whine's pitch wanders (standard deviation 1.5 %
    of the rate against about 0.3 % of natural wobble); ToyTrain loose_coupling: the motor
    follows the surging train (2 % against 0.7 %)."""
    for car in ("A1", "B2"):
        hz = CARS[car].commutations * CARS[car].hz_per_volt * 31.0
        attrs = {"car": car, "spd": "31V", "mic": "1"}
        w = [pitch_wander(clip("ToyCar", attrs, "speed_hunting", s, seed=40, n=10 * SR), hz) for s in (1e-9, 0.4, 1.0)]
        assert w[0] < 0.005 < w[1] < w[2] and 0.012 < w[2] < 0.03, (car, w)
    for car in ("A1", "B1"):
        hz = TRAINS[car].motor_hz_per_mps * 0.8
        attrs = {"car": car, "spd": "8", "mic": "1"}
        w = [pitch_wander(clip("ToyTrain", attrs, "loose_coupling", s, seed=40, n=10 * SR), hz) for s in (1e-9, 1.0)]
        assert w[0] < 0.01 and w[1] > 2.0 * w[0], (car, w)


def test_eccentric_gear_modulates_the_mesh_once_per_wheel_turn():
    """The gearbox's sound envelope gains a line at the wheel rate (17/41 of the shaft rate)."""
    for volt, wt in (("1.0", "0"), ("1.6", "150")):
        wheel = 24.0 * float(volt) * (1.0 - 0.0006 * float(wt)) * 17 / 41
        share = [envelope_share(clip("gearbox", {"volt": volt, "wt": wt}, "eccentric_gear", s, seed=40, n=10 * SR),
                                300.0, 6000.0, (0.85 * wheel, 1.15 * wheel), (2.5 * wheel, 6.0 * wheel))
                 for s in (1e-9, 0.1, 1.0)]
        assert share[0] < 3.0 < share[0] + 5.0 < share[1] < share[2] - 10.0, (volt, wt, share)


def test_cage_wear_roughens_the_cage_rate_modulation():
    """The bearing's rolling-noise envelope gains power at the cage rate and its harmonics
    (0.5-4.5 x FTF, against 20-40 x FTF)."""
    for vel in ("6", "14"):
        ftf = 0.5 * (1.0 - 0.2) * 4.0 * float(vel)
        share = [envelope_share(clip("bearing", {"vel": vel, "loc": "A"}, "cage_wear", s, seed=40, n=10 * SR),
                                1500.0, 7000.0, (0.5 * ftf, 4.5 * ftf), (20.0 * ftf, 40.0 * ftf))
                 for s in (1e-9, 0.4, 1.0)]
        assert share[0] + 3.0 < share[1] < share[2] - 3.0, (vel, share)
