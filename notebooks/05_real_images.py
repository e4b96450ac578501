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
# # Real images: adversarial pre-training, then clean linear heads (C6)
#
# Encoders pre-trained clean or adversarially (supervised PGD-AT and contrastive SimCLR / ACL),
# frozen; clean linear heads (RobustSSL's SLF) for the ten classes and for a task no variant was
# trained on; PGD-20 and AutoAttack (standard) on the test set. CIFAR-10 (ResNet-18) runs where
# a GPU is visible; the digits (scikit-learn's 8x8 images, a small CNN) run anywhere. With
# `config/test.yaml` both are tiny runs whose numbers mean nothing. Published anchors on CIFAR-10
# (AutoAttack, ResNet-18, SLF): ACL 39.2 %, AdvCL 43.2 %, DeACL 43.3 %, DynACL++ 46.5 % robust at
# 78-82 % clean; clean pre-training about 0 %.

# %%
import pandas as pd
from IPython.display import Image, display

from advpretrain.figures.run_notebook import RESULTS, WORKDIR

pd.set_option("display.precision", 3)
PAPER_FIGURES = WORKDIR / "paper_figures"
DATASETS = [name for name in ("cifar10", "digits")
            if (RESULTS / "images" / name / "per_seed.csv").exists()]
DATASETS

# %% [markdown]
# ## Mean and t-interval over seeds, per downstream task and pre-training variant
# The paired difference adversarial minus clean (same seed: same initialisation, data order,
# attack starts and AutoAttack subset) is what claim C6 tests.

# %%
for name in DATASETS:
    print(name)
    display(pd.read_csv(PAPER_FIGURES / f"{name}_table.csv")[
        ["downstream_task", "variant", "seeds", "clean_accuracy_mean", "pgd_accuracy_mean",
         "autoattack_accuracy_mean", "autoattack_accuracy_low", "autoattack_accuracy_high"]])

# %%
for name in DATASETS:
    per_seed = pd.read_csv(RESULTS / "images" / name / "per_seed.csv")
    wide = per_seed.pivot_table(index=["downstream_task", "pretraining_task", "seed"],
                                columns="adversarial", values="pgd_accuracy")
    print(name, "PGD accuracy, adversarial minus clean pre-training, per seed")
    display((wide[True] - wide[False]).rename("gain").reset_index())

# %% [markdown]
# ## AutoAttack, attack by attack, and the purification of the penultimate units

# %%
for name in DATASETS:
    per_seed = pd.read_csv(RESULTS / "images" / name / "per_seed.csv")
    after = [c for c in per_seed.columns if c.startswith("autoattack_after_")]
    display(per_seed.groupby(["downstream_task", "variant"], sort=False)[
        ["autoattack_pgd_accuracy", *after, "median_participation_ratio"]].mean())
    display(Image(filename=str(PAPER_FIGURES / f"{name}_results.png")))
