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
# # Method report
#
# One anomalous-sound-detection method on one dataset: what it is, how well it detects
# anomalies per machine type (the official DCASE table), how its embedding space looks, how its
# scores are spread, and, on the built-in factory data, which anomaly kinds and severities it
# catches. The method is trained once; when its run folder already exists it is reused as it is.
#
# Parameters (papermill): `method` (see `asdlab methods`), `preset` (smoke / course / paper),
# `data_dir` (None = the built-in factory data at the preset's scale), `runs_dir` (None =
# `runs/<preset>`), `seed`, `interactive` (progress bars on or off: every figure here uses
# plotly menus, which work the same in JupyterLab and in the static HTML report).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
method = "tastgram_noisy_arcmix"

# %%
import pandas as pd
from IPython.display import Markdown, display

from asdlab import notebook as nb
from asdlab.analysis import (angle_table, convergence_table, detection_by_kind, detection_by_severity,
                             embedding_status, factory_ground_truth, run_umap, styled_metrics)
from asdlab.analysis.backends import backend_table
from asdlab.analysis.compare import official_ci95
from asdlab.methods import get_method
from asdlab.runs import load_run, run_method
from asdlab.viz import angle_histograms, detection_figure, embedding_map, score_distributions
from asdlab.viz.teaching import history_figure, load_history

nb.check_parameter_names(globals(), "preset data_dir runs_dir seed interactive method")
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed,
                interactive=interactive, method=method)
info = nb.setup(seed)
data = nb.ensure_data(data_dir, preset, seed)
runs = nb.resolve_runs(runs_dir, preset)
gt = factory_ground_truth(data)  # None for real DCASE data

# %%
run_dir = run_method(method, data, runs / method, preset=preset, seed=seed, progress=interactive)
run = load_run(run_dir)
status = embedding_status(run_dir)
display(Markdown(f"**{method}**: {get_method(method).summary}.  \nRun folder `{run_dir}`, data "
                 f"`{data}`, preset `{preset}`, seed {seed}, {info['device']} with {info['threads']} threads."))
pd.Series(run["config"]["params"], name="value", dtype=object).to_frame().rename_axis("parameter")

# %% [markdown]
# ## Official metrics
#
# Per machine type: AUC over the source-domain normals plus all anomalies, AUC over the
# target-domain normals plus all anomalies, and the partial AUC (false-positive rate up to 0.1)
# over all clips. The last row is the harmonic mean of each column; the official score is the
# harmonic mean of every AUC and pAUC above it.
#
# Next to the official score: ± the half-width of its **jackknife 95 % interval**
# (`official_ci95` in the run's `summary.json`), as the DCASE 2024 evaluator computes it: every
# test clip is left out once, for the pooled AUC and pAUC, with a t distribution (Mesaros et al.
# 2019). It is the uncertainty that comes from the finite test set; training seeds add their own
# (notebook 03 with several `seeds`).

# %%
if "table" in run:
    metrics = styled_metrics(run["table"], caption=method)
    ci95 = official_ci95(run)
    interval = (f" ± {100 * ci95:.2f} % (jackknife 95 % interval)" if not pd.isna(ci95) else
                f" (no jackknife interval: {run['summary'].get('official_ci95_note') or 'too few clips'})")
    display(metrics.set_caption(metrics.caption + interval))
else:
    display(Markdown("The test labels of this dataset are unknown (evaluation data): no metrics."))

# %% [markdown]
# ## Learning curves
#
# The loss per epoch of every network the method trained (one per machine type for the
# AutoEncoder, one per ensemble member, one per training stage) and, for the classifiers, the
# accuracy of their class head on clean clips (`val_acc` on the held-out clips, or `train_acc`
# on a fixed sample of 256 training clips where the method holds none out), on the right-hand
# axis. The verdict reads that accuracy where every epoch has one (a margin loss keeps falling
# while it tightens angles the decisions no longer need), else the validation loss, else the
# training loss: with `n` epochs and `q = ceil(n / 4)`, training has **converged** when the
# best of the last `q` epochs (grey) beats the best of the epochs before them by at most
# 2 points of accuracy or 2 % of a loss, and is **still improving** otherwise (**too short**
# under 4 epochs). `improvement_pct` is that gain (points of accuracy, % of a loss); a negative
# one means the tail never beat the earlier best. A run with the `plateau` schedule trains at a
# constant learning rate until this rule says converged, then anneals (green, not judged).
# Guided clustering's pretraining rounds are **not judged**: each round trains a new head on new
# pseudo labels. A **still improving** curve at `course` is a measured choice, not an oversight:
# each method's page in `docs/methods/` ("The `course` budget") gives the official score of
# longer training over 3 seeds on factory data the reports do not use. For `sc_adacos`,
# `contrastive_ae_cnn` and guided clustering the extra epochs change the score by less than the
# seed spread while the accuracy on the training clips keeps rising; for the AutoEncoders 60
# epochs gain about 2 points at twice the training time, and stopping at the first plateau of the
# validation loss loses about 5.

# %%
history = load_history(run_dir)
trains = any("epoch" in name for name in run["config"]["params"])
if history is None or history.empty:
    display(Markdown(f"`{method}` trains no network: no learning curves." if not trains else
                     f"`{method}` kept no training history (`history.csv`): its models came from a cache "
                     "made before histories were kept."))
else:
    display(convergence_table(run_dir).round(4).style.hide(axis="index")
            .format(precision=4, na_rep="-").set_caption(f"{method}: convergence per curve"))
    history_figure(history, title=f"{method}: learning curves").show()

# %% [markdown]
# ## The same embeddings, every back end
#
# The run's saved embeddings (with its class centers, or the AutoEncoder's residual statistics)
# re-scored by every back end that can use them, without retraining: `asdlab backends` lists the
# back ends and `asdlab rescore` writes any of them as a run folder of its own. `run's own` marks
# the back end that produced the scores of this report; the metrics are harmonic means over the
# machine types (fractions, higher is better), `note` says why a back end could not score.

# %%
backend_table(run_dir).round(4)

# %% [markdown]
# ## Angles to the class centers
#
# For methods with a class head: the angle between each test clip's embedding and the center
# of its class (the Noisy-ArcMix paper's Figure 1). A loss that separates well keeps normal
# clips at small angles and pushes anomalies out. The menu picks a machine type and domain.

# %%
if status["centers"]:
    angle_histograms({method: angle_table(run_dir, ground_truth=gt)}).show()
else:
    display(Markdown(status["note"]))

# %% [markdown]
# ## UMAP map of the embeddings
#
# Every training and test clip, projected to 2-D with UMAP (seeded; computed once and cached in
# the run folder). The first menu changes the coloring: domain, label, split, machine, the
# attributes in the file names and, on factory data, the true attributes (also where file names
# say `noAttribute`) and anomaly kinds. The second menu shows one machine type. Circles are
# training clips, diamonds test clips; hover for the file name.

# %%
if status["embeddings"]:
    embedding_map(run_umap(run_dir, seed=seed, ground_truth=gt), title=f"UMAP of {method}'s embeddings").show()
else:
    display(Markdown(status["note"]))

# %% [markdown]
# ## Score distributions
#
# Anomaly scores (higher = more anomalous) of the normal and anomalous test clips, per domain.
# A good detector separates the two colors in both domains; a target-domain normal box as high
# as the anomalies is the domain-shift problem of first-shot ASD.

# %%
score_distributions(run["scores"])

# %% [markdown]
# ## Which anomalies are detected
#
# Only the built-in factory data knows each anomaly's kind and severity. The AUC of one kind
# (or severity bin) compares its anomalous clips with the machine's normal clips, in both
# domains together (`all`) and per domain; `all kinds` is every anomaly. Subtle anomalies
# (low severity) are expected to be harder.

# %%
by_kind = detection_by_kind(run["scores"], gt)
by_severity = detection_by_severity(run["scores"], gt)
if gt is None:
    display(Markdown("This dataset has no factory ground truth (`ground_truth/clips/`), so anomaly "
                     "kinds and severities are unknown."))
detection_figure(by_kind, by_severity)

# %% [markdown]
# ## Things to try
#
# - Run this report for `method="ae_mse"` and compare the map: the AE's bottleneck codes are not
#   trained to separate classes.
# - Color the map by true attributes for gearbox or slider: does the embedding recover
#   attributes that the file names hide?
# - Which anomaly kind is the hardest for each machine, and is it the same for every method?
# - In the back-end table, which back end is best in the target domain, and why does scoring by the
#   clip's own class put target normals above source anomalies? Try
#   `asdlab rescore RUN --backend kmeans --set n_clusters=4 --out RUN-k4`.
