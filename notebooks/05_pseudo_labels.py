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
# # 05 · Pseudo labels for machines without attributes
#
# The best DCASE systems classify attributes (machine settings such as speed or load) as an
# auxiliary task. For some machine types the file names hide them (`noAttribute`): the
# classifier then only knows the machine and section. Guided clustering (CUP, DCASE 2024, seed
# 001) makes up labels for those machines:
#
# 1. pretrain an embedding network DeepCluster-style (k-means on its own embeddings, train on
#    the cluster indices, repeat);
# 2. fine-tune it on the machines WITH attributes (cross-entropy over their attribute classes
#    plus a pair loss pulling clips of the same class together);
# 3. embed the clips of the machines WITHOUT attributes and cluster them: the clusters are the
#    pseudo labels;
# 4. train the sub-cluster AdaCos detector on true + pseudo labels.
#
# The paper could not tell how well step 3 recovers the real attributes. The built-in factory
# knows them, so this notebook can: maps of each hidden machine colored by pseudo label and by
# true attribute, the contingency table, adjusted Rand index and NMI, and the detection scores
# with and without the pseudo labels.
#
# Parameters: `preset` (smoke / course / paper), `data_dir` (None = the built-in factory data),
# `runs_dir` (None = `runs/<preset>`), `seed`, `interactive` (progress bars), `methods` (a
# list of the one pseudo-label method to show: `["guided_clustering"]`) and `claims_csv` (the
# measured claims table; None = the repository's `docs/claims.csv`).

# %% tags=["parameters"]
preset = "course"
data_dir = None
runs_dir = None
seed = 0
interactive = True
methods = ["guided_clustering"]
claims_csv = None

# %%
import json

from IPython.display import Markdown, display

import asdlab.notebook as nb
from asdlab.analysis import factory_ground_truth
from asdlab.analysis.claims import CLAIMS_HOWTO, claim_rows, claims_markdown, load_claims
from asdlab.analysis.compare import style_best
from asdlab.analysis.pseudo_labels import (check_pseudo_label_method, cluster_quality, contingency, gain_table,
                                  has_gain, machine_points, pretraining_rounds, silhouettes, with_without_table)
from asdlab.runs import run_method
from asdlab.viz import pseudo_label_maps, silhouette_figure

nb.check_parameter_names(globals(), "preset data_dir runs_dir seed interactive methods claims_csv")
nb.check_params(preset=preset, data_dir=data_dir, runs_dir=runs_dir, seed=seed, interactive=interactive,
                methods=methods)
info = nb.setup(seed)
method = check_pseudo_label_method(methods)
claims = load_claims(claims_csv)  # None when there is no measured table
data = nb.ensure_data(data_dir, preset, seed)
runs = nb.resolve_runs(runs_dir, preset)
gt = factory_ground_truth(data)  # None for real DCASE data
info

# %% [markdown]
# ## The run
#
# Trained once into `runs_dir` (an existing run with the same configuration is reused). Besides
# the usual scores it holds the pseudo labels, their quality against the factory's truth, and a
# second detector trained with machine-only labels for the hidden machines.

# %%
run_dir = run_method(method, data, runs / method, preset=preset, seed=seed, progress=interactive)
about = json.loads((run_dir / "guided_clustering.json").read_text())
display(Markdown(f"Run folder `{run_dir}`. Machines without attributes: "
                 f"{', '.join(about['hidden_machines']) or 'none'}; with attributes: "
                 f"{', '.join(about['machines_with_attributes']) or 'none'}.  \n"
                 f"Pseudo labels per machine: {about['n_pseudo']}."
                 + "".join(f"  \nNote: {n}" for n in about["notes"])))

# %% [markdown]
# ## Step 1: DeepCluster pretraining
#
# Per round: the NMI between this round's cluster assignment and the previous one (`nmi_prev`:
# near 1 once the clusters settle) and with the machine types (`nmi_machine`: how much the
# unsupervised clusters follow the machines), then the loss of the round's training.

# %%
pretraining_rounds(run_dir).set_index("round").round(3)

# %% [markdown]
# ## Step 3: how many pseudo labels
#
# With `n_pseudo="silhouette"` each hidden machine's number of clusters is the k with the best
# silhouette coefficient (how much closer a clip is to its own cluster than to the next).

# %%
sil = silhouettes(run_dir)
silhouette_figure(sil) if len(sil) else Markdown("`n_pseudo` was fixed: no silhouette search.")

# %% [markdown]
# ## Pseudo labels vs the true hidden attributes
#
# For each machine without attributes: its training clips mapped with UMAP (fitted on that
# machine's embeddings alone, seeded), colored by pseudo label (left) and by the true attributes
# the file names hide (right). Pseudo labels that recover the attributes split the map the same
# way in both panels.

# %%
if gt is None:
    display(Markdown("This dataset has no factory ground truth: the true attributes are unknown."))
for machine in about["hidden_machines"]:
    pseudo_label_maps(machine_points(run_dir, machine, seed=seed, ground_truth=gt), machine).show()

# %% [markdown]
# ## Cluster quality
#
# Per hidden machine: adjusted Rand index (ARI: 0 = chance, 1 = the same partition), normalised
# mutual information (NMI), homogeneity (each pseudo label holds one attribute setting),
# completeness (each attribute setting falls in one pseudo label) and purity. `ari_pretrained`
# and `ari_features` (and `nmi_...`) cluster the same clips into the same number of groups from
# the network after pretraining only, and from the time-averaged log-mels: what the guided
# fine-tuning adds.

# %%
if gt is not None:
    display(cluster_quality(run_dir).set_index("machine").round(3))

# %% [markdown]
# The contingency tables: clips of each true attribute setting (rows) per pseudo label
# (columns).

# %%
if gt is not None:
    for machine in about["hidden_machines"]:
        display(Markdown(f"**{machine}**"))
        display(contingency(run_dir, machine))

# %% [markdown]
# ## Detection with and without pseudo labels
#
# The same sub-cluster AdaCos detector, trained once with the pseudo labels for the hidden
# machines and once with machine-only labels for them (everything else equal). Per machine the
# harmonic mean of its AUCs and pAUC and the gain; then the full Table 1 of both, best value in
# bold.

# %%
gain_table(run_dir).set_index("machine").style.format(precision=4) if has_gain(run_dir) else \
    Markdown("*No comparison: some test labels are unknown (evaluation data) or the run trained no "
             "machine-only detector (see the notes above).*")

# %%
style_best(with_without_table(run_dir)) if has_gain(run_dir) else None

# %% [markdown]
# ## The paper's claims, measured over seeds
#
# The run above is one training seed; `benchmarks/claims.py` measures seed 001's claims on factory
# data over several seeds, each claim "A > B" as the mean ± sd of A - B: the ARI of the pseudo
# labels above that of the pretrained network alone and of k-means on time-averaged log-mels (the
# `ari_pretrained` and `ari_features` columns above), pseudo labels vs machine-only labels in
# official score, and `guided_clustering` against the AE and the no-learning `raw_spec`. The
# table comes from `claims_csv` (default `docs/claims.csv`), not from this notebook's run.

# %%
Markdown(CLAIMS_HOWTO if claims is None else f"From `{claims.attrs['path']}`:\n\n"
         + claims_markdown(claim_rows(claims, "001")))

# %% [markdown]
# ## Things to try
#
# - Fix the number of pseudo labels to the true number of attribute settings
#   (`asdlab run guided_clustering --set n_pseudo=8`): does the ARI rise, and the detection?
# - Cluster on whitened embeddings (`--set cluster_transform=whiten_l2`) and compare the ARI
#   with `ari_features`.
# - Open notebook 01 for `guided_clustering`: its map can be colored by true attributes too.
