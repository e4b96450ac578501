"""Figures of the claims' verdicts across choices (protocol v3): the training-budget by
evaluation-budget map of C2 and C5 (results/claims_budget_map.csv) and the multiverse of
analysis choices (results/multiverse.csv). From the claims stage's CSVs alone.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import VERDICT_COLOURS, save

ORDER = ["supported", "inconclusive", "untestable", "contradicted"]


def plot_budget_map(inputs, settings, stem):
    """Per claim, a grid of training budget (rows) by evaluation budget (columns), coloured by
    the cell's verdict and labelled with the adversarial nets' worst-case accuracy; the cells
    trained where tested (the diagonal) framed."""
    cells = read_csvs(inputs["cells"])
    claims = list(dict.fromkeys(cells["claim"]))
    fig, axes = plt.subplots(1, len(claims), squeeze=False,
                             figsize=(4.2 * len(claims) + 0.5, 3.6))
    colours = ListedColormap([VERDICT_COLOURS[v] for v in ORDER])
    for ax, claim in zip(axes[0], claims):
        part = cells[cells["claim"] == claim]
        trains = sorted(part["train_eps"].unique())
        evals = sorted(part["eval_eps"].unique())
        codes = np.full((len(trains), len(evals)), np.nan)
        for row in part.itertuples(index=False):
            i, j = trains.index(row.train_eps), evals.index(row.eval_eps)
            codes[i, j] = ORDER.index(row.verdict) if row.verdict in ORDER else np.nan
            ax.text(j, i, f"{row.adversarial_worst_case:.2f}", ha="center", va="center",
                    fontsize=7, color="white" if row.verdict in ("untestable", "contradicted")
                    else "black")
            if row.matched:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, linewidth=2,
                                       edgecolor="black"))
        ax.imshow(codes, cmap=colours, vmin=-0.5, vmax=len(ORDER) - 0.5, aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(len(evals)), [f"{e:g}" for e in evals])
        ax.set_yticks(range(len(trains)), [f"{t:g}" for t in trains])
        ax.set_xlabel("evaluation budget (l2)")
        ax.set_ylabel("training budget (l2)")
        ax.set_title(f"{claim}: robust after supervised pre-training", fontsize=9)
    fig.legend(handles=[Patch(color=VERDICT_COLOURS[v], label=v) for v in ORDER],
               loc="lower center", ncol=len(ORDER), fontsize=7, frameon=False)
    fig.suptitle("Train where you test: verdict per cell (label: worst-case accuracy; framed: "
                 "trained at the evaluation budget)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    save(fig, stem)


def plot_multiverse(inputs, settings, stem):
    """Per deciding protocol row (claim and scope), its estimate and interval under every
    analysis choice, sorted by estimate and coloured by verdict; the protocol's choice as a
    black ring."""
    table = read_csvs(inputs["choices"])
    protocol = table[table["choice"] == "protocol v3"]
    keys = list(dict.fromkeys(zip(protocol["claim"], protocol["scope"])))
    columns = 3
    rows = max(1, -(-len(keys) // columns))
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(4.2 * columns, 2.3 * rows))
    for ax, (claim, scope) in zip(axes.flat, keys):
        part = table[(table["claim"] == claim) & (table["scope"] == scope)].sort_values(
            "estimate").reset_index(drop=True)
        for i, row in part.iterrows():
            colour = VERDICT_COLOURS.get(row["verdict"], "black")
            ax.errorbar(i, row["estimate"], yerr=[[row["estimate"] - row["ci_low"]],
                                                  [row["ci_high"] - row["estimate"]]],
                        fmt="o", color=colour, capsize=2, markersize=4)
            if row["choice"] == "protocol v3":
                ax.plot(i, row["estimate"], "o", markersize=9, markerfacecolor="none",
                        markeredgecolor="black")
        ax.set_xticks([])
        ax.set_title(f"{claim}, {scope}", fontsize=7)
        ax.set_xlabel(f"{len(part)} analysis choices, sorted", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.legend(handles=[Patch(color=VERDICT_COLOURS[v], label=v) for v in ORDER],
               loc="lower center", ncol=len(ORDER), fontsize=7, frameon=False)
    fig.suptitle("Each claim's estimate under every analysis choice (ring: the registered "
                 "protocol)", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    save(fig, stem)
