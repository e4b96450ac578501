"""Figure of the mechanism study (results/mechanism/verdicts.csv, rule mechanism_table): robust
accuracy at each point against its budget, coloured by verdict, faceted by the other factors."""

import itertools

import matplotlib.pyplot as plt
import numpy as np

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import VERDICT_COLOURS, save

# The rows drawn: the absolute criterion (robust accuracy of the adversarial variant) of C2's
# and C5's rows on the attack ensemble's worst case, one marker each.
ROBUST_SCOPE = ", worst_case"
MARKERS = {"C2": "o", "C5, downstream after supervised pre-training": "s",
           "C5, downstream after contrastive pre-training": "^"}
OTHER = "#969696"


def _series(claim: str, scope: str) -> str:
    return claim if claim == "C2" else f"{claim}, {scope[:-len(ROBUST_SCOPE)]}"


def plot_mechanism(inputs, settings, stem):
    """Per point, the adversarial nets' robust accuracy under the worst case (C2) and the
    downstream heads' (C5, after supervised and contrastive pre-training): the rows' criterion
    estimate and interval, at the point's budget (x), coloured by the row's verdict there, one
    panel per level of the faceting factors; the dashed line is the claims' "robust" threshold."""
    frame = read_csvs(inputs["verdicts"])
    chosen = frame["claim"].isin(["C2", "C5"]) & frame["scope"].str.endswith(ROBUST_SCOPE)
    chosen &= ~((frame["claim"] == "C2") & (frame["scope"] != f"supervised{ROBUST_SCOPE}"))
    frame = frame[chosen & np.isfinite(frame["criterion_estimate"])].copy()
    frame["series"] = [_series(c, s) for c, s in zip(frame["claim"], frame["scope"], strict=True)]
    levels, points = settings["levels"], settings["points"]
    columns = levels[settings["columns"][0]] if settings["columns"] else [None]
    rows = list(itertools.product(*(levels[factor] for factor in settings["rows"]))) or [()]
    budgets = sorted(set(frame["budget"])) or [0.0]
    offsets = dict(zip(MARKERS, np.linspace(-0.15, 0.15, len(MARKERS)), strict=True))
    spread = (budgets[-1] - budgets[0]) or 0.1
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False, sharex=True, sharey=True,
                             figsize=(1.0 + 2.6 * len(columns), 0.9 + 2.1 * len(rows)))
    for (i, row), (j, column) in itertools.product(enumerate(rows), enumerate(columns)):
        ax = axes[i][j]
        wanted = dict(zip(settings["rows"], row, strict=True))
        if column is not None:
            wanted[settings["columns"][0]] = column
        names = [name for name, at in points.items()
                 if all(at[factor] == level for factor, level in wanted.items())]
        part = frame[frame["point"].isin(names)]
        for line in part.itertuples(index=False):
            x = line.budget + offsets.get(line.series, 0.0) * spread / max(len(budgets), 2)
            low, high = line.criterion_low, line.criterion_high
            error = ([[line.criterion_estimate - low], [high - line.criterion_estimate]]
                     if np.isfinite(low) and np.isfinite(high) else None)
            ax.errorbar([x], [line.criterion_estimate], yerr=error, capsize=2, ms=5,
                        fmt=MARKERS.get(line.series, "o"),
                        color=VERDICT_COLOURS.get(line.verdict, OTHER))
        ax.axhline(settings["robust"], color="grey", linestyle="--", linewidth=0.8)
        if part.empty:
            ax.text(0.5, 0.75, "not run", transform=ax.transAxes, ha="center", va="center",
                    fontsize=8, color="grey")
        title = ", ".join(f"{factor}={level}" for factor, level in wanted.items())
        ax.set_title(title, fontsize=7)
        ax.set_xticks(budgets, [f"{budget:g}" for budget in budgets])
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=7)
        if i == len(rows) - 1:
            ax.set_xlabel("budget (train = evaluate, l2)", fontsize=7)
        if j == 0:
            ax.set_ylabel("robust accuracy (worst case)", fontsize=7)
    handles = [plt.Line2D([], [], linestyle="", marker=marker, color="black", label=series)
               for series, marker in MARKERS.items()]
    handles += [plt.Line2D([], [], linestyle="", marker="o", color=colour, label=verdict)
                for verdict, colour in VERDICT_COLOURS.items() if verdict in set(frame["verdict"])]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               fontsize=7, frameon=False)
    fig.suptitle("Robust accuracy of the adversarial variant at each point of the mechanism "
                 "study (verdict by colour; dashed: the claims' \"robust\")", fontsize=8)
    fig.tight_layout()
    save(fig, stem)


TASK_MARKERS = {"supervised": "o", "contrastive": "^"}


def plot_mechanism_reach(inputs, settings, stem):
    """Per point, pre-training task and variant (clean, adversarial, ideal): the clean
    downstream head's robust accuracy at the point's budget (worst case of the attack ensemble)
    against the budget over the layer's median effective threshold (the l2 distance at which a
    node's gate flips). If the gate's reach is what robustness follows, the variants and points
    fall on one decreasing curve; the dashed line is the claims' "robust" threshold."""
    frame = read_csvs(inputs["measures"])
    frame["reach"] = frame["point"].map(settings["budgets"]) / frame["effective_threshold_median"]
    frame = frame[np.isfinite(frame["reach"]) & np.isfinite(frame["downstream_worst_case"])]
    numbers = {name: f"P{index}" for index, name in enumerate(settings["budgets"], start=1)}
    colours = dict(zip(settings["variants"], ("#4575b4", "#d73027", "#1a9850"), strict=True))
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for line in frame.itertuples(index=False):
        ax.scatter(line.reach, line.downstream_worst_case, marker=TASK_MARKERS[line.task],
                   color=colours.get(line.variant, OTHER), s=28)
        ax.annotate(numbers[line.point], (line.reach, line.downstream_worst_case), fontsize=5,
                    xytext=(3, 2), textcoords="offset points", color="dimgrey")
    ax.axhline(settings["robust"], color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("budget / median effective threshold of the layer (1: the gate is reached)",
                  fontsize=7)
    ax.set_ylabel("clean head's robust accuracy (worst case)", fontsize=7)
    ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], linestyle="", marker=marker, color="black", label=task)
               for task, marker in TASK_MARKERS.items()]
    handles += [plt.Line2D([], [], linestyle="", marker="s", color=colour, label=variant)
                for variant, colour in colours.items()]
    ax.legend(handles=handles, fontsize=6, loc="upper right", frameon=False)
    ax.set_title("The gate's reach and the heads' robustness at each point of the mechanism "
                 "study (P1... as in mechanism.md)", fontsize=7)
    fig.tight_layout()
    save(fig, stem)
