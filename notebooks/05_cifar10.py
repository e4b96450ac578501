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
# # CIFAR-10: adversarial pre-training, then a clean linear head (C6)
#
# ResNet-18 encoders pre-trained clean or adversarially (supervised and contrastive), frozen; a
# linear head trained on clean images; PGD-20 l_inf eps 8/255 robust accuracy on the test set.
# With `config/test.yaml` this is a tiny CPU run on a synthetic archive: the numbers mean nothing
# there. Published anchors (AutoAttack, ResNet-18, clean linear head): ACL 39.2 %, AdvCL 43.2 %,
# DeACL 43.3 %, DynACL++ 46.5 % robust at 78-82 % clean; clean pre-training about 0 %.

# %%
import pandas as pd
from IPython.display import Image, display

from advpretrain.notebooks import WORKDIR

pd.set_option("display.precision", 3)

PAPER_FIGURES = WORKDIR / "paper_figures"

# %%
table = pd.read_csv(PAPER_FIGURES / "cifar10_table.csv")
table

# %% [markdown]
# ## Purification on real data
# How many classes drive each penultimate unit (fewer = purer).

# %%
display(pd.read_csv(PAPER_FIGURES / "cifar10_purification.csv"))
display(Image(filename=str(PAPER_FIGURES / "cifar10_purification.png")))
