"""The "beyond energy" faults of fan, slider and valve (fan ``speed_hunting``, slider
``backlash``, valve ``sluggish``): declared last, faulty twins, growth with severity, the normal
random stream independent of the fault, and a changed time structure over an unchanged average
spectrum."""

from __future__ import annotations

import importlib
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from asdlab.data.synth import dsp
from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.machines.base import Anomaly
from asdlab.data.synth.machines.slider import DWELL_S, G, LAG_RANGE, _cycle, _lagging, _motion, _settling_lag
from asdlab.data.synth.machines.valve import PATTERNS
from asdlab.data.synth.noise import ENVIRONMENTS
from asdlab.data.synth.plan import cell_specs
from asdlab.data.synth.render import render

SR = 16000
N = 5 * SR
NEW = {"fan": "speed_hunting", "slider": "backlash", "valve": "sluggish"}
ENERGY = {"fan": "clogging", "slider": "no_grease"}  # faults that mostly add energy (the valve's
# other faults all change its rhythm or fill its quiet phases, so it has none to compare with)
EDGES = np.geomspace(100.0, 7500.0, 31)  # 30 log-spaced bands, 100 Hz - 7.5 kHz
FRAME, HOP = 1024, 512  # 64 ms Hann frames, hop 32 ms

def machine(name, attrs, anomaly=None, seed=5, n=N):
    rng, fault_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    return MODELS[name].sound(attrs, anomaly, rng, fault_rng, n, SR)


def recorded(name, attrs, anomaly=None, seed=5, n=N):
    """The machine in its source background at the quiet end of its SNR range (the slider is
    silent while it dwells, so the machine alone has frames of zero energy)."""
    model = MODELS[name]
    noise = ENVIRONMENTS[model.environment["source"]].render(np.random.default_rng(seed + 2), n, SR)
    return machine(name, attrs, anomaly, seed, n) + noise * dsp.db(-model.snr_db["source"][1])


def band_frames(x):
    """Power in 30 log-spaced bands of 64 ms Hann frames (hop 32 ms): (frames, 30)."""
    starts = np.arange(0, len(x) - FRAME + 1, HOP)
    power = np.abs(np.fft.rfft(x[starts[:, None] + np.arange(FRAME)] * np.hanning(FRAME), axis=1)) ** 2
    which = np.digitize(np.fft.rfftfreq(FRAME, 1.0 / SR), EDGES) - 1
    return np.stack([power[:, which == b].sum(axis=1) for b in range(len(EDGES) - 1)], axis=1)


def average_change(clips_a, clips_b):
    """How much the time-averaged spectrum (30 bands, over all frames of all clips) changes:
    mean |difference| over bands (dB)."""
    def long_term(clips):
        return 10.0 * np.log10(np.vstack([band_frames(x) for x in clips]).mean(axis=0))
    return float(np.mean(np.abs(long_term(clips_a) - long_term(clips_b))))


def frame_stats(x, cycle_s=None):
    """Frame-level statistics (dB) of a clip: mean spectral flux (mean |frame-to-frame
    difference| of the band log energies), envelope fluctuation (standard deviation of the frame
    log energy) and, for a machine with a working cycle of ``cycle_s`` seconds, the cycle
    mismatch: mean |difference| of the frame log energy one cycle apart (best lag within +-3 %)."""
    power = band_frames(x)
    bands, total = 10.0 * np.log10(power), 10.0 * np.log10(power.sum(axis=1))
    stats = [np.mean(np.abs(np.diff(bands, axis=0))), np.std(total)]
    if cycle_s is not None and cycle_s < 0.75 * len(x) / SR:
        lags = range(int(0.97 * cycle_s * SR / HOP), math.ceil(1.03 * cycle_s * SR / HOP) + 1)
        stats.append(min(np.mean(np.abs(total[lag:] - total[:-lag])) for lag in lags))
    return np.array(stats)


def structure_change(clips_a, clips_b, cycle_s=None):
    """The largest change (dB) of a frame-level statistic (:func:`frame_stats`, mean over clips)."""
    a = np.mean([frame_stats(x, cycle_s) for x in clips_a], axis=0)
    b = np.mean([frame_stats(x, cycle_s) for x in clips_b], axis=0)
    return float(np.max(np.abs(a - b)))


def envelope_distance(a, b):
    """Mean absolute difference (dB) of the frame log energies of two clips (their envelopes)."""
    return float(np.mean(np.abs(10.0 * np.log10(band_frames(a).sum(axis=1) / band_frames(b).sum(axis=1)))))


def cycle_s(name, attrs):
    """The working cycle the attributes set: the slider's stroke + dwell (out and back are
    alike), the valves' common pattern period; None for the fan (a steady machine)."""
    if name == "slider":
        speed, _, _ = _cycle(float(attrs["vel"]) / 1000.0, float(attrs["ac"]) * G, SR)
        return len(speed) / 2 / SR
    if name == "valve":
        periods = [Fraction(PATTERNS[p][0]).limit_denominator(100) for p in (attrs["v1pat"], attrs["v2pat"])
                   if p != "none"]
        common = periods[0]
        for p in periods[1:]:  # least common multiple of two fractions
            common = Fraction(math.lcm(common.numerator * p.denominator, p.numerator * common.denominator),
                              common.denominator * p.denominator)
        return float(common) * float(attrs.get("tempo", 1.0))
    return None


def operating_points(name):
    """Every attribute combination of both domains and two DCASE 2020 units."""
    model = MODELS[name]
    grid = [dict(zip(model.attributes[d], values)) for d in ("source", "target")
            for values in itertools.product(*model.attributes[d].values())]
    return grid + [model.unit(np.random.default_rng(u)) for u in range(2)]


def test_new_kinds_are_declared_last():
    assert MODELS["fan"].anomaly_kinds == ("imbalance", "blade_rub", "clogging", "speed_hunting")
    assert MODELS["slider"].anomaly_kinds == ("rail_damage", "no_grease", "backlash")
    assert MODELS["valve"].anomaly_kinds == ("stuck", "chatter", "leak", "sluggish")
    for name, kind in NEW.items():  # documented in the module's list of anomalies
        assert f"- ``{kind}``:" in importlib.import_module(type(MODELS[name]).__module__).__doc__


@pytest.mark.parametrize("name", NEW)
def test_normal_stream_does_not_depend_on_the_new_fault(name):
    for attrs in operating_points(name)[::3]:
        states = set()
        for anomaly in (None, Anomaly(NEW[name], 0.7), Anomaly(NEW[name], 1.0)):
            rng = np.random.default_rng(11)
            MODELS[name].sound(attrs, anomaly, rng, np.random.default_rng(12), N, SR)
            states.add(str(rng.bit_generator.state))
        assert len(states) == 1, attrs


@pytest.mark.parametrize("name", NEW)
def test_faulty_twin(name):
    attrs = operating_points(name)[0]
    normal = machine(name, attrs)
    assert np.max(np.abs(machine(name, attrs, Anomaly(NEW[name], 1e-9)) - normal)) < 1e-4
    faulty = machine(name, attrs, Anomaly(NEW[name], 1.0))
    assert np.isfinite(faulty).all() and np.sqrt(np.mean((faulty - normal) ** 2)) > 0.1


@pytest.mark.parametrize("name", NEW)
def test_stronger_fault_moves_further_from_its_twin(name):
    """The envelope, not the frame-by-band spectrum: a speed or timing change of 0.1 % already
    moves the tones' phases against the noise, which changes the frames' band energies by
    0.6-0.9 dB on average already at severity 0.1."""
    for attrs in operating_points(name)[::2]:
        normal = recorded(name, attrs, seed=2)
        d = [envelope_distance(recorded(name, attrs, Anomaly(NEW[name], s), seed=2), normal)
             for s in (0.1, 0.4, 1.0)]
        assert 0.0 < d[0] < d[1] < d[2], (attrs, d)
        assert d[2] > 0.3, (attrs, d)


@pytest.mark.parametrize("name", NEW)
def test_fault_beyond_energy_changes_structure_not_the_average_spectrum(name):
    """At severity 1, over three 10 s clips per operating point: the time-averaged spectrum
    moves by less than 0.5 dB, a frame-level statistic at least 3 times more; a machine that is
    just 1.5 times louder, or the model's energy fault, shows the opposite."""
    for attrs in operating_points(name):
        cycle = cycle_s(name, attrs)
        normal = [recorded(name, attrs, seed=30 + k, n=10 * SR) for k in range(3)]
        faulty = [recorded(name, attrs, Anomaly(NEW[name], 1.0), seed=30 + k, n=10 * SR) for k in range(3)]
        avg, structure = average_change(normal, faulty), structure_change(normal, faulty, cycle)
        assert avg < 0.5 and structure > 3.0 * avg, (attrs, avg, structure)
        louder = [1.5 * x for x in normal]
        assert structure_change(normal, louder, cycle) < 0.01 < 3.0 < average_change(normal, louder)
    if name in ENERGY:
        attrs = operating_points(name)[0]
        normal = [recorded(name, attrs, seed=30 + k, n=10 * SR) for k in range(3)]
        energy = [recorded(name, attrs, Anomaly(ENERGY[name], 1.0), seed=30 + k, n=10 * SR) for k in range(3)]
        assert structure_change(normal, energy, cycle_s(name, attrs)) < 3.0 * average_change(normal, energy)


def test_working_cycles_known_values():
    # 0.25 m at 0.5 m/s plus one ramp of 0.5 / (0.5 g) s, then 0.15 s dwell
    slider = cycle_s("slider", {"vel": "500", "ac": "0.5"})
    assert slider == pytest.approx(0.5 + 0.5 / (0.5 * G) + DWELL_S, abs=1e-4)
    assert cycle_s("valve", {"v1pat": "A", "v2pat": "D"}) == pytest.approx(4.0)  # 0.8 s and 1.0 s
    assert cycle_s("valve", {"v1pat": "B", "v2pat": "none", "tempo": "1.25"}) == pytest.approx(1.5)
    assert cycle_s("fan", {"spd": "20", "blade": "5"}) is None


def test_slider_lagging_motion_known_values():
    vmax, acc, n, start = 0.5, 0.5 * G, 4 * SR, 1.5
    plan, pos, stops = _motion(vmax, acc, n, SR, start)
    lag = np.full(n, 0.25)  # a constant lag: the planned motion, 0.25 s later
    speed, late_pos, late_stops, planned = _lagging(vmax, acc, n, SR, start, lag)
    k = int(0.25 * SR)
    assert np.allclose(speed[k:], plan[:-k]) and np.allclose(late_pos[k:], pos[:-k])
    inside = planned[planned >= 0]
    assert np.allclose(late_stops - planned, 0.25) and np.allclose(inside, stops[:len(inside)])
    assert np.any(planned < 0)  # a stop planned before the clip, reached within it
    none = _lagging(vmax, acc, n, SR, start, np.zeros(n))
    assert np.allclose(none[0], plan) and np.allclose(none[2], stops)


def test_slider_settling_lag_changes_only_while_dwelling():
    vmax, acc, n, start, step = 0.5, 0.5 * G, 20 * SR, 2.2, 0.14
    plan, _, _ = _motion(vmax, acc, n, SR, start)
    lag = _settling_lag(np.random.default_rng(0), vmax, acc, n, SR, start, step)
    assert lag.min() >= 0.0 and lag.max() <= LAG_RANGE * step + 1e-12 and lag.std() > 0.02
    speed, _, late_stops, _ = _lagging(vmax, acc, n, SR, start, lag)
    moving = speed > 0.0
    assert np.all(np.abs(np.diff(lag))[moving[1:] & moving[:-1]] < 1e-9)  # strokes as planned
    assert np.isclose(speed.max(), plan.max(), rtol=1e-3)
    starts = np.flatnonzero(np.diff(moving.astype(int)) == 1) / SR
    dwells = np.array([s - late_stops[late_stops < s].max() for s in starts if np.any(late_stops < s)])
    assert dwells.min() > DWELL_S - step - 0.005 and dwells.max() < DWELL_S + step + 0.005
    assert dwells.std() > 0.03  # the rhythm is irregular
