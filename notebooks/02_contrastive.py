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
# # Contrastive pre-training: purification (C3) through the dissimilar pairs (C4)
#
# Reads the workflow's CSVs and figures (`ADVPRETRAIN_WORKDIR`: the directory holding
# `results/`). The score of a pair is s(Z, Z') = h(Z)^T h(Z'), trained with the logistic loss on
# Y s: similar pairs (Y = +1) share their latent, dissimilar pairs (Y = -1) do not.
#
# **C3.** Adversarial contrastive training purifies the nodes as in the supervised case.
# **C4.** Before purification an attack raises mostly the loss of the dissimilar pairs; similar
# pairs resist; adversarial training purifies mainly through the dissimilar pairs.

# %%
import pandas as pd
from IPython.display import display

from advpretrain.figures.run_notebook import ACTIVATION, RESULTS, show_figure

SIM = RESULTS / "simulation"
pd.set_option("display.precision", 3)


# %% [markdown]
# ## C3: purity per variant (mean over nodes per seed; mean, sd and count over seeds)

# %%
summary = pd.read_csv(SIM / "contrastive" / ACTIVATION / "summary.csv")
(summary.groupby(["variant", "measure"])["value"].agg(["mean", "std", "count"])
 .unstack("measure"))

# %%
show_figure("purity_distribution")

# %% [markdown]
# ## C4: loss increase under attack, similar vs dissimilar pairs
# `loss_increase` = attacked loss - clean loss of the same network; mean over seeds.

# %%
pairs = pd.read_csv(SIM / "contrastive" / ACTIVATION / "pair_loss.csv")
attacked = pairs[pairs["eps"] > 0]
(attacked.groupby(["variant", "attack", "norm", "eps", "pair_type"])["loss_increase"].mean()
 .unstack("pair_type"))

# %%
show_figure("contrastive_pair_loss")

# %% [markdown]
# ### Ratio dissimilar / similar, per variant (largest eps of each attack and norm)

# %%
top = attacked[attacked["eps"] == attacked.groupby(["attack", "norm"])["eps"].transform("max")]
ratio = top.groupby(["variant", "attack", "norm", "pair_type"])["loss_increase"].mean().unstack()
ratio.assign(dissimilar_over_similar=ratio["dissimilar"] / ratio["similar"])

# %% [markdown]
# ## During training

# %%
show_figure("contrastive_pair_loss_training")

# %% [markdown]
# ## Which pairs drive purification: attacking one pair type only

# %%
pair_attack = SIM / "contrastive_pair_attack" / ACTIVATION / "pair_attack.csv"
display(pd.read_csv(pair_attack).head(20))
show_figure("contrastive_pair_attack")
