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
# # 03 · Every method side by side
#
# Each method's run folder holds the seed papers' **Table 1**: per machine type, the AUC on the
# source domain, the AUC on the target domain and the partial AUC (false alarm rate up to 0.1),
# then their harmonic mean over machine types (`All (hmean)`) and the **official score**, the
# harmonic mean of every AUC and pAUC of the table. This notebook reads those run folders (it
# trains nothing: notebook `01_method_report` or `asdlab run` make them) and puts them side by
# side. A method whose run is missing keeps its columns, empty, and is listed below the table.
#
# Two runs of one method with different training seeds differ by a few points, so one run per
# method ranks the methods but does not show which differences are real. With several seeds
# (`seeds=[0, 1, 2]`, or `asdlab report --seeds 0 1 2`) this notebook trains each method's
# further seeds (the first seed's runs come from notebook `01_method_report`; seed `s` goes to
# `runs_dir/seed<s>/<method>`) and shows the **mean ± sample standard deviation** (ddof 1) over the
# seeds. There a value is **bold** only when it is the best beyond the spread: its mean exceeds
# every other method's mean in that row and metric by more than the larger of the two standard
# deviations (each needs at least 2 seeds). With a single seed there is no spread: the bold value is
# the plain highest of its row and metric, a ranking and not evidence.
#
# Every run also carries the 95 % jackknife interval of its official score (`official_ci95`,
# ± that half-width), computed as the DCASE 2024 evaluator does over all test clips (its own
# variance formula gives an interval N - 1 times narrower; `summary.json` keeps both): it is
# the uncertainty from the finite test set, the seeds show the uncertainty from training.
#
# Parameters: `preset` (smoke / course / paper: the runs to expect), `data_dir` (the dataset the
# runs should have been made on; None = the built-in factory data), `runs_dir` (None =
# `runs/<preset>`), `seed`, `interactive` (progress bars while training further seeds),
# `methods` (None = every registered method), `seeds` (None = `[seed]`; a list of training
# seeds, the first one playing `seed`'s part) and `claims_csv` (the measured claims table; None =
# the repository's `docs/claims.csv`).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
methods = None
seeds = None
claims_csv = None

# %%
from IPython.display import Markdown, display

import asdlab.notebook as nb
from asdlab.analysis.claims import BASELINES, CLAIMS_HOWTO, claims_markdown, load_claims
from asdlab.analysis.compare import (compare_table, leaderboard, method_runs, missing_runs, official_scores_figure,
                                     percent_style, run_overview, seed_compare_table, seed_leaderboard,
                                     seed_overview, seed_scores_figure, style_best, style_seeds)
from asdlab.runs.seeds import check_seeds, seed_runs

nb.check_parameter_names(globals(), "preset data_dir runs_dir seed interactive methods seeds claims_csv")
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed, interactive=interactive)
if methods is not None:
    nb.check_params(methods=methods)
seeds = check_seeds([seed] if seeds is None else seeds, "notebook parameter seeds")
claims = load_claims(claims_csv)  # None when there is no measured table
info = nb.setup(seeds[0])
runs_root = nb.resolve_runs(runs_dir, preset)
runs = method_runs(runs_root, methods)
several = len(seeds) > 1
if several:  # train the further seeds' missing runs (the first seed's come from notebook 01)
    data = nb.ensure_data(data_dir, preset, seeds[0])
    by_seed = seed_runs(list(runs), data, runs_root, preset, seeds, train_first=False, keep_going=True,
                        progress=interactive)
{**info, "seeds": seeds}

# %% [markdown]
# ## The runs
#
# `status` says whether each run folder exists and has metrics (evaluation data without labels
# give a submission but no metrics). `official_ci95` is the half-width of the jackknife 95 %
# interval of the official score. `note` flags a run made at another preset, on another dataset
# or with another seed than this notebook's parameters: its numbers are not comparable with the others.

# %%
if several:
    overview = seed_overview(by_seed, preset=preset, data=data_dir)
else:
    overview = run_overview(runs, preset=preset, data=data_dir, seed=seeds[0])
percent_style(overview, ["official_score", "official_ci95"])

# %% [markdown]
# ## Over the seeds
#
# Mean ± sample standard deviation over the training seeds of each method's `All (hmean)`
# metrics and official score (each seed's own harmonic means, averaged), best mean official score
# first; `(n=...)` where fewer seeds than asked have a value. Bold: best beyond the spread (see the
# top of this notebook). The figure shows the mean official score with ± 1 sd bars and every seed
# as a dot. This section needs several seeds.

# %%
if several:
    stats = seed_compare_table(by_seed, warn=False)
    display(style_seeds(seed_leaderboard(stats)))
    display(seed_scores_figure(stats))
else:
    display(Markdown(f"One seed ({seeds[0]}): no spread to show. Run with `seeds=[{seeds[0]}, ...]` "
                     "(or `asdlab report --seeds ...`) for mean ± sd over training seeds."))

# %% [markdown]
# ## The ranking, first seed
#
# Each method's `All (hmean)` row and official score for the first seed, best official score
# first; the highest value of each column in bold (one seed: a ranking, not evidence).

# %%
table = compare_table(runs, warn=False)
percent_style(leaderboard(table), best=True)

# %%
official_scores_figure(table)

# %% [markdown]
# ## Table 1, every method
#
# Percentages; `-` where a run has no value. The last row holds each method's official score
# under its first metric column. With several seeds: mean ± sd over the seeds, bold only beyond
# the spread; with one seed: that run's values, the highest of each row and metric in bold.

# %%
style_seeds(stats) if several else style_best(table)

# %% [markdown]
# ## Runs left out
#
# Make a missing run with `asdlab run METHOD --data DATA --preset PRESET --out RUNS/METHOD`, or
# by executing `01_method_report` with `method=METHOD`, then run this notebook again. With several
# seeds, a further seed's run that failed to train is listed as `METHOD, seed S`.

# %%
missing_runs(table) if not several else missing_runs(stats).rename_axis("run")

# %% [markdown]
# ## What learning adds, measured over seeds
#
# `benchmarks/claims.py` measures every seed paper's central claims on factory data over several
# training seeds; its last claims put each neural method against the AutoEncoder (`ae_mse`) and
# against `raw_spec`, which learns nothing (each clip's time-averaged log-mel, scored by a back end). A
# claim "A > B" **holds** when the mean of A - B over the seeds exceeds its sample sd, **does not
# hold** when minus the mean does, and is **within the spread** otherwise. The table comes from
# `claims_csv` (default `docs/claims.csv`), not from the runs above. The papers' own claims are in
# the notebooks that concern them: 02 (seed 004), 04 (seeds 002 and 000), 05 (seed 001); the whole
# table, seed 003's rows (contrastive term, median filter) included, is the markdown file next to
# the CSV (`docs/claims.md`).

# %%
Markdown(CLAIMS_HOWTO if claims is None else f"From `{claims.attrs['path']}`:\n\n"
         + claims_markdown(claims[claims["side_b"].isin(BASELINES)]))

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
# 4. Run the report with three seeds (`asdlab report ... --seeds 0 1 2 --out reports/seeds`).
#    Which differences between methods are larger than the spread from one seed to another, and
#    how does that spread compare with the jackknife interval of a single run?
