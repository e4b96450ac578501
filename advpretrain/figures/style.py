"""The figures' shared look and helpers: the seaborn theme, ``save`` (fixed metadata, so reruns
are byte-identical), grid finishing, variant order and the robustness sandwich.
"""

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from advpretrain.core.fileio import atomic_path  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")
plt.rcParams.update({"svg.hashsalt": "advpretrain", "pdf.compression": 6})
# The claims' verdicts, wherever a figure colours by them.
VERDICT_COLOURS = {"supported": "#1a9850", "contradicted": "#d73027", "inconclusive": "#fdae61",
                   "untestable": "#7b3294", "descriptive": "#bdbdbd"}


def save(fig, stem):
    stem = Path(stem)
    for suffix, metadata in ((".pdf", {"CreationDate": None, "ModDate": None}),
                             (".png", {"Software": None})):
        with atomic_path(stem.with_suffix(suffix)) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata, dpi=150, bbox_inches="tight")
    plt.close(fig)


def finish_grid(grid, axis_labels: tuple[str, str], titles: str, title: str, stem,
                y: float = 1.02) -> None:
    """Label a seaborn FacetGrid, give it a title and save it (``save``)."""
    grid.set_axis_labels(*axis_labels)
    grid.set_titles(titles)
    grid.figure.suptitle(title, y=y)
    save(grid.figure, stem)


def main_variants(frame, settings):
    """Rows of the figure's variants (``settings["variants"]``: the configured pre-training
    variants, not the eps sweep), and that order."""
    order = list(settings["variants"])
    return frame[frame["variant"].isin(order)], order


PAPER_ATTACKS = ["fgm", "pgd"]


def sandwich_figure(frame, row, hue, hue_order, stem, title, ylabel, col="norm"):
    """Robust accuracy as a sandwich, one panel per (``row``, ``col``) value: for each ``hue``
    value the band between the certified bound (dotted) and the ensemble's worst case (solid),
    and the paper's PGD (dashed), mean over seeds, from eps 0 (clean accuracy) on."""
    clean = frame[(frame["attack"] == "pgd") & (frame["eps"] == 0)]
    rows = list(dict.fromkeys(frame[row]))
    norms = list(dict.fromkeys(frame[col]))
    colors = dict(zip(hue_order, sns.color_palette("tab10", len(hue_order))))
    fig, axes = plt.subplots(len(rows), len(norms), figsize=(4.2 * len(norms), 3.0 * len(rows)),
                             squeeze=False, sharey=True)
    for (i, row_value), (j, norm) in itertools.product(enumerate(rows), enumerate(norms)):
        ax = axes[i][j]
        for name in hue_order:
            part = frame[(frame[row] == row_value) & (frame[col] == norm)
                         & (frame[hue] == name)]
            if part.empty:
                continue
            start = clean[(clean[row] == row_value) & (clean[col] == norm)
                          & (clean[hue] == name)]
            curves = {attack: pd.concat([start, part[part["attack"] == attack]]).groupby(
                "eps")["accuracy"].mean() for attack in ("worst_case", "certified", "pgd")}
            ax.fill_between(curves["worst_case"].index, curves["certified"].reindex(
                curves["worst_case"].index).to_numpy(), curves["worst_case"].to_numpy(),
                color=colors[name], alpha=0.15, lw=0)
            ax.plot(curves["worst_case"].index, curves["worst_case"].to_numpy(), "-o",
                    color=colors[name], ms=3, lw=1.2, label=name)
            ax.plot(curves["certified"].index, curves["certified"].to_numpy(), ":",
                    color=colors[name], lw=1)
            ax.plot(curves["pgd"].index, curves["pgd"].to_numpy(), "--", color=colors[name],
                    lw=0.8, alpha=0.7)
        ax.set_title(f"{row_value}, {col} {norm}" if col != "norm" else f"{row_value}, {norm}",
                     fontsize=9)
        ax.set_xlabel("attack eps")
        ax.set_ylabel(ylabel if j == 0 else "")
        ax.set_ylim(-0.02, 1.02)
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{title}\nband: certified (dotted) to worst case over the attack ensemble "
                 "(solid); dashed: the paper's PGD; mean over seeds")
    fig.tight_layout()
    save(fig, stem)
