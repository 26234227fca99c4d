"""Training throughput of TASTgram-MFN with the Noisy-ArcMix loss: clips/s of one full step
(mixup of wave and log-mel, forward, backward, AdamW) at several widths.

    .venv/bin/python benchmarks/train_step.py [--batch 64] [--seconds 10] [--steps 3]
        [--warmup 1] [--widths 1 0.5 0.25] [--loss noisy_arcmix] [--device cpu]
        [--threads N] [--channels-last] [--keep-heap]

The log-mels are computed once before timing, as they come from the feature cache in training;
the Tgram runs inside every step. Prints the parameter count of each model (front end + encoder
+ head for ``--classes`` classes) against the reference's ~1.16 M, and clips/s from the mean and
from the fastest step (on a shared CPU the fastest step is the less disturbed figure). No
assertions.

``--threads`` sets torch's intra-op threads. On a CPU shared with other busy processes, more
threads than free cores is catastrophic with the default OpenMP busy-waiting (seen here: 100x
slower steps); ``OMP_WAIT_POLICY=PASSIVE`` or ``--threads 1`` avoid it.

Two more CPU options to compare: ``--channels-last`` (NHWC tensors for the encoder) and
``--keep-heap`` (glibc ``mallopt``: no mmap for large blocks, no trimming, so the hundreds of MB
of activations per step reuse pages instead of faulting fresh zeroed ones every step; the same
as running with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...`` in the environment).
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time

import numpy as np
import torch

from asdlab.nn.frontends import TASTgram
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES
from asdlab.nn.mixup import mixup_batch
from asdlab.nn.mobilefacenet import GramMFN

REFERENCE_PARAMS = 1.16e6
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc mallopt parameters


def keep_heap() -> None:
    """Make glibc keep freed memory in the heap instead of returning it to the system."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 2**30)


def step_seconds(model, wave, logmel, labels, loss_name, steps, warmup, rng) -> list[float]:
    """Wall time of each of ``steps`` optimisation steps after ``warmup`` untimed steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = LOSSES[loss_name]
    model.train()

    def one_step():
        if loss_name in MIXUP_LOSSES:
            w, m, y_a, y_b, lam = mixup_batch(wave, logmel, labels, 0.5, rng)
        else:
            w, m, y_a, y_b, lam = wave, logmel, labels, labels, 1.0
        loss = loss_fn(model.head, model(w, m), y_a, y_b, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if wave.device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        one_step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    ap.add_argument("--classes", type=int, default=41)
    ap.add_argument("--loss", choices=sorted(LOSSES), default="noisy_arcmix")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--keep-heap", action="store_true")
    args = ap.parse_args(argv)
    if args.keep_heap:
        keep_heap()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    dev = torch.device(args.device)
    wave = 0.1 * torch.randn(args.batch, int(16000 * args.seconds), device=dev)
    labels = torch.randint(0, args.classes, (args.batch,), device=dev)
    rng = np.random.default_rng(0)
    print(f"TASTgram-MFN, {args.loss}, batch {args.batch} x {args.seconds:g} s, {args.classes} "
          f"classes, {args.device} ({torch.get_num_threads()} threads), "
          f"{args.steps} timed steps after {args.warmup} warm-up"
          + ", channels-last" * args.channels_last + ", keep-heap" * args.keep_heap)
    for width in args.widths:
        model = GramMFN(TASTgram(), args.classes, width=width).to(dev)
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        with torch.no_grad():
            logmel = model.frontend.sgram(wave)
        n_params = sum(p.numel() for p in model.parameters())
        times = step_seconds(model, wave, logmel, labels, args.loss, args.steps, args.warmup, rng)
        mean, best = sum(times) / len(times), min(times)
        print(f"width {width:<5g} params {n_params:>9,} ({n_params / REFERENCE_PARAMS:5.1%} of "
              f"~1.16 M)   mean {args.batch / mean:6.1f} clips/s ({mean:5.2f} s/step)   "
              f"best {args.batch / best:6.1f} clips/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
