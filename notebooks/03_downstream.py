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
# # Downstream: a clean head on a purified layer is robust (C5)
#
# The pre-trained hidden layer is frozen; a new last layer is trained with CLEAN training on the
# downstream task Y' = sign(gamma^T X) (fewer samples). Reads the workflow's CSVs and figures
# (`ADVPRETRAIN_WORKDIR`: the directory holding `results/`).

# %%
import pandas as pd

from advpretrain.figures.run_notebook import ACTIVATION, RESULTS, show_figure

SIM = RESULTS / "simulation"
pd.set_option("display.precision", 3)


# %% [markdown]
# ## Accuracy under attack, per pre-training variant and baseline
# Mean over seeds of the downstream test accuracy; eps 0 is the clean accuracy.

# %%
frames = [pd.read_csv(path) for path in sorted(SIM.glob(f"*/{ACTIVATION}/downstream.csv"))]
downstream = pd.concat(frames, ignore_index=True)
(downstream.groupby(["task", "variant", "attack", "norm", "eps"])["accuracy"].mean()
 .unstack("eps"))

# %%
show_figure("downstream_accuracy")

# %% [markdown]
# ## What any clean head on a layer can reach: Nern et al.'s transfer bound
# A linear head a is robust on a sample when its clean margin exceeds ||a|| times the largest
# movement of the representation in the ball (attacked: their estimate; certified: a sound
# bound).

# %%
show_figure("transfer_bound")

# %% [markdown]
# ## Robustness against the degree of purification (study a)
# Mean purity of the frozen layer next to the downstream accuracy.

# %%
(downstream.groupby(["task", "variant"])[["mean_purity"]].mean()
 if "mean_purity" in downstream else downstream.head())

# %%
show_figure("downstream_purification")

# %% [markdown]
# ## Where are purified layers truly robust? The gate threshold e

# %%
show_figure("threshold_study")

# %% [markdown]
# ## Activation functions (study b)

# %%
show_figure("activation_study")
