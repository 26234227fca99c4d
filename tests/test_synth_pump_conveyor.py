"""The DCASE-2020-only sound models pump and ToyConveyor: declarations, units, determinism,
level, faulty twins, severity, unit-to-unit differences and the faults beyond energy."""

from __future__ import annotations

import numpy as np
import pytest

from asdlab.core.errors import ConfigError
from asdlab.data.synth.machines.base import Anomaly
from asdlab.data.synth.machines.pump import Pump
from asdlab.data.synth.machines.toyconveyor import ToyConveyor, _impulses, _passes
from asdlab.data.synth.noise import ENVIRONMENTS

SR = 16000
N = 5 * SR
MODELS = (Pump(), ToyConveyor())
KINDS = [(m, kind) for m in MODELS for kind in m.anomaly_kinds]
BEYOND_ENERGY = {"pump": "clogging", "ToyConveyor": "slack_belt"}
EDGES = np.geomspace(100.0, 7500.0, 31)  # 30 log-spaced bands, 100 Hz - 7.5 kHz


def clip(model, attrs, anomaly=None, seed=5, n=N):
    return model.sound(attrs, anomaly, np.random.default_rng(seed), np.random.default_rng(seed + 1), n, SR)


def band_frames(x, frame=1024):
    """Power in 30 log-spaced bands of 64 ms Hann frames (hop 32 ms): (frames, 30)."""
    starts = np.arange(0, len(x) - frame + 1, frame // 2)
    power = np.abs(np.fft.rfft(x[starts[:, None] + np.arange(frame)] * np.hanning(frame), axis=1)) ** 2
    which = np.digitize(np.fft.rfftfreq(frame, 1.0 / SR), EDGES) - 1
    return np.stack([power[:, which == b].sum(axis=1) for b in range(len(EDGES) - 1)], axis=1)


def long_term_db(x):
    return 10.0 * np.log10(band_frames(x).mean(axis=0))


def frame_distance(a, b):
    """Mean absolute difference (dB) of the frame-by-band log energies of two clips."""
    return float(np.mean(np.abs(10.0 * np.log10(band_frames(a) / band_frames(b)))))


def average_change(a, b):
    """How much the time-averaged spectrum changes: mean |difference| over bands (dB)."""
    return float(np.mean(np.abs(long_term_db(a) - long_term_db(b))))


def structure_change(a, b):
    """How much the frame-to-frame structure changes (dB): the larger change of the mean
    spectral flux (mean |frame-to-frame difference| of band log energies) and of the standard
    deviation of the frame log energy (envelope fluctuation)."""
    def stats(x):
        e = 10.0 * np.log10(band_frames(x))
        return np.mean(np.abs(np.diff(e, axis=0))), np.std(10.0 * np.log10(band_frames(x).sum(axis=1)))
    (flux_a, env_a), (flux_b, env_b) = stats(a), stats(b)
    return float(max(abs(flux_a - flux_b), abs(env_a - env_b)))


def test_declarations():
    for model in MODELS:
        assert model.styles == ("dcase2020",) and model.hidden and model.attributes == {}
        assert set(model.environment) == {"source"} and model.environment["source"] in ENVIRONMENTS
        lo, hi = model.snr_db["source"]
        assert 0.0 < lo < hi <= 20.0
        assert len(model.anomaly_kinds) == 3 == len(set(model.anomaly_kinds))
    assert MODELS[0].name == "pump" and MODELS[1].name == "ToyConveyor"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_units_are_strings_drawn_from_the_generator(model):
    a, b = model.unit(np.random.default_rng(0)), model.unit(np.random.default_rng(0))
    c = model.unit(np.random.default_rng(1))
    assert a == b and a != c
    assert all(isinstance(v, str) for v in a.values())
    assert all(float(v) > 0 or k == "tilt" for k, v in a.items())
    assert sum(a[k] != c[k] for k in a) >= 5  # units differ in many parameters, not one tone
    broken = dict(a)
    broken.pop(next(iter(broken)))
    with pytest.raises(ConfigError, match=rf"{model.name}: unit attribute '{next(iter(a))}' missing"):
        clip(model, broken)
    with pytest.raises(ConfigError, match="must be numbers"):
        clip(model, {**a, next(iter(a)): "fast"})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_deterministic_finite_and_about_unit_rms(model):
    levels = []
    for u in range(4):
        attrs = model.unit(np.random.default_rng(u))
        x = clip(model, attrs)
        assert x.shape == (N,) and x.dtype == np.float64 and np.all(np.isfinite(x))
        assert np.array_equal(x, clip(model, attrs))
        assert not np.array_equal(x, clip(model, attrs, seed=7))
        levels.append(np.sqrt(np.mean(x ** 2)))
    assert 0.5 < min(levels) and max(levels) < 2.0, levels


def test_spectral_lines_where_the_physics_puts_them():
    def line_contrast(x, hz):  # strongest bin within 1.5 % of hz over the median +-10 % around it
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        f = np.fft.rfftfreq(len(x), 1.0 / SR)
        near, around = np.abs(f - hz) < 0.015 * hz, np.abs(f - hz) < 0.1 * hz
        return 10.0 * np.log10(spec[near].max() / np.median(spec[around]))

    pump, conveyor = MODELS
    for u in range(3):
        p = pump.unit(np.random.default_rng(u))
        assert line_contrast(clip(pump, p), int(p["vanes"]) * float(p["rpm"]) / 60.0) > 20.0  # vane pass
        c = conveyor.unit(np.random.default_rng(u))
        x = clip(conveyor, c)
        assert line_contrast(x, 6 * float(c["motor_hz"])) > 20.0  # commutation whine
        assert line_contrast(x, int(c["pinion"]) * float(c["motor_hz"])) > 20.0  # gear mesh


@pytest.mark.parametrize("model,kind", KINDS, ids=lambda v: getattr(v, "name", v))
def test_faulty_twin(model, kind):
    attrs = model.unit(np.random.default_rng(3))
    normal = clip(model, attrs)
    # 1e-9, not 1e-6: slack_belt shifts the sharp splice ticks in time, and a shift of a
    # fraction of a sample changes a 3.6 kHz tick's samples by ~1e-3 at 1e-6 (linear in it)
    assert np.max(np.abs(clip(model, attrs, Anomaly(kind, 1e-9)) - normal)) < 1e-4
    faulty = clip(model, attrs, Anomaly(kind, 1.0))
    assert np.sqrt(np.mean((faulty - normal) ** 2)) > 0.1


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_normal_stream_does_not_depend_on_the_fault(model):
    attrs = model.unit(np.random.default_rng(0))
    states = set()
    for anomaly in [None] + [Anomaly(k, 0.7) for k in model.anomaly_kinds]:
        rng = np.random.default_rng(11)
        model.sound(attrs, anomaly, rng, np.random.default_rng(12), N, SR)
        states.add(str(rng.bit_generator.state))
    assert len(states) == 1


@pytest.mark.parametrize("model,kind", KINDS, ids=lambda v: getattr(v, "name", v))
def test_stronger_fault_moves_further_from_its_twin(model, kind):
    attrs = model.unit(np.random.default_rng(2))
    normal = clip(model, attrs)
    d = [frame_distance(clip(model, attrs, Anomaly(kind, s)), normal) for s in (0.1, 0.4, 1.0)]
    assert 0.0 < d[0] < d[1] < d[2], d
    assert d[2] > 0.3, d


def test_units_differ_but_less_than_machine_types():
    spectra = {m.name: [long_term_db(clip(m, m.unit(np.random.default_rng(u)), seed=20 + u))
                        for u in range(4)] for m in MODELS}
    (a, sa), (b, sb) = spectra.items()
    across = min(np.mean(np.abs(x - y)) for x in sa for y in sb)
    for name, s in spectra.items():
        within = [np.mean(np.abs(s[i] - s[j])) for i in range(4) for j in range(i + 1, 4)]
        assert min(within) > 0.5, (name, within)  # every unit sounds different ...
        assert max(within) < across, (name, within, across)  # ... but like its machine type
    # two clips of one unit are closer than two units
    m = MODELS[0]
    unit = m.unit(np.random.default_rng(0))
    same = np.mean(np.abs(long_term_db(clip(m, unit, seed=20)) - long_term_db(clip(m, unit, seed=40))))
    assert same < 0.5


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_fault_beyond_energy_changes_structure_not_the_average_spectrum(model):
    kind = BEYOND_ENERGY[model.name]
    for u in range(3):
        attrs = model.unit(np.random.default_rng(u))
        normal = clip(model, attrs, seed=30 + u, n=10 * SR)
        faulty = clip(model, attrs, Anomaly(kind, 1.0), seed=30 + u, n=10 * SR)
        avg, structure = average_change(normal, faulty), structure_change(normal, faulty)
        assert avg < 0.5 and structure > 3.0 * avg, (u, avg, structure)
        # the statistic really separates the two kinds of fault: a louder machine fails it
        louder = 1.5 * normal
        assert structure_change(normal, louder) < 0.01 < 3.0 < average_change(normal, louder)
    # ... and so does the pump's energy fault (a steady hiss)
    pump = MODELS[0]
    attrs = pump.unit(np.random.default_rng(0))
    normal = clip(pump, attrs, n=10 * SR)
    leak = clip(pump, attrs, Anomaly("leakage", 1.0), n=10 * SR)
    assert structure_change(normal, leak) < 0.5 * average_change(normal, leak)


def test_event_helpers_known_values():
    theta = np.linspace(0.0, 4.0 * np.pi, 9)  # pi/2 per sample, at sr = 1 Hz: 2 turns
    times, turns = _passes(theta, 1, np.pi / 4)  # passes at samples 0.5 and 4.5
    assert np.allclose(times, [0.5, 4.5]) and list(turns) == [0, 1]
    x = _impulses(5, 1, [1.25, 3.0, 4.5], [4.0, 2.0, 8.0])
    assert np.allclose(x, [0.0, 3.0, 1.0, 2.0, 4.0])  # 4.5: the half past the end is dropped
