# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Supervised pre-training: feature purification (C1) and vulnerable nodes (C2)
#
# This notebook reads the workflow's CSVs and figures; it trains nothing. Build them first
# (`make reproduce`, or `make notebooks`, which runs what is missing and executes every notebook).
# `ADVPRETRAIN_WORKDIR` names the directory that holds `results/` (default: the current one).
#
# **C1.** Adversarial training (FGM) makes each hidden node pick one or a few features; clean
# training reaches a similar clean loss with mixed nodes. The measure is node purity
# max_j |C[h, j]| / ||C[h, :]||_2 of the feature coefficients C = W M (1 = a single feature).

# %%
import pandas as pd

from advpretrain.figures.run_notebook import ACTIVATION, RESULTS, show_figure

SIM = RESULTS / "simulation" / "supervised" / ACTIVATION
pd.set_option("display.precision", 3)


# %% [markdown]
# ## Purity per variant
# Mean over live nodes (those that fire on at least half the rate of a one-feature node) per
# seed, then mean and standard deviation over seeds. Participation ratio is the effective number
# of features a node reads; live_share, pure_share (live and purity >= 0.9) and coverage (share
# of features read by a pure node) are shares of all nodes or features.
# The mechanism measures (row norms, effective threshold and reachable share; the head's weight
# on impure and unused nodes; what the attack's breaking points open) are described in
# docs/replication_notes.md.

# %%
summary = pd.read_csv(SIM / "summary.csv")
table = (summary.groupby(["variant", "train_norm", "train_eps", "measure"])["value"]
         .agg(["mean", "std", "count"]).unstack("measure"))
table

# %%
show_figure("purity_distribution")

# %% [markdown]
# ## The coefficients themselves
# Rows are nodes sorted by their main feature: a purified layer is a staircase of single bright
# cells.

# %%
show_figure("coefficient_heatmaps")

# %% [markdown]
# ## C1 check: paired purity gain per seed (adversarial minus clean, same data and start)

# %%
purity = summary[summary["measure"] == "purity"].pivot_table(
    index="seed", columns="variant", values="value")
gains = purity.drop(columns="clean").sub(purity["clean"], axis=0)
gains.describe().loc[["mean", "std", "min", "max"]]

# %% [markdown]
# ## C2: without adversarial training the nodes are vulnerable
# Test accuracy of each pre-trained network under attack. The paper's attacks (FGM, PGD with the
# gate's own gradient) cannot see the gate's jump at |v| = e, so robust accuracy is read as a
# sandwich: `certified` (interval bounds: no attack goes lower) <= `worst_case` (per sample,
# over the paper's attacks and 50-step PGD through surrogate gradients) <= the paper's attacks.
# The `after_<surrogate>` rows are the accuracy after each adaptive attack in turn.

# %%
robustness = pd.read_csv(SIM / "robustness.csv")
sandwich = robustness[robustness["attack"].isin(["certified", "worst_case", "pgd"])]
(sandwich.groupby(["norm", "eps", "variant", "attack"])["accuracy"].mean()
 .unstack("attack").dropna())

# %%
show_figure("robustness_sandwich")

# %%
show_figure("robustness_curves")

# %% [markdown]
# ## Has the attack converged?
# Robust accuracy on a fixed subsample as the attack's budget doubles (steps x restarts and the
# random search's queries), the strongest figure so far, beside the attack ensemble on the same
# points (dotted). A row of the claims whose attack still moves at its last doubling cannot be
# supported.

# %%
convergence = pd.read_csv(SIM / "convergence.csv")
(convergence.groupby(["norm", "eps", "variant", "relative_budget"])["cumulative"].mean()
 .unstack("relative_budget"))

# %%
show_figure("attack_convergence")

# %% [markdown]
# ## The budget range of the robustness claims
# C2's and C5's "robust" hypotheses at every budget of the sandwich grid, on the attack ensemble
# and on the bounds (certified adversarial minus attacked clean), with their verdicts.

# %%
by_budget = pd.read_csv(RESULTS / "claims_by_budget.csv")
by_budget.pivot_table(index=["group", "norm", "eps"], columns="basis", values="verdict",
                      aggfunc="first")

# %%
show_figure("claims_by_budget")

# %% [markdown]
# ## C2 as the paper words it: attacks move the hidden nodes
# The largest relative movement ||h(z + delta) - h(z)|| / ||h(z)|| an adaptive attack finds in
# the ball, its certified upper bound, and the share of nodes whose activity flips.

# %%
movement = pd.read_csv(SIM / "movement.csv")
(movement.groupby(["norm", "eps", "variant"])[["relative_movement", "flip_share"]].mean()
 .unstack("variant"))

# %%
show_figure("node_movement")

# %% [markdown]
# ## Sweep of the training budget

# %%
show_figure("eps_sweep")
