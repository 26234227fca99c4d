"""The angle explorer: retrain a toy margin head on a run's frozen embeddings and see where the
clips land on the unit circle or sphere.

A run of the Noisy-ArcMix family saves 128-d embeddings of every clip (see
:mod:`asdlab.artifacts.embeddings`). :class:`AngleExplorer` trains :func:`asdlab.analysis.toyhead.fit_head` (a
small projection to 2 or 3 dimensions + a cosine head with the chosen loss) on the TRAINING
embeddings and their class indices, within a second on a CPU, then draws

* :func:`explorer_histograms`: the angle between each TEST clip and its class center, normal vs
  anomalous (the Noisy-ArcMix paper's Figure 1 for the toy head), with the training clips'
  angles and the loss curve;
* :func:`sphere_figure`: the clips and class centers (markers + rays) on the unit circle or
  sphere, the very space where those angles are measured.

Sliders set the margin ``m``, the scale ``s`` and the mixup ``alpha`` (its Beta(alpha, alpha)
density drawn next to it), a dropdown the loss (a drawing shows which label gets the margin:
ArcMix both mixed labels in two passes, Noisy-ArcMix the un-permuted one whatever lambda is).
A run dropdown switches between the embeddings of several runs (each loaded once); a machine,
a domain filter and a coloring of the test clips by the factory's anomaly kind or severity only
change the drawing. "Pin this setting" keeps the current angles as a dashed outline, a
checkbox locks the angle axis, a toggle shows the ECDF instead of the histogram, and a table
under the status line gives the AUC of the angle per machine type and domain. Clicking a test
clip on the sphere shows its file name and log-mel and plays it; :meth:`AngleExplorer.export`
(and its button) writes the drawn angle table and the settings. The pieces live in
:mod:`asdlab.viz.explorer_figures`, :mod:`asdlab.viz.explorer_parts` and
:mod:`asdlab.viz.explorer_runs`.

Design choices. The head is trained on every class of every machine type, as the real
methods train one head over all machine types: with a single machine type a machine whose
attributes are hidden has one class, and a softmax over one class has zero loss and zero
gradient, so it would learn nothing. The machine dropdown therefore only FILTERS what is drawn
(no retraining; default the first machine type): one machine has at most ~10 classes, which
makes the sphere legible. ``m`` is disabled for CE (no margin) and ``alpha`` for CE and ArcFace
(trained on clean batches, as in the paper). The figures depend only on the settings and the seed: the same settings give the
same figure.

In a batch HTML report no kernel runs the sliders: use :meth:`AngleExplorer.static` (ordinary
figures for the current settings) and :meth:`AngleExplorer.loss_tables` (the toy head under
each loss, for :func:`asdlab.viz.angle_histograms`).
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from asdlab.analysis import angle_summary
from asdlab.analysis.angles import angle_auc_table
from asdlab.analysis.toyhead import HeadFit, fit_head
from asdlab.core.atomic import atomic_write, atomic_write_text
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.nn.margins import LOSSES, MIXUP_LOSSES
from asdlab.viz.explorer_figures import (  # noqa: F401  (re-exported: the explorer's public names)
    ALL, CLASS_COLORS, LABEL_COLORS, VIEWS, explorer_histograms, plain_figure, sphere_figure)
from asdlab.viz.explorer_parts import (COLOR_MODES, MARGIN_RULES, auc_table_html, beta_figure, clip_colors,
                                       clip_logmel, find_clip, logmel_figure, margin_figure)
from asdlab.viz.explorer_runs import (  # noqa: F401
    TRUTH_COLUMNS, clip_angle_table, explorer_data, load_explorer_run)
from asdlab.viz.figure_widgets import AutosizeFigureWidget, SharedFigureWidget

FIGURE1_METHODS = ("tastgram_ce", "tastgram_linear_ce", "tastgram_arcface", "tastgram_arcmix",
                   "tastgram_noisy_arcmix")
"""The losses of the Noisy-ArcMix paper's Figure 1, as registered methods; its CE in two readings
(cosine softmax ``tastgram_ce``, linear softmax ``tastgram_linear_ce``)."""
SILENT_WAV = (b"RIFF" + (38).to_bytes(4, "little") + b"WAVEfmt " + bytes.fromhex("1000000001000100803e0000007d0000")
              + bytes.fromhex("02001000") + b"data" + (2).to_bytes(4, "little") + b"\x00\x00")
"""One sample of silence (16 kHz, 16-bit mono WAV): the audio player's value before a clip is
clicked. An empty value makes Chromium log ``ERR_REQUEST_RANGE_NOT_SATISFIABLE`` for its blob."""
LOSS_TITLES = {"ce": "CE", "linear_ce": "CE (linear)", "arcface": "ArcFace", "arcmix": "ArcMix",
               "noisy_arcmix": "Noisy-ArcMix"}


# ------------------------------------------------------------------ notebook helpers

def check_figure1_params(methods, explorer_run: str, preset: str = "course") -> list[str]:
    """Validate the angle notebook's ``methods`` (a non-empty subset of
    :data:`FIGURE1_METHODS`) and ``explorer_run`` (a registered method that saves embeddings of
    a class head). Returns the runs to train or reuse: ``methods`` then ``explorer_run`` if it is
    not among them. Raises :class:`ConfigError` naming the parameter."""
    from asdlab.methods import get_method

    if isinstance(methods, str) or not isinstance(methods, (list, tuple)) or not methods:
        raise ConfigError(f"notebook parameter methods={methods!r}: must be a non-empty list drawn "
                          f"from {', '.join(FIGURE1_METHODS)}")
    bad = [m for m in methods if m not in FIGURE1_METHODS]
    if bad:
        raise ConfigError(f"notebook parameter methods: {', '.join(map(repr, bad))} not among the "
                          f"Figure 1 losses {', '.join(FIGURE1_METHODS)}")
    if not isinstance(explorer_run, str):
        raise ConfigError(f"notebook parameter explorer_run={explorer_run!r}: must be a method name")
    if "loss" not in get_method(explorer_run).params(preset):
        raise ConfigError(f"notebook parameter explorer_run={explorer_run!r}: this method has no class "
                          f"head and saves no class embeddings; choose e.g. one of {', '.join(FIGURE1_METHODS)}")
    return list(dict.fromkeys([*methods, explorer_run]))


def loss_title(method: str) -> str:
    """Panel title of a Figure 1 method: ``"tastgram_noisy_arcmix"`` -> ``"Noisy-ArcMix"``."""
    return LOSS_TITLES.get(method.removeprefix("tastgram_"), method)


PAPER_ORDER = ("CE", "ArcFace", "Noisy-ArcMix")
"""The paper's ordering of median normal angles, largest first (its Figure 1: about 35, 10 and
5 degrees; ArcMix about 2 degrees, with many anomalies near 0 too)."""


def paper_ordering_note(summary: pd.DataFrame, what: str = "these runs") -> str:
    """One Markdown sentence saying whether ``summary`` (:func:`asdlab.analysis.angle_summary`
    rows named by loss title, e.g. the ``"all"`` part of :func:`asdlab.analysis.angle_summary_by_domain`)
    reproduces the paper's CE > ArcFace > Noisy-ArcMix order of median normal angles; ``what``
    names the source of the numbers in the sentence."""
    med = summary["median_normal_angle"]
    present = [name for name in PAPER_ORDER if name in med.index]
    measured = ", ".join(f"{name} {med[name]:.1f} deg" for name in med.index)
    if len(present) < 2:
        return (f"Median normal angles: {measured}. The paper's order CE > ArcFace > Noisy-ArcMix needs at "
                f"least two of those losses in `methods`.")
    values = [med[name] for name in present]
    holds = all(a > b for a, b in zip(values, values[1:]))
    ranked = " > ".join(sorted(present, key=lambda n: -med[n]))
    return (f"Median normal angles: {measured}. Paper: {' > '.join(present)}; here: {ranked}, so the paper's "
            f"order **{'holds' if holds else 'does not hold'}** for {what}.")


PAPER_CE_PEAK_DEG = 35.0
"""The normal peak of CE in the paper's Figure 1 (degrees)."""


def ce_readings_note(summary: pd.DataFrame) -> str:
    """One Markdown sentence: the median normal angles of the two CE readings in ``summary``
    (rows "CE", the cosine softmax, and "CE (linear)", as :func:`paper_ordering_note` reads) and
    which of them is nearer the paper's CE normal peak (:data:`PAPER_CE_PEAK_DEG`)."""
    med = summary["median_normal_angle"]
    names = {"CE": "cosine softmax (scale s)", "CE (linear)": "linear softmax (W e + b)"}
    present = [n for n in names if n in med.index and np.isfinite(med[n])]
    measured = "; ".join(f"{names[n]} {med[n]:.1f} deg" for n in present)
    if len(present) < 2:
        return (f"CE readings: {measured or 'none measured'}. Comparing the two with the paper's CE peak "
                f"(about {PAPER_CE_PEAK_DEG:.0f} deg) needs both `tastgram_ce` and `tastgram_linear_ce` in `methods`.")
    nearest = min(present, key=lambda n: abs(med[n] - PAPER_CE_PEAK_DEG))
    return (f"Median normal angle of CE: {measured}. The paper's CE peak is about {PAPER_CE_PEAK_DEG:.0f} deg; "
            f"the **{names[nearest]}** is nearer to it here ({abs(med[nearest] - PAPER_CE_PEAK_DEG):.1f} deg off).")


# ------------------------------------------------------------------ the interactive explorer

def _machine_mask(meta: pd.DataFrame, machine: str) -> np.ndarray:
    return np.ones(len(meta), bool) if machine == ALL else (meta["machine"] == machine).to_numpy()



def _timed_fit(data: dict, settings: dict) -> tuple[HeadFit, float]:
    start = time.perf_counter()
    fit = fit_head(data["train_x"], data["train_y"], **settings)
    return fit, time.perf_counter() - start


def _settings_key(run: str, settings: dict) -> tuple:
    return (run, *sorted(settings.items()))


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


class AngleExplorer:
    """Sliders and figures around :func:`asdlab.analysis.toyhead.fit_head` on the embeddings of
    one or several runs.

    ``run_dir``: a run folder with ``embeddings.npy`` (any method of the Noisy-ArcMix family),
    or a mapping ``{name: run folder}``; ``runs``: more named run folders (e.g. ``{"CE": ...,
    "ArcFace": ..., "Noisy-ArcMix": ...}``), switched by ``run_dropdown`` and loaded lazily
    (each run's data and fits are cached); ``run``: the starting one (default the first).
    Starting settings: ``loss`` (a key of :data:`asdlab.nn.margins.LOSSES`), ``m`` (radians),
    ``s``, ``alpha``, ``dim`` (2 circle / 3 sphere), ``steps``, ``seed``; drawing only:
    ``machine`` (a machine type, default the first; "all" for every one), ``domain`` ("all",
    "source", "target"), ``color`` (a key of :data:`asdlab.viz.explorer_parts.COLOR_MODES`;
    anomaly kind and severity need the factory's ground truth, read from the data root in the
    run's ``config.json``; ``ground_truth`` as :func:`load_explorer_run`), ``view``
    ("histogram" / "ecdf").

    Widgets are built lazily by :meth:`widget`; changing ``loss_dropdown``, ``m_slider``,
    ``s_slider``, ``alpha_slider``, ``dim_toggle`` or ``run_dropdown`` calls :meth:`refresh`
    (retrain + redraw, < 1 s of CPU time on course data); ``machine_dropdown``,
    ``domain_dropdown``, ``color_dropdown``, ``view_toggle``, ``lock_checkbox`` and the pin
    buttons only redraw. A click on a test clip of the sphere shows its file, log-mel and audio
    (:meth:`show_clip`); :meth:`export` writes the drawn angle table and the settings.
    """

    def __init__(self, run_dir=None, loss: str = "noisy_arcmix", m: float = 0.7, s: float = 30.0,
                 alpha: float = 0.5, dim: int = 3, machine: str | None = None, steps: int = 300, seed: int = 0,
                 *, runs: Mapping | None = None, run: str | None = None, domain: str = ALL, color: str = "label",
                 view: str = "histogram", ground_truth="auto"):
        named = dict(run_dir) if isinstance(run_dir, Mapping) else ({Path(run_dir).name: run_dir} if run_dir else {})
        named.update(runs or {})
        if not named:
            raise ConfigError("AngleExplorer: give run_dir (a run folder) or runs={name: run folder}")
        self.runs = {str(k): Path(v) for k, v in named.items()}
        self.run = next(iter(self.runs)) if run is None else run
        if self.run not in self.runs:
            raise ConfigError(f"run={run!r}: not among the runs ({', '.join(self.runs)})")
        self._ground_truth = ground_truth
        self._run_data: dict[str, dict] = {}
        self._fits: dict[tuple, tuple[HeadFit, float]] = {}
        self.settings = dict(loss=loss, m=float(m), s=float(s), alpha=float(alpha), dim=int(dim),
                             steps=int(steps), seed=int(seed))
        machines = self.data["machines"]
        self.machine = machines[0] if machine is None else machine
        if self.machine != ALL and self.machine not in machines:
            raise ConfigError(f"machine={machine!r}: not in {self.run_dir} (has {', '.join(machines)})")
        if domain not in self.domains():
            raise ConfigError(f"domain={domain!r}: choose from {', '.join(self.domains())}")
        if color not in self.color_modes():
            raise ConfigError(f"color={color!r}: choose from {', '.join(self.color_modes())}"
                              + ("" if self.data["has_truth"] else " (no factory ground truth for this run's data)"))
        if view not in VIEWS:
            raise ConfigError(f"view={view!r}: choose from {', '.join(VIEWS)}")
        self.domain, self.color, self.view = domain, color, view
        self.pinned: dict | None = None
        self._pins = 0  # counts pin / unpin: a change of the pinned outline
        self.locked_x: float | None = None
        self.clip: dict | None = None
        self._widgets_built = False
        self._quiet = False  # set while controls are synced from the state: their callbacks do nothing
        self._table, self._table_of = None, None  # clip_angle_table of the fit it was computed for
        self.fit, self.fit_seconds = self._fit()

    # -- runs and their data
    @property
    def run_dir(self) -> Path:
        """The folder of the current run."""
        return self.runs[self.run]

    @property
    def data(self) -> dict:
        """:func:`load_explorer_run` of the current run (loaded once, then cached)."""
        if self.run not in self._run_data:
            self._run_data[self.run] = load_explorer_run(self.runs[self.run], self._ground_truth)
        return self._run_data[self.run]

    def domains(self) -> list[str]:
        """``"all"`` then the domains of the current run's test clips."""
        return [ALL, *sorted(self.data["test_meta"]["domain"].dropna().unique())]

    def color_modes(self) -> list[str]:
        """The keys of :data:`COLOR_MODES` the current run's data allow."""
        return list(COLOR_MODES) if self.data["has_truth"] else ["label"]

    def _fit(self) -> tuple[HeadFit, float]:
        key = _settings_key(self.run, self.settings)
        if key not in self._fits:
            if len(self._fits) >= 32:
                self._fits.pop(next(iter(self._fits)))
            self._fits[key] = _timed_fit(self.data, self.settings)
        return self._fits[key]

    def set_run(self, name: str) -> None:
        """Switch to run ``name`` (retrain on its embeddings, or reuse a cached fit); a machine,
        domain or color the new run lacks falls back to its first machine / "all" / "label"."""
        if name not in self.runs:
            raise ConfigError(f"run={name!r}: not among the runs ({', '.join(self.runs)})")
        self.run = name
        if self.machine != ALL and self.machine not in self.data["machines"]:
            self.machine = self.data["machines"][0]
        self.domain = self.domain if self.domain in self.domains() else ALL
        self.color = self.color if self.color in self.color_modes() else "label"
        self.refresh()

    # -- state -> tables and figures
    def table(self) -> pd.DataFrame:
        """Test angle table of the current fit (all machines), see :func:`clip_angle_table`."""
        if self._table_of is not self.fit:
            self._table, self._table_of = clip_angle_table(self.fit, self.data), self.fit
        return self._table.copy()

    def _mask(self, meta: pd.DataFrame) -> np.ndarray:
        sel = _machine_mask(meta, self.machine)
        return sel if self.domain == ALL else sel & (meta["domain"] == self.domain).to_numpy()

    def drawn_table(self) -> pd.DataFrame:
        """The rows of :meth:`table` drawn now (machine and domain filters)."""
        table = self.table()
        return table[self._mask(table)]

    def _where(self) -> str:
        where = "all machines" if self.machine == ALL else self.machine
        return where if self.domain == ALL else f"{where}, {self.domain}"

    def _title(self) -> str:
        p = self.settings
        parts = [LOSS_TITLES[p["loss"]]]
        if p["loss"] != "ce":
            parts.append(f"m {p['m']:.2f} rad ({np.degrees(p['m']):.0f} deg)")
        parts.append(f"s {p['s']:g}")
        if p["loss"] in MIXUP_LOSSES:
            parts.append(f"alpha {p['alpha']:g}")
        return f"{', '.join(parts)} — {self._where()}"

    def histogram_figure(self) -> go.Figure:
        """The angle panel of the current settings (histogram or ECDF, pinned outline, locked axis)."""
        train_sel = self._mask(self.data["train_meta"])
        return explorer_histograms(self.drawn_table(), self.fit.history, self.fit.angles[train_sel],
                                   title=f"{self._title()}<br><sup>toy head on the embeddings of run "
                                         f"{self.run} ({self.run_dir.name})</sup>",
                                   view=self.view, pinned=self.pinned, x_max=self.locked_x)

    def sphere_figure(self) -> go.Figure:
        """The circle / sphere of the current settings; test clips colored by ``color``."""
        table = self.table()
        test_sel = self._mask(self.data["test_meta"])
        train_sel = self._mask(self.data["train_meta"])
        drawn = table[test_sel]
        kinds = table["anomaly_kind"].dropna().unique() if "anomaly_kind" in table.columns else None
        colors, legend = clip_colors(drawn, self.color, kinds)
        hover = None
        if self.data["has_truth"]:
            hover = [f"{f}<br>{k or 'normal'}, severity {v:g}" for f, k, v in
                     zip(drawn["file"], drawn["anomaly_kind"].fillna("?"), drawn["severity"].fillna(np.nan))]
        else:
            hover = list(drawn["file"])
        shown = (np.unique(self.data["train_y"][_machine_mask(self.data["train_meta"], self.machine)])
                 if self.machine != ALL else None)
        return sphere_figure(self.fit.centers, self.fit.transform(self.data["test_x"][test_sel]),
                             drawn["head_class"].to_numpy(), drawn["label"].to_numpy(),
                             self.data["classes"], self.fit.points[train_sel], self.data["train_y"][train_sel],
                             show_classes=shown, point_colors=colors, color_legend=legend,
                             point_ids=np.flatnonzero(test_sel), point_hover=hover,
                             title=f"{'sphere' if self.settings['dim'] == 3 else 'circle'}: angles are measured "
                                   f"here (click a test clip to see and hear it)")

    def static(self) -> tuple[go.Figure, go.Figure]:
        """``(histograms, sphere)``: ordinary figures of the current settings (for reports)."""
        return self.histogram_figure(), self.sphere_figure()

    def summary(self) -> pd.DataFrame:
        """:func:`asdlab.analysis.angle_summary` of the current fit for the drawn machine(s) and domain."""
        return angle_summary({self._title(): self.drawn_table()})

    def auc_table(self) -> pd.DataFrame:
        """:func:`asdlab.analysis.angles.angle_auc_table` of the current fit (every machine and domain)."""
        return angle_auc_table(self.table())

    def loss_tables(self, losses=tuple(LOSSES)) -> dict[str, pd.DataFrame]:
        """Test angle tables of the toy head trained with each loss (current run, m, s, alpha,
        dim, seed), keyed by loss title: pass them to :func:`asdlab.viz.angle_histograms`."""
        out = {}
        for loss in losses:
            fit, _ = _timed_fit(self.data, {**self.settings, "loss": loss})
            out[LOSS_TITLES[loss]] = clip_angle_table(fit, self.data)
        return out

    # -- comparison tools
    def pin(self) -> dict:
        """Pin the current setting: its test angles (drawn machine and domain) stay on the angle
        panel as dashed outlines until :meth:`unpin`. Returns the pinned record."""
        t = self.drawn_table()
        self.pinned = {"name": f"{self.run}: {self._title()}", "run": self.run, "settings": dict(self.settings),
                       "machine": self.machine, "domain": self.domain,
                       **{lab: t.loc[t["label"] == lab, "angle"].to_numpy() for lab in LABEL_COLORS}}
        self._pins += 1
        self.redraw()
        return self.pinned

    def unpin(self) -> None:
        """Remove the pinned outline."""
        self.pinned = None
        self._pins += 1
        self.redraw()

    def lock_axis(self, on: bool = True) -> float | None:
        """Lock the angle axis at its current range (degrees; kept across redraws) or unlock it."""
        self.locked_x = None
        if on:
            self.locked_x = float(self.histogram_figure().layout.xaxis.range[1])
        self.redraw()
        return self.locked_x

    # -- the clip behind a point
    def clip_info(self, row: int) -> dict:
        """Row ``row`` of :meth:`table` as a dict with ``path`` (the WAV under the run's data
        root, None when not found), ``mel`` ``(n_mels, T)`` dB and ``seconds_per_frame`` (None
        without the file) and ``note`` (why there is no audio, "" when there is)."""
        rec = self.table().iloc[int(row)].to_dict()
        split = rec.get("split") or "test"
        path = find_clip(self.data["root"], rec["machine"], split, rec["file"])
        rec.update(row=int(row), path=path, mel=None, seconds_per_frame=None, note="")
        if path is None:
            rec["note"] = (f"{rec['file']}: not found under {self.data['root']}" if self.data["root"] is not None
                           else f"{self.run_dir}: no config.json naming the data root, so the clip cannot be found")
        else:
            rec["mel"], rec["seconds_per_frame"] = clip_logmel(path, self.data["channel"])
        return rec

    def show_clip(self, row: int) -> dict:
        """:meth:`clip_info` of ``row`` pushed into the clip widgets (file name, log-mel, audio)."""
        self.clip = rec = self.clip_info(row)
        if not self._widgets_built:
            return rec
        kind = rec.get("anomaly_kind")  # the factory's ground truth; a normal clip has none
        extra = (f", {kind}, severity {rec['severity']:g}"
                 if self.data["has_truth"] and isinstance(kind, str) and kind and pd.notna(rec.get("severity")) else "")
        domain = f"{rec['domain']}, " if isinstance(rec.get("domain"), str) else ""  # none in DCASE 2020 data
        self.clip_label.value = (f"<b>{html.escape(str(rec['file']))}</b> ({rec['machine']} section {rec['section']}, "
                                 f"{domain}{rec['label']}{extra}): angle {rec['angle']:.1f} deg"
                                 + (f"<br><span style='color:#a00'>{html.escape(rec['note'])}</span>" if rec["note"] else ""))
        fig = plain_figure(logmel_figure(rec["mel"], rec["seconds_per_frame"] or 0.032,
                                         f"log-mel of {rec['file']}" if rec["mel"] is not None else "no audio"))
        with self.clip_mel_widget.batch_update():
            self.clip_mel_widget.data[0].update(fig["data"][0], overwrite=True)
            self.clip_mel_widget.layout.title.text = fig["layout"]["title"]["text"]
        if rec["path"] is not None:
            self.clip_audio.value = Path(rec["path"]).read_bytes()
        self.clip_audio.layout.display = None if rec["path"] is not None else "none"
        return rec

    def _on_click(self, trace, points, selector=None) -> None:
        if points is None or not points.point_inds:
            return
        self.show_clip(int(trace.customdata[points.point_inds[0]]))

    # -- export
    def export(self, folder: str | os.PathLike, name: str | None = None) -> tuple[Path, Path]:
        """Write the drawn angle table (:meth:`drawn_table`) to ``folder/<name>.csv`` and the run,
        settings, filters, pinned setting, summary and AUC table to ``folder/<name>.json``;
        ``name`` defaults to ``angles_<run>_<loss>_<machine>_<domain>``. Returns both paths."""
        name = name or f"angles_{self.run}_{self.settings['loss']}_{self.machine}_{self.domain}"
        if not name or _safe_name(name) != name:
            raise ConfigError(f"export name {name!r}: use letters, digits, '-', '_' and '.' only")
        folder = Path(folder)
        table = self.drawn_table()
        summary = self.summary().iloc[0]
        auc = self.auc_table()
        pinned = None if self.pinned is None else {k: v for k, v in self.pinned.items() if k not in LABEL_COLORS}

        def number(v):
            return None if v is None or not np.isfinite(v) else round(float(v), 6)

        record = {"run": self.run, "run_dir": str(self.run_dir), "settings": dict(self.settings),
                  "machine": self.machine, "domain": self.domain, "color": self.color, "view": self.view,
                  "locked_angle_axis_deg": self.locked_x, "pinned": pinned, "n_clips": int(len(table)),
                  "summary": {k: number(summary[k]) for k in ("median_normal_angle", "median_anomaly_angle", "angle_auc")},
                  "auc": {m: {d: number(v) for d, v in row.items()} for m, row in auc.iterrows()},
                  "fit_seconds": round(self.fit_seconds, 3), "csv": f"{name}.csv"}
        csv_path, json_path = folder / f"{name}.csv", folder / f"{name}.json"
        atomic_write(csv_path, lambda fh: table.to_csv(fh, index=False), text=True)
        atomic_write_text(json_path, json.dumps(record, indent=2) + "\n")
        return csv_path, json_path

    def _on_export(self, button=None) -> None:
        try:
            csv_path, json_path = self.export(self.export_folder.value or ".", self.export_name.value or None)
        except (AsdlabError, OSError) as err:
            self.export_status.value = f"<span style='color:#a00'>export failed: {html.escape(str(err), quote=False)}</span>"
            return
        self.export_status.value = f"wrote {html.escape(str(csv_path))} and {html.escape(str(json_path))}"

    # -- widgets
    def _build_widgets(self) -> None:
        import ipywidgets as w

        p = self.settings
        wide = {"description_width": "initial"}
        row = dict(flex_flow="row wrap", align_items="center")
        self.run_dropdown = w.Dropdown(options=list(self.runs), value=self.run, description="run",
                                       disabled=len(self.runs) < 2)
        self.loss_dropdown = w.Dropdown(options=[(LOSS_TITLES[k], k) for k in LOSSES], value=p["loss"],
                                        description="loss")
        self.machine_dropdown = w.Dropdown(description="show")
        self.domain_dropdown = w.Dropdown(description="domain")
        self.color_dropdown = w.Dropdown(description="color", style=wide)
        self.dim_toggle = w.ToggleButtons(options=[("circle (2-D)", 2), ("sphere (3-D)", 3)], value=p["dim"],
                                          description="space")
        self.view_toggle = w.ToggleButtons(options=[("histogram", "histogram"), ("ECDF", "ecdf")], value=self.view,
                                           description="angles")
        slider = dict(continuous_update=False, style=wide, layout=w.Layout(width="320px"))
        self.m_slider = w.FloatSlider(value=p["m"], min=0.0, max=1.5, step=0.05, readout_format=".2f",
                                      description="margin m (rad)", **slider)
        self.s_slider = w.FloatSlider(value=p["s"], min=1.0, max=64.0, step=1.0, readout_format=".0f",
                                      description="scale s", **slider)
        self.alpha_slider = w.FloatSlider(value=p["alpha"], min=0.0, max=2.0, step=0.05,
                                          readout_format=".2f", description="mixup alpha", **slider)
        self.pin_button = w.Button(description="pin this setting", icon="thumb-tack",
                                   tooltip="keep the current angle histogram as a dashed outline")
        self.unpin_button = w.Button(description="unpin", tooltip="remove the pinned outline")
        self.lock_checkbox = w.Checkbox(value=self.locked_x is not None, description="lock the angle axis",
                                        indent=False)
        self.status, self.notes, self.auc_html = w.HTML(), w.HTML(), w.HTML()
        self.margin_rule = w.HTML(layout=w.Layout(width="380px"))
        # each figure widget is built with its first figure (asdlab.viz.figure_widgets says why);
        # the two wide ones fill the output's width and follow it
        first, self._drawn = {}, {}
        for name, (state, draw) in self._parts().items():
            self._drawn[name], first[name] = state, plain_figure(draw())
        self.hist_widget, self.sphere_widget = AutosizeFigureWidget(first["hist"]), AutosizeFigureWidget(first["sphere"])
        self.beta_widget, self.margin_widget = SharedFigureWidget(first["beta"]), SharedFigureWidget(first["margin"])
        self.clip_label = w.HTML("click a test clip on the sphere or circle to see its file, log-mel and hear it")
        self.clip_mel_widget = SharedFigureWidget(plain_figure(logmel_figure(None)))
        self.clip_audio = w.Audio(value=SILENT_WAV, format="wav", autoplay=True, controls=True, layout=w.Layout(display="none"))
        self.export_folder = w.Text(value="exports", description="export to folder", style=wide)
        self.export_name = w.Text(value="", placeholder="angles_<run>_<loss>_<machine>_<domain>",
                                  description="name", style=wide)
        self.export_button = w.Button(description="export table + settings", icon="download")
        self.export_status = w.HTML()
        for control in (self.loss_dropdown, self.dim_toggle, self.m_slider, self.s_slider, self.alpha_slider):
            control.observe(self._on_setting, names="value")
        for control in (self.machine_dropdown, self.domain_dropdown, self.color_dropdown, self.view_toggle):
            control.observe(self._on_filter, names="value")
        self.run_dropdown.observe(self._on_run, names="value")
        self.lock_checkbox.observe(lambda change: None if self._quiet else self.lock_axis(change["new"]), names="value")
        self.pin_button.on_click(lambda b: self.pin())
        self.unpin_button.on_click(lambda b: self.unpin())
        self.export_button.on_click(self._on_export)
        self._box = w.VBox([
            w.HBox([self.run_dropdown, self.loss_dropdown, self.machine_dropdown, self.domain_dropdown,
                    self.color_dropdown], layout=w.Layout(**row)),
            w.HBox([self.dim_toggle, self.view_toggle], layout=w.Layout(**row)),
            w.HBox([w.VBox([self.m_slider, self.s_slider, self.alpha_slider]), self.beta_widget,
                    w.VBox([self.margin_widget, self.margin_rule])], layout=w.Layout(**row)),
            w.HBox([self.pin_button, self.unpin_button, self.lock_checkbox], layout=w.Layout(**row)),
            self.status, self.notes, self.auc_html, self.hist_widget, self.sphere_widget,
            w.VBox([self.clip_label, w.HBox([self.clip_mel_widget, self.clip_audio], layout=w.Layout(**row))]),
            w.HBox([self.export_folder, self.export_name, self.export_button], layout=w.Layout(**row)),
            self.export_status])
        self._widgets_built = True
        self._register_clicks()
        self._sync_controls()

    def widget(self):
        """The ipywidgets box: controls (run, loss, machine, domain, color, space, view,
        sliders with the Beta density and the margin drawing, pin / lock), status line, AUC
        table, angle and sphere FigureWidgets, the clicked clip, export."""
        if not self._widgets_built:
            self._build_widgets()
        return self._box

    def show(self, interactive: bool = True) -> None:
        """Display :meth:`widget` (``interactive``) or the :meth:`static` figures (reports)."""
        from IPython.display import display

        if interactive:
            display(self.widget())
        else:
            for fig in self.static():
                fig.show()

    def _on_setting(self, change) -> None:
        if self._quiet:
            return
        self.settings.update(loss=self.loss_dropdown.value, m=float(self.m_slider.value),
                             s=float(self.s_slider.value), alpha=float(self.alpha_slider.value),
                             dim=int(self.dim_toggle.value))
        self.refresh()

    def _on_filter(self, change) -> None:
        if self._quiet:
            return
        self.machine, self.domain = self.machine_dropdown.value, self.domain_dropdown.value
        self.color, self.view = self.color_dropdown.value, self.view_toggle.value
        self.redraw()

    def _on_run(self, change) -> None:
        if not self._quiet:
            self.set_run(self.run_dropdown.value)

    def refresh(self) -> float:
        """Retrain the toy head with the current settings (or reuse the cached fit of this run and
        settings) and redraw; returns the seconds taken."""
        start = time.perf_counter()
        self.fit, self.fit_seconds = self._fit()
        self.redraw()
        return time.perf_counter() - start

    def redraw(self) -> None:
        """Push the current fit and filters into the FigureWidgets (no-op before :meth:`widget`).
        A sphere the user rotated keeps its camera while the drawn classes stay the same."""
        if not self._widgets_built:
            return
        for name, (state, draw) in self._parts().items():  # only the ones whose state changed
            if self._drawn.get(name) == state:
                continue
            self._drawn[name] = state
            widget, fig = getattr(self, f"{name}_widget"), draw()
            same = [type(a) for a in widget.data] == [type(b) for b in fig.data]
            layout = fig.layout
            if same and widget.layout.uirevision == layout.uirevision and "scene" in layout:
                layout.scene.camera = widget.layout.scene.camera
            plain = plain_figure(fig)
            with widget.batch_update():
                if same:
                    for old, new in zip(widget.data, plain["data"]):
                        old.update(new, overwrite=True)
                else:
                    widget.data = ()
                    widget.add_traces(plain["data"])
                widget.layout = layout
        self._register_clicks()
        self._sync_controls()

    def _parts(self) -> dict:
        """Figure widget name -> (the state it shows, a function drawing it as a go.Figure)."""
        fitted = _settings_key(self.run, self.settings)
        return {"hist": ((fitted, self.machine, self.domain, self.view, self._pins, self.locked_x),
                         self.histogram_figure),
                "sphere": ((fitted, self.machine, self.domain, self.color), self.sphere_figure),
                "beta": (self.settings["alpha"], lambda: beta_figure(self.settings["alpha"])),
                "margin": ((self.settings["loss"], self.settings["m"]),
                           lambda: margin_figure(self.settings["loss"], self.settings["m"]))}

    def _register_clicks(self) -> None:
        for trace in self.sphere_widget.data:
            if trace.name in ("test normal", "test anomaly"):
                trace.on_click(self._on_click)

    def _sync_controls(self) -> None:
        loss = self.settings["loss"]
        self._quiet = True
        try:
            self.run_dropdown.value = self.run
            self.machine_dropdown.options = [(m, m) for m in self.data["machines"]] + [("all machines", ALL)]
            self.machine_dropdown.value = self.machine
            self.domain_dropdown.options = [("all domains" if d == ALL else d, d) for d in self.domains()]
            self.domain_dropdown.value = self.domain
            self.domain_dropdown.disabled = len(self.domains()) < 2  # e.g. DCASE 2020 data: no domains
            self.color_dropdown.options = [(COLOR_MODES[c], c) for c in self.color_modes()]
            self.color_dropdown.value = self.color
            self.view_toggle.value = self.view
            self.lock_checkbox.value = self.locked_x is not None
        finally:
            self._quiet = False
        self.m_slider.disabled = loss == "ce"
        self.alpha_slider.disabled = loss not in MIXUP_LOSSES
        self.unpin_button.disabled = self.pinned is None
        self.margin_rule.value = f"<small>{html.escape(MARGIN_RULES[loss])}</small>"
        s = self.summary().iloc[0]
        self.status.value = (f"run <b>{html.escape(self.run)}</b> &nbsp;|&nbsp; trained in {self.fit_seconds:.2f} s "
                             f"&nbsp;|&nbsp; median test angle: normal <b>{s['median_normal_angle']:.1f}</b> deg, "
                             f"anomalous <b>{s['median_anomaly_angle']:.1f}</b> deg &nbsp;|&nbsp; AUC of the angle "
                             f"as anomaly score <b>{s['angle_auc']:.3f}</b>")
        notes = [self.data["note"]] if self.data["note"] else []
        if not self.data["has_truth"]:
            notes.append("no factory ground truth for this run's data (real DCASE data or no data root in "
                         "config.json): coloring by anomaly kind / severity is not offered")
        self.notes.value = "".join(f"<div style='font-size:11px;color:#666'>{html.escape(n)}</div>" for n in notes)
        self.auc_html.value = auc_table_html(self.auc_table(), self.machine, self.domain)
