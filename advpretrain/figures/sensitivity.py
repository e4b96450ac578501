"""Figures of the sensitivity study (results/sensitivity/verdicts.csv, rule sensitivity_table):
the verdict map and each claim row's effect along the study's points."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import VERDICT_COLOURS, save

OTHER = "#f0f0f0"  # a verdict outside the protocol's three and "descriptive"


def _row_label(claim: str, scope: str) -> str:
    return f"{claim}: {scope}"


def _ordered(frame, settings):
    points = [point for point in settings["points"] if point in set(frame["point"])]
    rows = list(dict.fromkeys(_row_label(c, s) for c, s in zip(frame["claim"], frame["scope"])))
    return points, rows


def plot_sensitivity_map(inputs, settings, stem):
    """One row per claim row, one column per point (the centre first): each cell coloured by
    the verdict at that point and labelled with its estimate; light grey, labelled with the
    verdict, where the row does not decide there (not evaluated, one run), blank where the
    point's table lacks the row."""
    frame = read_csvs(inputs["verdicts"])
    points, rows = _ordered(frame, settings)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(points), 1.2 + 0.3 * len(rows)))
    for line in frame.itertuples(index=False):
        x, y = points.index(line.point), rows.index(_row_label(line.claim, line.scope))
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, linewidth=0.5, edgecolor="white",
                                   facecolor=VERDICT_COLOURS.get(line.verdict, OTHER)))
        text = f"{line.estimate:.2f}" if np.isfinite(line.estimate) else line.verdict
        ax.text(x, y, text, ha="center", va="center", fontsize=5.5 if len(text) < 8 else 4)
    ax.set_xlim(-0.5, len(points) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xticks(range(len(points)), points, rotation=60, ha="right", fontsize=6.5)
    ax.set_yticks(range(len(rows)), rows, fontsize=6.5)
    ax.grid(False)
    handles = [Patch(color=colour, label=verdict) for verdict, colour in
               [*VERDICT_COLOURS.items(), ("other (not deciding)", OTHER)]]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
              frameon=False)
    ax.set_title("Claims' verdicts across the sensitivity study's settings (estimate in each cell)",
                 fontsize=9)
    save(fig, stem)


def plot_sensitivity_effects(inputs, settings, stem):
    """One panel per claim row: its estimate and interval at every point (centre first, then
    each axis's points and the joint points), coloured by verdict; the dashed line is the
    row's smallest effect."""
    frame = read_csvs(inputs["verdicts"])
    points, rows = _ordered(frame, settings)
    columns = 4
    count = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(count, columns, figsize=(4.0 * columns, 2.3 * count), squeeze=False,
                             sharex=True)
    for index, ax in enumerate(axes.flat):
        if index >= len(rows):
            ax.set_visible(False)
            continue
        claim, scope = rows[index].split(": ", 1)
        part = frame[(frame["claim"] == claim) & (frame["scope"] == scope)]
        x = np.array([points.index(point) for point in part["point"]])
        for verdict, colour in VERDICT_COLOURS.items():
            chosen = (part["verdict"] == verdict).to_numpy()
            if chosen.any():
                ax.errorbar(x[chosen], part["estimate"][chosen],
                            yerr=[(part["estimate"] - part["ci_low"])[chosen],
                                  (part["ci_high"] - part["estimate"])[chosen]],
                            fmt="o", ms=3, capsize=2, color=colour, label=verdict)
        ax.axhline(part["smallest_effect"].iloc[0], color="grey", linestyle="--", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.4)
        ax.set_title(rows[index], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xticks(range(len(points)), points, rotation=70, ha="right", fontsize=5.5)
    fig.suptitle("Each claim row's effect [95% CI] at each setting (verdict by colour; dashed: "
                 "smallest effect that matters)", fontsize=9)
    fig.tight_layout()
    save(fig, stem)
