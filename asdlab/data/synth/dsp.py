"""Vectorised signal building blocks shared by the machine models.

Every function works on whole clips (numpy arrays of ``n`` samples at ``sr`` Hz; float64, or
float32 for the oscillator banks and noises, the costly parts) and takes its randomness from an
explicit ``numpy.random.Generator``, so a clip is a pure function of its seed. Frequencies are
in Hz, times in seconds, phases in radians, levels in dB where named ``*_db``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import signal

TWO_PI = 2.0 * np.pi


def drift(rng: np.random.Generator, n: int, sr: int, rate_hz: float = 0.5) -> np.ndarray:
    """A slow random wobble of about unit standard deviation, changing about ``rate_hz`` times a
    second (standard-normal knots joined by straight lines)."""
    n_knots = int(np.ceil(n / sr * rate_hz)) + 2
    knots = rng.standard_normal(n_knots)
    seg = -(-n // (n_knots - 1))
    return knots[0] + np.cumsum(np.repeat(np.diff(knots) / seg, seg))[:n]


def rate(rng: np.random.Generator, base_hz: float, n: int, sr: int, jitter: float = 0.01,
         wobble: float = 0.003) -> np.ndarray:
    """Per-sample rotation rate (Hz) of a motor nominally at ``base_hz``: a per-clip offset of
    standard deviation ``jitter`` (relative, clipped at 2.5 sigma) plus a slow in-clip wobble of
    standard deviation ``wobble``."""
    offset = jitter * float(np.clip(rng.standard_normal(), -2.5, 2.5))
    return base_hz * (1.0 + offset + wobble * drift(rng, n, sr))


def phase(freq_hz: np.ndarray | float, n: int, sr: int, start: float = 0.0) -> np.ndarray:
    """Running phase (radians) of an oscillator whose instantaneous frequency is ``freq_hz``
    (a scalar or one value per sample)."""
    f = np.broadcast_to(np.asarray(freq_hz, dtype=np.float64), (n,))
    return start + 2.0 * np.pi * np.cumsum(f) / sr


def phases(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` random phases, uniform in [0, 2 pi)."""
    return rng.uniform(0.0, TWO_PI, k)


def harmonics(theta: np.ndarray, amps, phases) -> np.ndarray:
    """``sum_k amps[k] * sin((k + 1) * theta + phases[k])`` (float32) for a running phase
    ``theta``. ``theta`` is wrapped to [0, 2 pi) in float64 first, so float32 keeps the phase
    exact to about 1e-6 rad."""
    wrapped = (theta - TWO_PI * np.floor(theta / TWO_PI)).astype(np.float32)
    out = np.zeros_like(wrapped)
    tmp = np.empty_like(wrapped)
    for k, (a, ph) in enumerate(zip(amps, phases), start=1):
        np.multiply(wrapped, np.float32(k), out=tmp)
        tmp += np.float32(ph)
        np.sin(tmp, out=tmp)
        tmp *= np.float32(a)
        out += tmp
    return out


def colored_noise(rng: np.random.Generator, n: int, sr: int, shape) -> np.ndarray:
    """Gaussian noise with power spectrum ``|shape(f)|**2``, ``shape`` a function of the
    frequency array in Hz; float32, scaled to unit RMS."""
    n_bins = n // 2 + 1
    spec = rng.standard_normal(2 * n_bins, dtype=np.float32).view(np.complex64)
    freqs = np.fft.rfftfreq(n, 1.0 / sr).astype(np.float32)
    x = scipy.fft.irfft(spec * shape(freqs).astype(np.float32), n)
    return x / (np.sqrt(np.mean(x * x)) + np.float32(1e-12))


def band(freqs: np.ndarray, lo: float, hi: float, order: float = 2.0) -> np.ndarray:
    """Smooth band-pass magnitude (Butterworth-like skirts of ``order``) between ``lo`` and ``hi``."""
    f = np.maximum(freqs, 1e-3)
    return 1.0 / np.sqrt((1.0 + (lo / f) ** (2 * order)) * (1.0 + (f / hi) ** (2 * order)))


def tilt(freqs: np.ndarray, db_per_octave: float, ref_hz: float = 1000.0) -> np.ndarray:
    """Magnitude slope of ``db_per_octave`` around ``ref_hz`` (0 dB there), flat below 20 Hz."""
    f = np.maximum(freqs, 20.0)
    return 10.0 ** (db_per_octave * np.log2(f / ref_hz) / 20.0)


def peaks(freqs: np.ndarray, centres_hz, q: float, gains) -> np.ndarray:
    """Magnitude of a sum of resonance peaks (quality factor ``q``) at ``centres_hz``."""
    f = np.maximum(np.asarray(freqs, dtype=np.float64), 1e-3)
    out = np.zeros_like(f)
    for c, g in zip(centres_hz, gains):
        out += g / np.sqrt(1.0 + (q * (f / c - c / f)) ** 2)
    return out


def ring(x: np.ndarray, sr: int, freqs, decays_s, gains) -> np.ndarray:
    """Structural modes excited by the impulses in ``x``: a sum of two-pole resonators.

    A unit impulse makes mode ``i`` ring as ``gains[i] * exp(-t / decays_s[i]) *
    sin(2 pi freqs[i] t)`` (Hz, seconds).
    """
    out = np.zeros_like(x)
    for f, tau, g in zip(freqs, decays_s, gains):
        r = np.exp(-1.0 / (tau * sr))
        w = 2.0 * np.pi * f / sr
        out += signal.lfilter([g * np.sin(w)], [1.0, -2.0 * r * np.cos(w), r * r], x)
    return out


def pulses(n: int, sr: int, times_s, amps) -> np.ndarray:
    """Unit-sample impulses of ``amps`` at ``times_s`` (those outside the clip are dropped)."""
    x = np.zeros(n)
    idx = np.round(np.asarray(times_s) * sr).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    np.add.at(x, idx[keep], np.broadcast_to(amps, idx.shape)[keep])
    return x


def crossings(theta: np.ndarray, sr: int, angle: float = 0.0) -> np.ndarray:
    """Times (s) at which the running phase ``theta`` passes ``angle`` (mod 2 pi): one event per
    cycle, e.g. a defect on a shaft at that angle, following any speed change."""
    turns = np.floor((theta - angle) / (2.0 * np.pi))
    return (np.flatnonzero(np.diff(turns) > 0) + 1) / sr


def poisson_times(rng: np.random.Generator, rate_hz: float, duration_s: float) -> np.ndarray:
    """Event times of a Poisson process of ``rate_hz`` over ``duration_s`` (sorted)."""
    count = rng.poisson(rate_hz * duration_s)
    return np.sort(rng.uniform(0.0, duration_s, count))


def bursts(n: int, sr: int, times_s, amps, attack_s: float, decay_s: float) -> np.ndarray:
    """Envelope of events at ``times_s``: each rises over about ``attack_s`` to ``amps`` and
    decays exponentially with time constant ``decay_s`` (seconds, ``attack_s < decay_s``);
    overlapping events add. Each event is a difference of two exponentials."""
    x = pulses(n, sr, times_s, amps)
    peak_t = np.log(decay_s / attack_s) * attack_s * decay_s / (decay_s - attack_s)
    scale = 1.0 / (np.exp(-peak_t / decay_s) - np.exp(-peak_t / attack_s))
    slow = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (decay_s * sr))], x)
    fast = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (attack_s * sr))], x)
    return scale * (slow - fast)


def gate(n: int, sr: int, starts_s, stops_s, ramp_s: float = 0.005) -> np.ndarray:
    """0/1 envelope that is 1 between each ``starts_s[i]`` and ``stops_s[i]`` (non-overlapping
    intervals), smoothed by a moving average of ``ramp_s``."""
    duration = n / sr
    steps = (pulses(n + 1, sr, np.clip(starts_s, 0.0, duration), 1.0)
             - pulses(n + 1, sr, np.clip(stops_s, 0.0, duration), 1.0))
    level = np.clip(np.cumsum(steps)[:n], 0.0, 1.0)
    width = max(int(ramp_s * sr), 1)
    cs = np.concatenate(([0.0], np.cumsum(np.pad(level, (width // 2, width - width // 2 - 1), mode="edge"))))
    return (cs[width:] - cs[:-width]) / width


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x``."""
    return float(np.sqrt(np.mean(x * x)))


def db(value: float) -> float:
    """Amplitude ratio of ``value`` decibels."""
    return 10.0 ** (value / 20.0)
