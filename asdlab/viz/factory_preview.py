"""Look at and listen to a machine: a normal clip and one clip of each anomaly kind (factory data),
or a normal clip and the first anomalous clips (data without the factory's ground truth).

Notebook use::

    fig, clips = asdlab.viz.factory_preview.preview("data/factory", "gearbox")
    fig.show()
    for clip in clips:
        display(clip)
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import soundfile as sf
from IPython.display import Audio
from plotly.subplots import make_subplots

from asdlab.core.errors import DataError
from asdlab.data import build_clip_table, read_audio
from asdlab.features import LogMelParams, log_mel
from asdlab.data.synth.groundtruth import truth_paths


def _pick_clips(rows: list[dict], domain: str) -> list[dict]:
    """The first normal test clip of ``domain`` and, per anomaly kind (in order of first
    appearance), its most severe test clip of ``domain`` under the same attributes as that
    normal clip if there is one, else under any."""
    rows = sorted((r for r in rows if r["split"] == "test" and r["domain"] == domain),
                  key=lambda r: r["file_name"])
    picks = [r for r in rows if r["label"] == "normal"][:1]
    if not picks:
        return []
    same = picks[0]["attributes"]
    for kind in dict.fromkeys(r["anomaly"] for r in rows if r["label"] == "anomaly"):
        picks.append(max((r for r in rows if r["anomaly"] == kind),
                         key=lambda r: (r["attributes"] == same, float(r["severity"]))))
    return picks


def preview(data_dir, machine: str, domain: str = "source", params: LogMelParams = LogMelParams()):
    """Log-mel spectrograms and playable audio of one machine type.

    ``data_dir``: a dataset root; without the factory's ground truth (real DCASE data) this is
    :func:`preview_clips` of its clip table; ``machine``: e.g.
    ``"gearbox"``; ``domain``: which domain's test clips to show (``dcase2020``-style data
    have only "source"; the anomalies shown prefer the normal clip's machine ID). Returns ``(figure, clips)``:
    a plotly figure with one log-mel (dB, ``params``) panel per clip - the first normal test
    clip, then the most severe test clip of each anomaly kind, preferring clips with the normal
    clip's attributes - and a list of
    ``IPython.display.Audio`` in the same order, scaled by one common factor so that their
    relative loudness is kept.
    """
    root = Path(data_dir)
    truth = truth_paths(root, machine)["clips"]
    if not truth.is_file():
        if (root / "ground_truth").is_dir():  # a factory dataset that lacks this machine type
            raise DataError(f"{truth}: no factory ground truth for machine type {machine!r}")
        return preview_clips(build_clip_table(root, machines=[machine]), machine, domain, params=params)
    with open(truth, newline="", encoding="utf-8") as fh:
        picks = _pick_clips(list(csv.DictReader(fh)), domain)
    if not picks:
        raise DataError(f"{truth}: no {domain}-domain test clips listed")
    waves, mels = [], []
    for row in picks:
        folder = root / machine if "section" in row else root / "dev_data" / "raw" / machine  # dcase2020 style
        path = folder / "test" / row["file_name"]
        wave, sr = sf.read(path, dtype="float32")
        waves.append(wave)
        mels.append(log_mel(wave, params).numpy())
    titles = [("normal" if r["label"] == "normal"
               else f"{r['anomaly']} (severity {float(r['severity']):.2f})") + f": {r['file_name']}"
              for r in picks]
    return _figure(f"{machine}: {domain}-domain test clips, log-mel (dB)", titles, waves, mels, sr, params)


def preview_clips(table, machine: str, domain: str = "source", n_anomalies: int = 3,
                  params: LogMelParams = LogMelParams()):
    """:func:`preview` from a clip table alone (:func:`asdlab.data.build_clip_table`; no ground
    truth, so no anomaly kinds or severities): the first normal test clip of ``machine`` in
    ``domain`` and its first ``n_anomalies`` anomalous ones (by file name). Data without domains
    (DCASE 2020) or without ``domain`` clips use all labelled test clips. Audio is read with the
    default channel policy (:mod:`asdlab.data.audio`). Returns ``(figure, clips)``."""
    rows = table[(table["machine"] == machine) & (table["split"] == "test")
                 & table["label"].isin(["normal", "anomaly"])].sort_values("file")
    if (rows["domain"] == domain).any():
        rows, where = rows[rows["domain"] == domain], f"{domain}-domain "
    else:
        where = ""
    picks = pd.concat([rows[rows["label"] == "normal"].head(1), rows[rows["label"] == "anomaly"].head(n_anomalies)])
    if picks.empty:
        raise DataError(f"machine type {machine!r}: no labelled test clips to preview")
    waves = [read_audio(p, params.sr) for p in picks["path"]]
    mels = [log_mel(w, params).numpy() for w in waves]
    titles = [("normal" if lab == "normal" else "anomaly (kind unknown)") + f": {f}"
              for lab, f in zip(picks["label"], picks["file"])]
    title = (f"{machine}: {where}test clips, log-mel (dB)<br><sup>These data have no factory ground truth: "
             f"anomaly kinds and severities are unknown; the first anomalous clips are shown</sup>")
    return _figure(title, titles, waves, mels, params.sr, params)


def _figure(title: str, titles: list[str], waves: list, mels: list, sr: int, params: LogMelParams):
    """One log-mel panel per clip on one colour scale, and the clips as ``Audio`` with a common gain."""
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, subplot_titles=titles,
                        vertical_spacing=0.25 / len(titles))
    zmax = max(float(m.max()) for m in mels)
    for i, mel in enumerate(mels, start=1):
        seconds = np.arange(mel.shape[1]) * params.hop / params.sr
        fig.add_trace(go.Heatmap(z=mel, x=seconds, coloraxis="coloraxis"), row=i, col=1)
        fig.update_yaxes(title_text="mel band", row=i, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(titles), col=1)
    fig.update_layout(title=title,
                      coloraxis={"colorscale": "Viridis", "cmin": zmax - 80.0, "cmax": zmax},
                      height=220 * len(titles) + 80, margin={"t": 80})
    peak = max(float(np.abs(w).max()) for w in waves) or 1.0
    clips = [Audio(w / peak, rate=sr, normalize=False) for w in waves]
    return fig, clips
