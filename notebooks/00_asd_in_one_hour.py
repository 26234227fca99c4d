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
# # 00 · Anomalous sound detection in one hour
#
# A first tour of **first-shot anomalous sound detection (ASD)** for machine condition
# monitoring, the problem of DCASE Task 2 (2023-2025), on the factory data that ships with
# `asdlab`. Everything runs on a laptop CPU; every number comes from a seeded, tested
# `asdlab` function, so you and your neighbour get the same results.
#
# | part | what you do | time |
# | --- | --- | --- |
# | 1 | the task and its vocabulary | 10 min |
# | 2 | the DCASE data layout | 5 min |
# | 3 | listen to and look at normal and anomalous clips | 10 min |
# | 4 | the official metrics on ten scores you can check by hand | 10 min |
# | 5 | train and score the official AutoEncoder baseline | 15 min (about 2 min of computing) |
# | 6 | exercises | the rest, or homework |
#
# ## 1. The task
#
# A microphone records a machine (a fan, a valve, a toy car...). We want a number per clip, the
# **anomaly score**, that is higher when the machine sounds faulty. The catch: **training data
# contain only normal sounds.** Faults are rare and varied, so nobody can collect examples of
# all of them; the model has to learn what "normal" sounds like and flag what departs from it.
#
# The vocabulary of DCASE Task 2:
#
# - **machine type**: ToyCar, fan, valve, ... One system is trained and scored per machine type
#   (or one system for all of them).
# - **section**: a subset of one machine type's clips with its own evaluation (DCASE 2024 has one
#   section, `00`, per machine type).
# - **domain**: the operating and recording conditions. The **source** domain has many training
#   clips (990 per section in DCASE 2024); the **target** domain, a shifted condition (another
#   speed, microphone, background noise...), has only about **10**. At test time the system does
#   not know which domain a clip comes from (the evaluation file names are anonymised).
# - **attributes**: what the organisers tell about each training clip's condition, e.g.
#   `car_A1_spd_28V_mic_1`. For some machine types they are hidden (`noAttribute`).
# - **first shot** (since 2023): the machine types of the evaluation set are new ones, with one
#   section each. You cannot tune hyperparameters per machine type on their test data: a method
#   must work on a machine it has never seen, from its training clips alone.
#
# **Why domain shift matters.** A model that has heard 990 source clips and 10 target clips
# reconstructs or recognises source sounds well and target sounds worse, so normal target clips
# look "unusual" and score high: false alarms. Most of the field's progress since 2021 is about
# scoring both domains fairly with ten target examples.
#
# **What the evaluation ranks.** Only the *order* of the scores matters: ROC AUC per domain and a
# partial AUC that looks at the lowest false alarm rates, combined by a harmonic mean over all
# machine types and sections (part 4). The 0/1 decisions (precision, recall, F1) are reported,
# not ranked.
#
# **The factory.** Real DCASE data are about 30 GB. `asdlab` generates a DCASE-2024-like dataset
# instead: the same 7 machine types, file names and layout, a shifted target domain, hidden
# attributes for gearbox, slider and ToyTrain, and a ground truth that the real data do not
# give: the kind and severity of each anomaly (docs/factory.md).
#
# ### Parameters
# `preset`: `smoke` (seconds, for tests), `course` (this class: 126 training and 100 test clips
# of 5 s per machine type), `paper` (the real DCASE 2024 sizes, for a GPU). `data_dir=None`
# uses the built-in factory data (generated on the first run, about 20 s for `course`); parts 3
# and 5 also show the factory's ground truth (anomaly kinds, severities), which real DCASE data
# do not have: on those they show the dataset's own clips and say what is missing. `runs_dir`
# holds one run folder per method (default `runs/<preset>`): a finished run is reused, not
# recomputed. `machine` is the machine type looked at in parts 3 and 5 (`None`: valve when the
# data has it, else the first machine type).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
machine = None

# %%
import pandas as pd
from IPython.display import display

import asdlab.notebook as nb
from asdlab.viz import teaching
from asdlab.analysis import factory_ground_truth
from asdlab.data import build_clip_table, summarize
from asdlab.metrics import format_table, metrics_table, official_score, section_metrics
from asdlab.runs import load_run, run_method
from asdlab.viz.factory_preview import preview

nb.check_parameter_names(globals(), "preset data_dir runs_dir seed interactive machine")
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed, interactive=interactive)
info = nb.setup(seed)
data = nb.ensure_data(data_dir, preset, seed, progress=interactive)
runs = nb.resolve_runs(runs_dir, preset)
pd.set_option("display.max_colwidth", 80)
print(f"data: {data}\nruns: {runs}\n{info}")

# %% [markdown]
# ## 2. The DCASE layout
#
# A dataset is a folder `dev_data/raw/<machine>/{train,test}/` of WAV files (16 kHz, mono),
# exactly as the organisers publish it. `build_clip_table` reads nothing but the folder and the
# file names (and `attributes_00.csv` where it exists) and returns one row per clip:

# %%
table = build_clip_table(data)
machine = teaching.pick_machine(table, machine)
table.head(3)

# %% [markdown]
# `summarize` counts the clips per machine type, section, split, domain and label (the command
# line `asdlab index DIR` prints the same table). Note the imbalance of the training data:
# many source clips, a handful of target clips. The test set is balanced over
# {source, target} x {normal, anomaly}.

# %%
summarize(table)

# %% [markdown]
# Every field is in the file name:
# `section_00_target_test_anomaly_0003_v1pat_A_v2pat_D.wav` = section `00`, **target** domain,
# **test** split, **anomaly** label, clip number 3 of its cell, attributes `v1pat=A`, `v2pat=D`.
# Training names always say `normal`. Here is one clip of each (split, domain, label) cell of
# the chosen machine type, and one of a machine type whose attributes are hidden:

# %%
cells = ["file", "machine", "split", "domain", "label", "index", "attributes"]
pd.concat([table[table["machine"] == machine].groupby(["split", "domain", "label"], dropna=False).head(1)[cells],
           table[table["attributes"] == "noAttribute"].head(1)[cells]])

# %% [markdown]
# On the real evaluation set the test names are anonymised (`section_00_0001.wav`): no domain,
# no label. Here, as on the development set, the labels are in the names, so we can compute
# metrics ourselves.
#
# ## 3. Listen and look
#
# `preview` plays a normal test clip and the most severe clip of each anomaly kind of one
# machine type (on data without the factory's ground truth: the first anomalous clips), and
# draws their **log-mel spectrograms**: time on the x axis, 128 mel bands
# (low to high pitch) on the y axis, loudness in dB as colour. This is the input of the
# AutoEncoder baseline (part 5). The clips keep their relative loudness.

# %%
fig, clips = preview(data, machine)
fig.show()
for annotation, clip in zip(fig.layout.annotations, clips):
    print(annotation.text)
    display(clip)

# %% [markdown]
# Now the domain shift. The four panels below are one test clip per domain and label (for the
# anomalies, the most severe one), on one colour scale. Compare the two normal clips: a
# different operating condition or background changes the picture as much as, or more than, a
# fault does. This is why the target domain is hard.

# %%
gt = factory_ground_truth(data)  # the factory's ground truth: anomaly kind, severity, true attributes
teaching.spectrogram_figure(teaching.example_clips(table, machine, gt))

# %% [markdown]
# Which faults does each machine type have? The factory's ground truth says (severity runs from
# 0.1, barely measurable, to 1.0, obvious; docs/factory.md describes each sound):

# %%
teaching.anomaly_kinds(gt) if gt is not None else teaching.no_ground_truth("the anomaly kinds of each machine type")

# %% [markdown]
# ## 4. The official metrics on ten scores
#
# A detector gives each test clip a score. For every (machine type, section) the official
# evaluator computes:
#
# - **AUC(source)**: the ROC AUC over the *source-domain normal* clips plus **all** anomalous
#   clips (both domains); **AUC(target)** likewise with the target-domain normals. The AUC is the
#   probability that a random anomaly scores higher than a random normal clip, i.e. the share
#   of (normal, anomaly) pairs ranked the right way. 0.5 is chance, 1.0 perfect.
# - **pAUC**: scikit-learn's `roc_auc_score(y, score, max_fpr=0.1)` over all clips of the section.
#   It looks only at the part of the ROC curve with a false positive rate of at most 10 %
#   (few false alarms: what an operator tolerates) and is **standardised** (McClish): with `A`
#   the raw area under the curve for FPR in [0, 0.1],
#   `pAUC = 0.5 * (1 + (A - 0.005) / (0.1 - 0.005))`, so that chance gives 0.5 and a perfect
#   detector 1.0 (0.005 = 0.1²/2 is chance's area, 0.1 the perfect area).
# - the **official score**: the harmonic mean of every AUC(source), every AUC(target) and every
#   pAUC of all machine types and sections. A harmonic mean is dragged down by its smallest
#   values: one machine type or one domain where the method fails costs a lot.
#
# Ten made-up scores of a machine `demo`, sorted from most to least anomalous:

# %%
tiny = teaching.tiny_example()
tiny.sort_values("score", ascending=False)

# %% [markdown]
# Check by eye: every anomaly (scores 5, 7, 9, 10) is above every source normal (1, 2, 3), so
# AUC(source) = 12/12 pairs = 1. Against the target normals (4, 6, 8) the anomaly 5 loses to 6
# and 8, and 7 loses to 8: 3 of the 12 pairs are wrong, AUC(target) = 9/12 = 0.75. That is domain
# shift in miniature: the target normals sit among the anomalies.

# %%
teaching.auc_by_counting(tiny)

# %% [markdown]
# pAUC: there are 6 normal clips, so the first false alarm already means FPR = 1/6 > 0.1.
# Within FPR <= 0.1 the curve stays at the true positive rate reached before the first normal
# clip: 2 of the 4 anomalies (10 and 9) outrank every normal clip, TPR = 0.5. The raw area is
# `A = 0.1 x 0.5 = 0.05`, so pAUC = `0.5 x (1 + 0.045 / 0.095)` = 0.7368. The official score is
# the harmonic mean `3 / (1/1 + 1/0.75 + 1/0.7368)` = 0.8129. The library gives the same:

# %%
sections = section_metrics(tiny)
display(sections[["machine", "section", "auc_source", "auc_target", "pauc", "n_normal", "n_anomaly"]])
print(format_table(metrics_table(sections)))
print(f"official score: {official_score(sections):.4f}")

# %% [markdown]
# The ROC curve: each point is a threshold; moving it down the sorted list, every anomaly passed
# moves the curve up (TPR) and every normal passed moves it right (FPR). The shaded strip is the
# region pAUC measures. The dashed curves are the two per-domain AUCs.

# %%
teaching.roc_figure(tiny["label"], tiny["score"], max_fpr=0.1, domains=tiny["domain"])

# %% [markdown]
# ## 5. The official AutoEncoder baseline
#
# The DCASE baseline (`ae_mse`): the log-mel spectrogram is cut into vectors of 5 consecutive
# frames (5 x 128 = 640 numbers). A fully connected **autoencoder** 640-128-128-128-128-**8**-
# 128-128-128-128-640 learns to reproduce the vectors of the normal training clips through an
# 8-number bottleneck: it can only keep what is typical of normal sounds. The anomaly score of a
# clip is the **mean squared reconstruction error** over its vectors: a sound unlike the
# training sounds is reproduced badly. One AE per machine type, trained on source and target
# training clips together.
#
# `run_method` trains and scores a method into a run folder, or reuses the folder when it
# already holds the same run (then this cell takes a second). With `preset="course"` training
# takes about 2 minutes for the 7 machine types on a 2-core CPU.

# %%
run_mse = run_method("ae_mse", data, runs / "ae_mse", preset=preset, seed=seed, progress=interactive)
mse = load_run(run_mse)
sorted(p.name for p in run_mse.iterdir())

# %% [markdown]
# `scores.csv` holds one row per test clip (score and 0/1 decision), `submission/` the official
# CSV files, `table.csv` the per-machine table below, `checkpoints/` the trained weights. Runs
# that saved a per-epoch `history.csv` get their training curve drawn here (training loss solid,
# validation loss on the 10 % held-out vectors dashed); AE runs written by asdlab 0.1 keep none.

# %%
history = teaching.load_history(run_mse)
teaching.history_figure(history, "ae_mse training") if history is not None else print(f"{run_mse.name}: no history.csv")

# %% [markdown]
# The per-machine table in the official form (AUC source, AUC target, pAUC, and the harmonic
# means in the last row):

# %%
print(format_table(mse["table"]))

# %% [markdown]
# Typically AUC(target) is well below AUC(source): target normals are reconstructed worse than
# source normals, so they mix with the anomalies. Which clips does the AE find most anomalous?
# The ground truth adds each clip's anomaly kind and severity (empty for normal clips):

# %%
teaching.top_clips(mse["scores"], gt, n=8, machine=machine)

# %% [markdown]
# Which anomaly kinds fill the top of the list, and which never show up there? Keep the
# question for exercise 2. Here is the same run through the ROC figure of part 4, for the
# chosen machine type:

# %%
one = mse["scores"][mse["scores"]["machine"] == machine]
teaching.roc_figure(one["label"], one["score"], domains=one["domain"], title=f"ae_mse, {machine}")

# %% [markdown]
# ### Selective Mahalanobis (`ae_mahala`)
#
# The MSE weighs every mel band and every direction of the residual (input minus
# reconstruction) equally. But the AE's errors on *normal* sounds are correlated and uneven
# (some bands are always hard to reproduce, e.g. noisy backgrounds), and they differ between
# domains. `ae_mahala` keeps the same AE and measures the residual with the **Mahalanobis
# distance** instead: it divides by the covariance of the residuals of normal training clips, so
# an error that is usual for normal sounds counts little and an unusual one counts a lot. It
# fits one covariance on the source training clips and one on the ten target clips, and scores a
# clip by the *smaller* of the two distances ("selective": no domain label needed at test time).
# Target normals are then measured against what target normals look like, which is how it
# helps under domain shift. From a handful of target clips a 128 x 128 covariance is badly
# estimated:
# asdlab adds a small ridge (the official code has none; `--set ridge=0` removes it).
#
# It reuses the AE that `ae_mse` trained (from the cache), so only the scoring runs.

# %%
run_maha = run_method("ae_mahala", data, runs / "ae_mahala", preset=preset, seed=seed, progress=interactive)
maha = load_run(run_maha)
comparison = pd.concat({"ae_mse": mse["table"], "ae_mahala": maha["table"]}, axis=1)
print(f"official score: ae_mse {mse['summary']['official_score']:.4f}, "
      f"ae_mahala {maha['summary']['official_score']:.4f}")
comparison.style.format("{:.2%}")

# %% [markdown]
# Look at the two target columns and at the source columns: does Mahalanobis help everywhere?
# On which machine types does it help the target domain, and what does it cost in the source
# domain? (The official baselines score about the same on the DCASE 2024 evaluation set:
# 56.51 % for MSE and 56.49 % for Mahalanobis.)
#
# ## 6. Exercises
#
# 1. **Another seed.** Run the notebook with `seed=1` (`data_dir=None` generates
#    `data/factory-course-seed1`; give a fresh `runs_dir`). How much does the official score of
#    `ae_mse` move? What does that say about comparing two methods that differ by one point?
#    *Hint:* papermill, or change the parameters cell and rerun everything.
# 2. **A kind the AE misses.** Compute the AUC of each anomaly kind with
#    `teaching.kind_auc(mse["scores"], gt)`. Find the kinds near 0.5 (look at the valve: `stuck`
#    and `chatter`) and listen to them in part 3. Why can a frame-wise reconstruction error not
#    see a *missing* switching cycle, or a few extra milliseconds of bouncing after a click?
#    *Hint:* each 5-frame vector of a stuck valve still looks like a normal closed valve.
# 3. **Severity.** Merge `mse["scores"]` with `gt` on `file` and `machine` and plot score against
#    severity for one anomaly kind (e.g. `plotly.express.scatter`). From which severity on is
#    the fault detected?
# 4. **Mahalanobis, machine by machine.** Repeat `kind_auc` with `maha["scores"]`. Which kinds
#    gain, which lose? Then rerun `ae_mahala` with the official unregularised covariance:
#    `run_method("ae_mahala", data, runs / "ae_mahala_ridge0", preset=preset, seed=seed,
#    overrides={"ridge": 0})` (command line: `asdlab run ae_mahala ... --set ridge=0`). What
#    happens to AUC(target), and why is a 128 x 128 covariance from a few target clips fragile?
# 5. **Training length.** Train the AE for 5 epochs instead of 30:
#    `run_method("ae_mse", data, runs / "ae_mse_5ep", preset=preset, seed=seed,
#    overrides={"epochs": 5})` (`--set epochs=5`). Is more training always better for the
#    target domain? *Hint:* an AE that fits the source domain very well may generalise worse
#    to the target domain.
# 6. **pAUC by hand.** In `tiny`, raise the target normal that scores 8 to 11, so that a normal
#    clip tops the list. Predict AUC(source), AUC(target), pAUC and the official score by hand,
#    then check with `section_metrics` and `teaching.roc_figure`. Why does pAUC fall *below* 0.5
#    although AUC(source) is still 1? *Hint:* with 6 normals, what is the raw area `A` when the
#    first clip of the list is normal?
# 7. **Decisions.** `mse["metrics"]` also has precision, recall and F1 per domain, from a threshold
#    at the 90th percentile of a gamma distribution fitted to the training scores. Which domain
#    gets more false alarms, and why, given how few target clips the threshold saw?
# 8. **A smaller bottleneck.** Try `overrides={"bottleneck": 4}` or `{"bottleneck": 32}`. What does
#    the size of the bottleneck control, and what happens if it is as wide as the input?
