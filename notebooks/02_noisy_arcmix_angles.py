# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version,-language_info
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Noisy-ArcMix: how the loss shapes the angles to the class centers
#
# The TASTgram-MFN methods classify every training clip into its machine x section x attribute
# class with a cosine head: each class has a center (a unit vector) and a clip's logit for a
# class is the cosine between its embedding and that center. At test time a clip of a known
# class sits at some **angle** from its class center. A good loss puts normal clips close to
# their center (small angles) and leaves anomalies further out, so the angle itself separates
# them. This is Figure 1 of the Noisy-ArcMix paper (Choi et al., ICASSP 2024): for CE, ArcFace,
# ArcMix and Noisy-ArcMix, histograms of the angle between test clips and their class center,
# normal vs anomalous.
#
# The paper's "CE (without margin)" can be read two ways, and both are here: **CE** is a cosine
# softmax (logits `s cos`, i.e. ArcFace with no margin; `tastgram_ce`), **CE (linear)** the plain
# linear softmax classifier `W e + b` (`tastgram_linear_ce`), whose weight rows `W_c`, normalised,
# are the class centers the angles are measured to. Both score a clip by minus the log-softmax of
# their own logits at its class, without a margin.
#
# The paper made Figure 1 on DCASE 2020 data, whose classes are machine IDs (41 of them), so this
# notebook runs by default on the factory's `dcase2020` style: several physically distinct units
# (machine IDs) per machine type and no domain shift. Give `style="dcase2024"` (or a `data_dir`)
# for the other setting, where the classes are machine x section x attributes.
#
# Parameters: `preset` (smoke / course / paper), `data_dir` (None = the built-in factory data of
# `style`), `style` (`dcase2020`, the default, or `dcase2024`; used when `data_dir` is None),
# `runs_dir` (None = `runs/<preset>`, `runs/<preset>-dcase2020` for the 2020 style), `seed`,
# `interactive` (False in batch reports: static
# figures instead of widgets), `methods` (a subset of the five Figure 1 runs),
# `explorer_run` (the run whose embeddings the explorer trains on) and `claims_csv` (the
# measured claims table; None = the repository's table measured on data of `style`:
# `docs/claims2020.csv` for `dcase2020`, `docs/claims.csv` for `dcase2024` or a `data_dir`).

# %% tags=["parameters"]
preset = "course"
data_dir = None
style = "dcase2020"
runs_dir = None
seed = 0
interactive = True
methods = ["tastgram_ce", "tastgram_linear_ce", "tastgram_arcface", "tastgram_arcmix", "tastgram_noisy_arcmix"]
explorer_run = "tastgram_ce"
claims_csv = None

# %%
from IPython.display import Markdown

import asdlab.notebook as nb
from asdlab.analysis import angle_summary, angle_summary_by_domain, angle_table, factory_ground_truth
from asdlab.analysis.claims import CLAIMS_HOWTO, claim_rows, claims_markdown, load_claims
from asdlab.viz.explorer import (AngleExplorer, ce_readings_note, check_figure1_params, loss_title,
                                 paper_ordering_note)
from asdlab.runs import run_method
from asdlab.viz import angle_histograms, format_table

nb.check_parameter_names(globals(), "preset data_dir style runs_dir seed interactive methods explorer_run claims_csv")
nb.check_params(preset=preset, data_dir=data_dir, style=style, runs_dir=runs_dir, seed=seed,
                interactive=interactive, methods=methods, method=explorer_run)
info = nb.setup(seed)
needed = check_figure1_params(methods, explorer_run, preset)
data_style = style if data_dir is None else "dcase2024"  # a given data_dir: runs and claims as for dcase2024
claims = load_claims(claims_csv, data_style)  # None: no measured table
data = nb.ensure_data(data_dir, preset, seed, style=style)
runs = nb.resolve_runs(runs_dir, preset, data_style)
info

# %% [markdown]
# ## The runs
#
# Each method is trained into `runs_dir/<method>`, or reused when that folder already holds a run
# with the same configuration (then nothing is recomputed). On `course` data one TASTgram run
# takes a few minutes on a 2-core CPU.

# %%
run_dirs = {m: run_method(m, data, runs / m, preset=preset, seed=seed, progress=interactive) for m in needed}
run_dirs

# %% [markdown]
# ## Figure 1: angle between test clips and their class center
#
# One panel per loss (CE twice: cosine and linear softmax); blue = normal test clips, red =
# anomalous ones; the bars are shares of
# the clips of each kind. The menu restricts the histograms to a machine type and/or a domain.
#
# What to look for:
# - **where the normal peak sits**: the median normal angle. The margin of ArcFace (an extra
#   0.7 rad = 40 deg added to each clip's own angle in training) pulls the training clips towards
#   their center; the paper reports normal peaks at about 35 deg (CE), 10 deg (ArcFace),
#   2 deg (ArcMix) and 5 deg (Noisy-ArcMix), i.e. median normal angles **CE > ArcFace >
#   Noisy-ArcMix**;
# - **how far the anomalies stay out**: ArcMix (margin on both mixed labels) also pulls many
#   anomalies to near 0 deg, while Noisy-ArcMix (margin on one label whatever the mixing weight)
#   leaves them spread over 5-65 deg in the paper. That gap, not the normal peak alone, is what
#   makes the angle a good anomaly score;
# - **source vs target**: the target domain has only a few training clips per class, so its
#   normal clips usually sit further from the centers than the source ones.

# %%
gt = factory_ground_truth(data)  # anomaly kind, severity, true attributes (None for real DCASE data)
tables = {loss_title(m): angle_table(run_dirs[m], ground_truth=gt) for m in methods}
angle_histograms(tables)

# %% [markdown]
# The same in numbers, for all test clips and per domain: median angle of normal and of
# anomalous clips (degrees), `separation_deg` = their difference, and `angle_auc`, the ROC AUC of
# the angle used as an anomaly score (0.5 = no separation).

# %%
summary = angle_summary_by_domain(tables)
format_table(summary, 1, {"angle_auc": "{:.3f}"})

# %%
Markdown(paper_ordering_note(summary.loc["all"]))

# %% [markdown]
# Which reading of CE gives the paper's CE picture, a normal peak at about 35 deg? The cosine
# softmax keeps the embeddings on directions (only the angle enters its logits, scaled by `s`);
# the linear softmax also rewards long embeddings and uses the bias, so nothing pulls its clips
# towards the direction of `W_c`.

# %%
Markdown(ce_readings_note(summary.loc["all"]))

# %% [markdown]
# **Honest caveat.** The paper trains 300 epochs of a full-width TASTgram-MFN on 10 s clips of
# the real DCASE 2020 data. The `course` preset trains a quarter-width network on 2 s crops of
# the synthetic factory data at a constant learning rate until its validation accuracy is on a
# plateau, then anneals for 6 epochs (16-17 epochs in all on the factory data, at most 30;
# method reports show the curves), and `smoke` 2 epochs on 1 s crops, far from converged (on
# `smoke` the ordering is close to chance). A converged small network is still not the paper's
# network: the order among ArcFace, ArcMix and Noisy-ArcMix may differ from the paper's, and
# the `paper` preset (a GPU) is the setting that compares with it.

# %% [markdown]
# ## Explorer: retrain a toy head on the frozen embeddings
#
# To see *why* the loss moves the angles, the explorer keeps the 128-d embeddings of
# `explorer_run` fixed and retrains only a small head on its training clips, in about a second:
# a projection to 3 dimensions (or 2) followed by the same cosine head and the same losses as the
# real methods (mixup of the embeddings for ArcMix and Noisy-ArcMix). The projected clips lie on
# the unit sphere (or circle) **where the angles are measured**: the sphere plot shows the test
# clips (blue dots normal, red crosses anomalous), the training clips (small, in their class
# color) and the class centers (diamonds on rays from the origin); the histograms show the test
# clips' angles to their center, the training clips' angles (grey line) and the loss curve.
#
# Controls: `run` (the embeddings of any run of this notebook: CE, ArcFace, ArcMix,
# Noisy-ArcMix, ...; each is loaded once), `loss`, margin `m` (radians; not used by CE), scale
# `s` and mixup `alpha` (ArcMix and Noisy-ArcMix only; the Beta(alpha, alpha) density of the
# mixing weight is drawn next to it, and a small drawing shows which label gets the margin)
# retrain the head; `space` switches between circle and sphere; `show` draws one machine type
# (the first by default, or all), `domain` source or target clips only, `color` colors the test
# clips by the factory's anomaly kind or severity (absent for real data, which have no ground
# truth). The head always trains on every class of every machine, as the real methods do (a
# machine whose attributes are hidden has a single class, and a softmax over one class learns
# nothing); these only filter the drawing, which makes the sphere legible. **Pin this setting**
# keeps the current angles as a dashed outline to compare the next setting with; **lock the
# angle axis** keeps the x range fixed; `angles` switches to the ECDF (share of clips up to each
# angle). Under the status line: the AUC of the angle per machine type and domain. **Click a
# test clip** on the sphere to see its file name and log-mel and to hear it. The export button
# writes the drawn angle table (`.csv`) and the settings (`.json`) into the folder given.
# The same settings always give the same figure (everything is seeded by `seed`).
#
# Things to try: ArcFace with `m = 0` is exactly CE (compare the histograms); raise `m` and watch
# the training clips collapse onto their centers while the test clips follow less; lower `s` to
# 4 and the softmax can no longer become confident, so the clips spread out; with only 2 or 3
# dimensions the classes crowd the sphere, so a large margin cannot be met for all of them.

# %%
explorer = AngleExplorer(runs={loss_title(m): run_dirs[m] for m in needed}, run=loss_title(explorer_run), seed=seed)
explorer.show(interactive)

# %% [markdown]
# The toy head trained with each of the four losses at the explorer's starting settings
# (m 0.7, s 30, alpha 0.5, sphere), drawn like Figure 1. In a batch report this replaces moving
# the sliders.

# %%
toy_tables = explorer.loss_tables()
angle_histograms(toy_tables)

# %%
Markdown(paper_ordering_note(angle_summary(toy_tables), what="the toy head"))

# %% [markdown]
# ## The paper's claims, measured over seeds
#
# One run per loss, as above, cannot tell a real ordering from the spread of training: two seeds
# of one method differ by a few points. `benchmarks/claims.py` trains every run the seed papers'
# claims need for several seeds on factory data and measures each claim "A > B" as the mean ± sd
# of A - B over the seeds. These are seed 004's rows: the Figure 1 ordering of median normal
# angles per domain (CE > ArcFace > Noisy-ArcMix, both readings of CE), the angle gap of
# Noisy-ArcMix vs ArcMix, the ordering of official scores Noisy-ArcMix > ArcMix > ArcFace,
# TASTgram vs STgram, and each of its methods against the AE and the no-learning `raw_spec`.
# The table comes from `claims_csv` (default: `docs/claims2020.csv`, measured on the
# `dcase2020`-style course data, for `style="dcase2020"`; `docs/claims.csv`, measured on the
# `dcase2024`-style course data, otherwise; each markdown's foot gives its command line), not
# from this notebook's runs.

# %%
Markdown(CLAIMS_HOWTO if claims is None else f"From `{claims.attrs['path']}`:\n\n"
         + claims_markdown(claim_rows(claims, "004")))

# %% [markdown]
# ## Exercises
#
# 1. Run this notebook with `explorer_run="tastgram_noisy_arcmix"`. Does a toy CE head on
#    Noisy-ArcMix embeddings give smaller angles than on CE embeddings? What does that say about
#    where the margin's effect lives: in the embedding network or in the head?
# 2. In the explorer, set Noisy-ArcMix and move `alpha` from 0.1 to 2. Beta(alpha, alpha) puts
#    the mixing weight near 0 or 1 for small alpha and near 0.5 for large alpha: how do the
#    anomalies' angles respond?
# 3. Switch to the circle (2-D) with `m = 1.0`. Count the classes and explain, from the spacing
#    of the centers, why the training loss cannot reach zero.
