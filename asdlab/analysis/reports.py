"""Small tables for report pages: styled metric tables, what a run's embeddings hold."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def styled_metrics(table: pd.DataFrame, caption: str | None = None):
    """A :func:`asdlab.metrics.metrics_table` (Table 1 form) as a pandas Styler: cells in
    percent with two decimals, ``-`` for NaN, the summary row (``All (hmean)``, or ``All (mean)``
    under the 2020 protocol) in bold and the official score, with how that protocol forms it, in
    the caption (``caption`` is put before it)."""
    from asdlab.metrics.official import ALL_ROW_MEAN, summary_row

    score = table.attrs.get("official_score")
    parts = [caption] if caption else []
    if score is not None:
        how = ("mean over machine types of each type's mean AUC and pAUC" if ALL_ROW_MEAN in table.index
               else "hmean of every AUC and pAUC")
        parts.append(f"Official score ({how}): {100 * score:.2f} %")
    summary = summary_row(table)
    styler = table.style.format(lambda v: "-" if pd.isna(v) else f"{100 * v:.2f} %")
    styler = styler.apply(lambda row: ["font-weight: bold" if row.name == summary else ""] * len(row), axis=1)
    return styler.set_caption(" | ".join(parts)) if parts else styler


def embedding_status(run_dir: str | os.PathLike) -> dict:
    """What a run folder offers for embedding figures, without loading the arrays.

    Returns ``{"embeddings": bool, "centers": bool, "note": str}``; ``note`` says, in one
    sentence for a report, why the angle histograms (no centers) or the map (no embeddings)
    cannot be drawn, and is empty when both can.
    """
    run_dir = Path(run_dir)
    has_emb = (run_dir / "embeddings.npy").is_file() and (run_dir / "embeddings.csv").is_file()
    has_centers = has_emb and (run_dir / "centers.npy").is_file()
    method = "this method"
    cfg = run_dir / "config.json"
    if cfg.is_file():
        import json

        method = json.loads(cfg.read_text()).get("method", method)
    if not has_emb:
        note = (f"The run folder {run_dir} holds no embeddings (`embeddings.npy`): {method} saves "
                "none, or the run was made by an older asdlab; run it again with `force=True` "
                "(`asdlab run ... --force`) to get them.")
    elif not has_centers:
        note = (f"{method} has no class head, so there are no class centers to measure angles to "
                "(its embeddings are still mapped below).")
    else:
        note = ""
    return {"embeddings": has_emb, "centers": has_centers, "note": note}
