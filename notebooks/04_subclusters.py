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
# # 04 · Sub-clusters: several centers per class
#
# A class of normal sounds (one machine, section and attribute setting) is rarely one tight
# blob: a machine can have several operating modes. The two sub-cluster systems give each class
# `K` centers instead of one and let the class probability be the sum over its sub-clusters:
#
# - **`sc_adacos`** (Wilkinghoff, DCASE 2021, seed 002): a modified ResNet with sub-cluster
#   AdaCos heads (adaptive scale), GMM back ends per section and domain, an ensemble over `K`
#   and training snapshots.
# - **`sc_noisy_arcmix`** (Small Rice, DCASE 2024, seed 000): a CED-style transformer with the
#   Noisy-ArcMix margin on sub-clusters, an asymmetric focal loss, FeatEx and manifold mixup,
#   scored by the cosine distance to k-means centroids.
#
# This notebook shows how well they detect anomalies next to a single-center method and the AE
# baseline, seed 000's Table 2 (how many sub-clusters for the main and the FeatEx head), how
# many of the `K` sub-clusters the training clips actually use, UMAP maps colored by sub-cluster,
# and whether the angle to the nearest sub-cluster separates anomalies better than the angle to
# the class center.
#
# Parameters: `preset` (smoke / course / paper), `data_dir` (None = the built-in factory data),
# `runs_dir` (None = `runs/<preset>`), `seed`, `interactive` (progress bars), `methods` (the
# sub-cluster methods to show), `references` (runs shown next to them in the table; those that
# do not exist are left out), `grid` (the `[SC, SC(FeatEx)]` cells of Table 2 to train; None =
# the preset's grid: the paper's 4 x 4 for `paper`, {1, 16} x {1, 16} for `smoke`, none for
# `course`, which shows the claims table's cells instead) and `claims_csv`
# (the measured claims table; None = the repository's `docs/claims.csv`).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
methods = ["sc_adacos", "sc_noisy_arcmix"]
references = ["ae_mse", "tastgram_noisy_arcmix"]
grid = None
claims_csv = None

# %%
import pandas as pd
from IPython.display import Markdown, display

import asdlab.notebook as nb
from asdlab.analysis import factory_ground_truth
from asdlab.analysis.claims import CLAIMS_HOWTO, claim_rows, claims_grid, claims_markdown, load_claims
from asdlab.analysis.compare import compare_table, style_best
from asdlab.runs.sweeps import default_grid, grid_table, sweep_subclusters
from asdlab.runs import run_method
from asdlab.analysis.subclusters import (check_subcluster_methods, load_subcluster_centers, subcluster_angle_summary,
                                subcluster_points, subcluster_table, subcluster_usage)
from asdlab.viz import angle_histograms, embedding_map, grid_heatmaps, subcluster_angle_scatter

nb.check_parameter_names(globals(), "preset data_dir runs_dir seed interactive methods references grid claims_csv")
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed, interactive=interactive,
                methods=methods)
nb.check_params(methods=references)
info = nb.setup(seed)
check_subcluster_methods(methods, grid)
claims = load_claims(claims_csv)  # None when there is no measured table
data = nb.ensure_data(data_dir, preset, seed)
runs = nb.resolve_runs(runs_dir, preset)
gt = factory_ground_truth(data)  # None for real DCASE data
info

# %% [markdown]
# ## The runs, next to a single-center method and the AE
#
# Each method is trained once into `runs_dir` (an existing run with the same configuration is
# reused). The table is the seed papers' Table 1 per machine type; the best value of each row
# and metric is bold.

# %%
run_dirs = {m: run_method(m, data, runs / m, preset=preset, seed=seed, progress=interactive) for m in methods}
shown = {**run_dirs, **{m: runs / m for m in references if (runs / m / "summary.json").exists()}}
style_best(compare_table(shown, warn=False))

# %% [markdown]
# ## Table 2: sub-clusters of the main head and of the FeatEx head
#
# Seed 000 trains `sc_noisy_arcmix` for every combination of SC (sub-clusters per class of the
# main head) and SC(FeatEx) (of the head on the FeatEx pairs) and reports the mean of the AUCs.
# Each cell here is one run folder in `sc_noisy_arcmix_grid/` (the cell equal to the method's
# preset is the run above). Left: the mean of AUC(source), AUC(target) and pAUC over sections,
# Table 2's measure; right: the official score (harmonic mean). `paper` trains the paper's 4 x 4
# grid, `smoke` the reduced {1, 16} x {1, 16}. At `course` scale nothing more is trained: the
# four cells of {1, 16} x {1, 16} are shown as measured by `benchmarks/claims.py` over 3 seeds
# (official score, mean ± sd; the table of `claims_csv`, made on the factory data of `make
# report`), since three more runs of one seed cost about 5 CPU minutes and differ by less than
# the seed spread. Pass `grid=[[1, 1], [1, 16], [16, 1], [16, 16]]` to train them on your data.

# %%
cells_to_train = default_grid(preset) if grid is None else grid
if "sc_noisy_arcmix" not in methods:
    display(Markdown("`sc_noisy_arcmix` is not among `methods`: no Table 2."))
elif cells_to_train:
    cells = sweep_subclusters(data, runs / "sc_noisy_arcmix_grid", preset=preset, grid=cells_to_train, seed=seed,
                              default_run=run_dirs["sc_noisy_arcmix"], progress=interactive)
    official = grid_table(cells.attrs["runs"], "official_score")
    display(grid_heatmaps({"mean AUC (Table 2)": cells, "official score": official}))
elif (measured := None if claims is None else claims_grid(claims)) is None:
    display(Markdown(f"No grid trained at `{preset}` and no measured claims table: " + CLAIMS_HOWTO))
else:
    display(Markdown(f"From `{claims.attrs['path']}`:"))
    display(grid_heatmaps({f"official score, mean ± sd over seeds {measured.attrs['seeds']}": measured}))

# %% [markdown]
# ## How many sub-clusters are used
#
# Each training clip is assigned to the nearest of the `K` centers of its own class. `used` is
# the mean number of sub-clusters per class that hold at least one training clip, and
# `largest_share` the mean share of a class's clips in its biggest sub-cluster. When a class
# uses one sub-cluster out of `K`, the others sit unused in the embedding space: the loss
# pulled every clip of the class to the same center.

# %%
tables = {m: subcluster_table(run_dirs[m], ground_truth=gt) for m in methods}
for m in methods:
    display(Markdown(f"**{m}**"))
    display(subcluster_usage(tables[m], load_subcluster_centers(run_dirs[m]).shape[1]).round(2))

# %% [markdown]
# ## UMAP maps colored by sub-cluster
#
# Every training and test clip of each run, projected with UMAP (seeded, cached in the run
# folder). The first menu colors by sub-cluster (`<class> #<index>`: the nearest center of the
# clip's class), machine, domain, label or, on factory data, the true attributes; the second
# picks a machine type. Circles are training clips, diamonds test clips.

# %%
for m in methods:
    embedding_map(subcluster_points(run_dirs[m], seed=seed, ground_truth=gt),
                  color_by=("subcluster", "machine", "domain", "label", "attributes", "true_attributes"),
                  title=f"UMAP of {m}'s embeddings").show()

# %% [markdown]
# ## Angle to the nearest sub-cluster vs to the class center
#
# For each test clip: the angle between its embedding and the center of its class (the
# normalised mean of the class's sub-cluster centers, as in notebook 02), and the angle to the
# nearest sub-cluster center of its class. The histograms compare normal and anomalous clips
# for both angles (menu: machine and domain); the scatter plots one against the other. The
# table gives the median angles and the AUC of each angle used as an anomaly score.

# %%
for m in methods:
    if tables[m].attrs.get("note"):
        display(Markdown(f"*{m}: {tables[m].attrs['note']}.*"))
    test = tables[m][tables[m]["split"] == "test"]
    angle_histograms({"to the class center": test.assign(angle=test["angle_class"]),
                      "to the nearest sub-cluster": test.assign(angle=test["angle_subcluster"])}).update_layout(
        title=f"{m}: angles of the test clips").show()
    subcluster_angle_scatter(test).update_layout(title=f"{m}: class angle vs nearest sub-cluster angle").show()
    display(subcluster_angle_summary(test).style.format(precision=3).set_caption(m))

# %% [markdown]
# ## The papers' claims, measured over seeds
#
# The runs above are one training seed each; two seeds of one method differ by a few points.
# `benchmarks/claims.py` measures the seed papers' central claims on factory data over several
# seeds, each claim "A > B" as the mean ± sd of A - B. The rows of the two sub-cluster papers:
# seed 002 (GMM back end vs the cosine to the sub-cluster centers, the ensemble over K vs a single
# K) and seed 000 (the SC x FeatEx cells of Table 2 against SC 16 / FeatEx 16, the asymmetric
# focal loss vs cross-entropy), and both methods against the AE and the no-learning `raw_spec`.
# The table comes from `claims_csv` (default `docs/claims.csv`), not from this notebook's runs.

# %%
Markdown(CLAIMS_HOWTO if claims is None else f"From `{claims.attrs['path']}`:\n\n"
         + claims_markdown(pd.concat([claim_rows(claims, "002"), claim_rows(claims, "000")], ignore_index=True)))

# %% [markdown]
# ## Things to try
#
# - Train `sc_adacos` with frozen centers (`asdlab run sc_adacos --set trainable_centers=false`):
#   do the clips spread over more sub-clusters?
# - Add the cells (32, 32) and (64, 64) to `grid` for one machine type (`asdlab.runs.run_method`
#   with `machines=[...]` keeps it short). Does the trend of Table 2 continue?
# - Color the `sc_noisy_arcmix` map by true attributes for gearbox: do its sub-clusters follow
#   the hidden attributes? Notebook 05 goes further with pseudo labels.
