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
# # The claims, checked (C1-C6)
#
# Each claim of the paper, the per-seed statistic that tests it (mostly an effect in excess of
# its control, the re-seeded clean twin), its mean over seeds with a t-interval, the one-sided
# p-value, and the verdict: "supported" when Holm's procedure over all rows rejects "no effect";
# a row from one run is only "indicative".
# `results/claims.csv` is written by the `claims` rule; `paper_figures/claims.md` is the same
# table in Markdown.

# %%
import pandas as pd

from advpretrain.figures.run_notebook import RESULTS

pd.set_option("display.precision", 3)


# %%
claims = pd.read_csv(RESULTS / "claims.csv")
claims[["claim", "scope", "statistic", "control", "n_seeds", "estimate", "ci_low", "ci_high",
        "p_value", "verdict"]]

# %% [markdown]
# ## What each claim states, and the detail behind its number

# %%
for row in claims.itertuples():
    print(f"{row.claim} [{row.verdict}] {row.statement}\n    {row.detail}\n")

# %% [markdown]
# ## Verdicts at a glance

# %%
claims.groupby("verdict")["claim"].apply(", ".join)
