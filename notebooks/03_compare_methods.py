# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Every method side by side
#
# Each method's run folder holds the seed papers' **Table 1**: per machine type, the AUC on the
# source domain, the AUC on the target domain and the partial AUC (false alarm rate up to 0.1),
# then their harmonic mean over machine types (`All (hmean)`) and the **official score**, the
# harmonic mean of every AUC and pAUC of the table. This notebook reads those run folders (it
# trains nothing: notebook `01_method_report` or `asdlab run` make them) and puts them side by
# side. In every row the best value of each metric is **bold**; a method whose run is missing
# keeps its columns, empty, and is listed below the table.
#
# Parameters: `preset` (smoke / course / paper: the runs to expect), `data_dir` (the dataset the
# runs should have been made on; None = the built-in factory data), `runs_dir` (None =
# `runs/<preset>`), `seed`, `interactive` (nothing here needs a kernel: the same output either
# way) and `methods` (None = every registered method).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
methods = None

# %%
import asdlab.notebook as nb
from asdlab.analysis.compare import (compare_table, leaderboard, method_runs, missing_runs, official_scores_figure,
                            percent_style, run_overview, style_best)

info = nb.setup(seed)
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed, interactive=interactive)
if methods is not None:
    nb.check_params(methods=methods)
runs = method_runs(nb.resolve_runs(runs_dir, preset), methods)
info

# %% [markdown]
# ## The runs
#
# `status` says whether each run folder exists and has metrics (evaluation data without labels
# give a submission but no metrics). `note` flags a run made at another preset or on another
# dataset than this notebook's parameters: its numbers are not comparable with the others.

# %%
percent_style(run_overview(runs, preset=preset, data=data_dir), ["official_score"])

# %% [markdown]
# ## The ranking
#
# Each method's `All (hmean)` row and official score, best official score first; the best value
# of each column in bold.

# %%
table = compare_table(runs, warn=False)
percent_style(leaderboard(table), best=True)

# %%
official_scores_figure(table)

# %% [markdown]
# ## Table 1, every method
#
# Percentages; `-` where a run has no value. The last row holds each method's official score
# under its first metric column.

# %%
style_best(table)

# %% [markdown]
# ## Runs left out
#
# Make a missing run with `asdlab run METHOD --data DATA --preset PRESET --out RUNS/METHOD`, or
# by executing `01_method_report` with `method=METHOD`, then run this notebook again.

# %%
missing_runs(table)

# %% [markdown]
# ## Exercises
#
# 1. Which method has the best official score, and does it also win the `AUC target` column of
#    `All (hmean)`? Why can the two rankings differ?
# 2. Find a machine type where the AutoEncoder beats every TASTgram-MFN method. What about its
#    sound (see `asdlab.viz.factory_preview`) could explain it?
# 3. The harmonic mean punishes one bad value hard. Recompute the official score of two methods
#    leaving out their worst machine type (the table is a DataFrame: `table[method]`): how much
#    does the ranking move?
# 4. Run the report with `seed=1` (`asdlab report ... --seed 1 --out reports/seed1`). Which
#    differences between methods are larger than the change from one seed to another?
