"""Figures, drawn from the workflow's CSV files alone (no model or data needed).

Every figure function takes a dict of input CSV paths, its settings (``settings.figure``: the
variant order, the reference attack, ...) and an output stem; it writes ``stem.pdf`` and
``stem.png`` with fixed metadata (``save``) so reruns are byte-identical. The workflow names a
figure's function as "module.function" (rules/common.smk, FIGURES); ``draw`` is its stage.
"""

import importlib
import itertools
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .fileio import atomic_path  # noqa: E402
from .tables import at_attack, attack_label, read_csvs  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")
plt.rcParams.update({"svg.hashsalt": "advpretrain", "pdf.compression": 6})

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


def draw(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The figure stage: call the figure's "module.function" (``settings["plot"]``)."""
    module, function = settings["plot"].rsplit(".", 1)
    plot = getattr(importlib.import_module(f"advpretrain.{module}"), function)
    plot(inputs, settings, Path(outputs["pdf"]).with_suffix(""))


def main_variants(frame, settings):
    """Rows of the figure's variants (``settings["variants"]``: the configured pre-training
    variants, not the eps sweep), and that order."""
    order = list(settings["variants"])
    return frame[frame["variant"].isin(order)], order


SHARES = {"live_share": "live nodes", "pure_share": "pure nodes", "coverage": "features covered"}


def purity_distribution(inputs, settings, stem):
    """Purity of the live nodes (top) and the shares of live and pure nodes and of covered
    features (bottom), per variant, one column per task (C1, C3)."""
    nodes, order = main_variants(read_csvs(inputs["nodes"]), settings)
    nodes = nodes[nodes["live"]]
    summary, _ = main_variants(read_csvs(inputs["summary"]), settings)
    shares = summary[summary["measure"].isin(SHARES)].assign(
        share=lambda f: f["measure"].map(SHARES))
    tasks = list(dict.fromkeys(nodes["task"]))
    fig, axes = plt.subplots(2, len(tasks), figsize=(0.9 * len(order) * len(tasks) + 2, 6.4),
                             squeeze=False)
    for column, task in enumerate(tasks):
        top, bottom = axes[0][column], axes[1][column]
        sns.violinplot(data=nodes[nodes["task"] == task], x="variant", y="purity", order=order,
                       hue="variant", hue_order=order, cut=0, inner="quartile", ax=top,
                       legend=False)
        top.set_title(f"{task} pre-training")
        top.set_xlabel("")
        top.set_ylabel("purity of live nodes max|C|/||C||")
        top.set_ylim(0, 1.02)
        top.axhline(settings["d"] ** -0.5, color="grey", ls=":", lw=1)
        sns.barplot(data=shares[shares["task"] == task], x="variant", y="value", hue="share",
                    order=order, hue_order=list(SHARES.values()), errorbar="sd", ax=bottom,
                    legend=column == len(tasks) - 1)
        bottom.set_xlabel("pre-training")
        bottom.set_ylabel("share (mean, sd over seeds)")
        bottom.set_ylim(0, 1.02)
    for ax in axes.flat:
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Feature purification: live nodes' purity; live and pure nodes, covered "
                 "features (dotted: an even mix of all features)")
    fig.tight_layout()
    save(fig, stem)


def coefficient_heatmaps(inputs, settings, stem):
    """|W M| per variant for one seed (``heatmap_seed``); rows are nodes sorted by their main
    feature."""
    seed = settings["heatmap_seed"]
    frames = [frame[frame["seed"] == seed].drop(columns="seed")
              for frame in map(pd.read_csv, inputs["coefficients"])]
    panels = []
    for path, frame in zip(inputs["coefficients"], frames):
        task = Path(path).parent.parent.name
        frame, order = main_variants(frame, settings)
        panels += [(task, variant, frame[frame["variant"] == variant]) for variant in order]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 4.2), squeeze=False)
    for ax, (task, variant, frame) in zip(axes[0], panels):
        matrix = frame.pivot(index="node", columns="feature", values="abs_coefficient").to_numpy()
        matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        order = np.lexsort((-matrix.max(1), matrix.argmax(1)))
        sns.heatmap(matrix[order], ax=ax, cmap="viridis", vmin=0, vmax=1, cbar=ax is axes[0][-1],
                    xticklabels=False, yticklabels=False)
        ax.set_title(f"{task}\n{variant}", fontsize=8)
        ax.set_xlabel("feature j")
        ax.set_ylabel("node (sorted by main feature)" if ax is axes[0][0] else "")
    fig.suptitle("|C| = |W M| (rows normalised): purified nodes read one feature", y=1.05)
    save(fig, stem)


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


def robustness_sandwich(inputs, settings, stem):
    """The pre-trained networks' robust accuracy as a sandwich per variant (C2, C3 tasks)."""
    frame, order = main_variants(read_csvs(inputs["robustness"]), settings)
    sandwich_figure(frame, "task", "variant", order, stem,
                    "Robust accuracy of the pre-trained networks", "test accuracy")


def robustness_curves(inputs, settings, stem):
    """Accuracy under the paper's attacks vs eps for each pre-training variant (C2), mean and
    sd over seeds."""
    frame, order = main_variants(read_csvs(inputs["robustness"]), settings)
    frame = frame[frame["attack"].isin(PAPER_ATTACKS)]
    grid = sns.relplot(data=frame, x="eps", y="accuracy", hue="variant", hue_order=order,
                       style="variant", markers=True, dashes=False, col="norm", row="attack",
                       kind="line", errorbar="sd", height=2.6, aspect=1.2,
                       facet_kws={"sharex": False})
    finish_grid(grid, ("attack eps", "test accuracy"), "{row_name} {col_name}",
                "Accuracy of the pre-trained networks under the paper's attacks "
                "(see robustness_sandwich for the worst case)", stem, y=1.02)


def eps_sweep(inputs, settings, stem):
    """Mean purity and clean / robust accuracy against the training eps of the sweep norm."""
    norm = settings["sweep_norm"]
    reference = settings["reference_attack"]
    summary = read_csvs(inputs["summary"])
    robustness = read_csvs(inputs["robustness"])

    def sweep(frame):
        return frame[(frame["train_norm"] == norm) | (frame["train_eps"] == 0)]

    purity = sweep(summary[summary["measure"] == "purity"]).assign(
        panel="mean node purity", y=lambda f: f["value"])
    clean = sweep(robustness[robustness["eps"] == 0]).drop_duplicates(
        ["variant", "seed", "task"]).assign(panel="clean accuracy", y=lambda f: f["accuracy"])
    attacked = sweep(at_attack(robustness, reference)).assign(
        panel=f"{attack_label(reference)} accuracy", y=lambda f: f["accuracy"])
    long = pd.concat([purity, clean, attacked], ignore_index=True)
    grid = sns.relplot(data=long, x="train_eps", y="y", col="panel", hue="task", kind="line",
                       marker="o", errorbar="sd", height=2.8, aspect=1.1,
                       facet_kws={"sharey": False})
    finish_grid(grid, (f"training eps ({norm})", ""), "{col_name}",
                "Sweep of the adversarial training budget", stem, y=1.03)
