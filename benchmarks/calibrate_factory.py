"""Is the factory a benchmark worth running? Calibrate it against the official AE baseline.

Generates the ``course`` factory dataset (unless it is already there), runs ``asdlab run ae_mse
--preset course`` on it, prints the per-machine table, the AUC of each anomaly kind, and checks
the three criteria of the factory's specification:

1. official score between 0.55 and 0.80;
2. mean target-domain AUC below mean source-domain AUC;
3. no machine type with all three metrics (AUC source, AUC target, pAUC) >= 0.99.

Exit status 0 when all hold, 1 otherwise. About 8 minutes on 2 CPU cores (most of it is AE
training)::

    python benchmarks/calibrate_factory.py [--data DIR] [--run DIR] [--seed N] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from asdlab.data.synth import MACHINES, generate_dataset

SCORE_RANGE = (0.55, 0.80)


def kind_table(data: Path, run: Path) -> pd.DataFrame:
    """Per machine and anomaly kind: AUC of the kind's clips of each domain against the normal
    test clips of the same domain, and of its severe clips (severity >= 0.55, both domains)
    against all normal test clips; from the run's ``scores.csv`` and the factory ground truth."""
    scores = pd.read_csv(run / "scores.csv")

    def auc(normal: pd.Series, anomalous: pd.Series) -> float:
        labels = [0] * len(normal) + [1] * len(anomalous)
        return roc_auc_score(labels, list(normal) + list(anomalous)) if len(anomalous) else float("nan")

    rows = []
    for machine in MACHINES:
        truth = pd.read_csv(data / "ground_truth" / "clips" / f"{machine}.csv", keep_default_na=False)
        clips = scores[scores.machine == machine].merge(truth[["file_name", "anomaly", "severity"]],
                                                        left_on="file", right_on="file_name")
        normal = clips[clips.label == "normal"]
        for kind, group in clips[clips.label == "anomaly"].groupby("anomaly"):
            row = {"machine": machine, "anomaly": kind, "clips": len(group)}
            for domain in ("source", "target"):
                row[f"AUC {domain}"] = auc(normal[normal.domain == domain].score,
                                           group[group.domain == domain].score)
            row["AUC severe"] = auc(normal.score, group[group.severity >= 0.55].score)
            rows.append(row)
    return pd.DataFrame(rows)


def check(metrics: pd.DataFrame, official: float) -> list[tuple[str, bool]]:
    """The three calibration criteria, each with whether it holds."""
    lo, hi = SCORE_RANGE
    perfect = metrics[(metrics.auc_source >= 0.99) & (metrics.auc_target >= 0.99) & (metrics.pauc >= 0.99)]
    return [
        (f"official score {official:.4f} in [{lo}, {hi}]", lo <= official <= hi),
        (f"mean AUC target {metrics.auc_target.mean():.4f} < mean AUC source {metrics.auc_source.mean():.4f}",
         metrics.auc_target.mean() < metrics.auc_source.mean()),
        ("no machine with all three metrics >= 0.99"
         + (f" (violated by {', '.join(perfect.machine)})" if len(perfect) else ""), perfect.empty),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="factory dataset folder (default: a temporary one)")
    parser.add_argument("--run", type=Path, help="run folder (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0, help="factory seed")
    parser.add_argument("--jobs", type=int, default=2, help="generation processes")
    parser.add_argument("--cache", help="asdlab cache folder for the run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asdlab_calib_") as tmp:
        data = args.data or Path(tmp) / "factory"
        run = args.run or Path(tmp) / "run"
        t0 = time.perf_counter()
        generate_dataset(data, "course", seed=args.seed, jobs=args.jobs)
        t1 = time.perf_counter()
        cmd = [sys.executable, "-m", "asdlab", "run", "ae_mse", "--data", str(data), "--preset", "course",
               "--out", str(run), "--force", "--quiet"] + (["--cache", args.cache] if args.cache else [])
        subprocess.run(cmd, check=True)
        t2 = time.perf_counter()
        print(f"\ngeneration {t1 - t0:.0f} s, AE run {t2 - t1:.0f} s")
        metrics = pd.read_csv(run / "metrics.csv", dtype={"section": str})
        official = json.loads((run / "summary.json").read_text())["official_score"]
        table = metrics[["machine", "auc_source", "auc_target", "pauc"]]
        print(table.to_string(index=False, float_format="%.4f"))
        print(f"official score {official:.4f}")
        print("\nAUC per anomaly kind (see kind_table):")
        print(kind_table(data, run).to_string(index=False, float_format="%.3f"))
        print()
        results = check(metrics, official)
        for text, ok in results:
            print(f"[{'ok' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
