"""Log-mel extraction throughput: asdlab (batched torchaudio, then from the cache) against a
per-file librosa loop like the official baseline's, on the same clips, in the same run.

    .venv/bin/python benchmarks/features.py [--clips 128] [--seconds 10] [--data DIR]

Prints clips/s of each path and the ratios to the librosa loop. Targets: >= 5x uncached,
>= 50x from the cache. ``--data`` uses the WAVs of an existing dataset instead of noise clips.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from asdlab.data.audio import read_many
from asdlab.features.cache import FeatureCache
from asdlab.features import EPS, LogMelParams


def make_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` noise-plus-tone clips of ``seconds`` at 16 kHz, 16-bit PCM."""
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds)) / 16000
    paths = []
    for i in range(n):
        x = 0.05 * rng.standard_normal(len(t)) + 0.1 * np.sin(2 * np.pi * (200 + 10 * i) * t)
        p = folder / f"clip_{i:04d}.wav"
        sf.write(p, x, 16000, subtype="PCM_16")
        paths.append(p)
    return paths


def librosa_loop(paths: list[Path], p: LogMelParams) -> list[np.ndarray]:
    """The official baseline's per-file feature extraction."""
    import librosa

    out = []
    for path in paths:
        y, sr = librosa.load(path, sr=None, mono=False)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=p.n_fft, hop_length=p.hop,
                                             n_mels=p.n_mels, power=p.power)
        out.append(20.0 / p.power * np.log10(mel + EPS))
    return out


def timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--data", help="use the WAV files under this folder")
    args = ap.parse_args(argv)
    params = LogMelParams()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.data:
            paths = sorted(Path(args.data).rglob("*.wav"))[: args.clips]
        else:
            paths = make_clips(tmp, args.clips, args.seconds)
        n = len(paths)
        librosa_loop(paths[:2], params)  # warm both paths up (imports, FFT plans)
        read = functools.partial(read_many, skip_unreadable=False)
        FeatureCache(tmp / "warm", params).get_many(paths[:2], read)

        t_lib, ref = timed(librosa_loop, paths, params)
        t_unc, (ours, _) = timed(FeatureCache(tmp / "cache", params).get_many, paths, read)
        t_hit, _ = timed(FeatureCache(tmp / "cache", params).get_many, paths, read)
    err = max(float(np.abs(a - b).max()) for a, b in zip(ours, ref))
    print(f"{n} clips of {args.seconds:g} s" if not args.data else f"{n} clips from {args.data}")
    print(f"librosa per-file loop     {n / t_lib:9.1f} clips/s   1.0x")
    print(f"asdlab batched, uncached  {n / t_unc:9.1f} clips/s   {t_lib / t_unc:.1f}x (target >= 5x)")
    print(f"asdlab from the cache     {n / t_hit:9.1f} clips/s   {t_lib / t_hit:.1f}x (target >= 50x)")
    print(f"max |asdlab - librosa| = {err:.2e} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
