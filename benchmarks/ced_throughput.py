"""Training throughput of the CED-style encoder of ``sc_noisy_arcmix``: clips/s of one full
step (front end, transformer, sub-cluster margin head, asymmetric focal loss, backward, AdamW)
on 10 s clips, per size, against TASTgram-MFN (width 1, Noisy-ArcMix, the ``tastgram_*``
methods' encoder) measured in the same run on the same batch.

    .venv/bin/python benchmarks/ced_throughput.py [--sizes tiny base] [--batch 8]
        [--seconds 10] [--steps 3] [--warmup 1] [--classes 41] [--n-sub 32]
        [--device cpu] [--threads N]

Prints the encoder's parameter count, clips/s from the mean and from the fastest timed step
(on a shared CPU the fastest step is the less disturbed figure) and the ratio of the fastest
step's clips/s to the reference's. The reference's log-mels are computed before timing (they
come from the feature cache in training); CED computes its 64-mel front end inside the step,
as in training. No assertions.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from asdlab.nn.asl import asymmetric_focal_loss
from asdlab.nn.ced import CED, count_parameters
from asdlab.nn.frontends import TASTgram
from asdlab.nn.margins import noisy_arcmix_loss
from asdlab.nn.mixup import mixup_batch
from asdlab.nn.mobilefacenet import GramMFN
from asdlab.nn.subcluster_margin import SubClusterMarginHead, one_hot


def timed(step, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Wall time of each of ``steps`` calls of ``step()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def ced_step(size: str, wave, labels, n_classes: int, n_sub: int):
    """One-step closure and the encoder's parameter count for CED ``size``."""
    encoder = CED(size).to(wave.device).train()
    head = SubClusterMarginHead(encoder.embed_dim, n_classes, n_sub).to(wave.device)
    opt = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=1e-4)
    targets = one_hot(labels, n_classes)

    def step():
        loss = asymmetric_focal_loss(head.class_log_probs(encoder(wave), labels, targets), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, count_parameters(encoder)


def reference_step(wave, labels, n_classes: int):
    """One-step closure and parameter count of TASTgram-MFN with Noisy-ArcMix."""
    model = GramMFN(TASTgram(), n_classes, width=1.0).to(wave.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    with torch.no_grad():
        logmel = model.frontend.sgram(wave)
    rng = np.random.default_rng(0)

    def step():
        w, m, y_a, y_b, lam = mixup_batch(wave, logmel, labels, 0.5, rng)
        loss = noisy_arcmix_loss(model.head, model(w, m), y_a, y_b, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, count_parameters(model)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["tiny", "base"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--classes", type=int, default=41)
    ap.add_argument("--n-sub", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    wave = 0.1 * torch.randn(args.batch, int(16000 * args.seconds), device=dev)
    labels = torch.randint(0, args.classes, (args.batch,), device=dev)
    print(f"batch {args.batch} x {args.seconds:g} s, {args.classes} classes, {args.device} "
          f"({torch.get_num_threads()} threads), {args.steps} timed steps after {args.warmup} warm-up")

    def report(name, step, n_params, ref_best=None):
        times = timed(step, args.steps, args.warmup, dev)
        mean, best = args.batch / (sum(times) / len(times)), args.batch / min(times)
        ratio = f"   {best / ref_best:6.2f} x reference" if ref_best else ""
        print(f"{name:<26} params {n_params:>11,}   mean {mean:7.2f} clips/s   "
              f"best {best:7.2f} clips/s ({min(times):6.2f} s/step){ratio}", flush=True)
        return best

    ref_best = report("TASTgram-MFN (reference)", *reference_step(wave, labels, args.classes))
    for size in args.sizes:
        step, n_params = ced_step(size, wave, labels, args.classes, args.n_sub)
        report(f"CED-{size}", step, n_params, ref_best)
        del step
    return 0


if __name__ == "__main__":
    sys.exit(main())
