"""Figures of the pre-trained networks: purity, coefficients, robustness, the eps sweep.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import (
    PAPER_ATTACKS,
    finish_grid,
    main_variants,
    sandwich_figure,
    save,
)

SHARES = {"live_share": "live nodes", "pure_share": "pure nodes", "coverage": "features covered"}
# The training curves: the pre-training tasks and the logged losses they show.
TRAINING_TASKS = ("supervised", "contrastive")
LOSS_KINDS = ("train_loss", "test_loss")


def plot_purity_distribution(inputs, settings, stem):
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


def plot_coefficient_heatmaps(inputs, settings, stem):
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


def plot_robustness_sandwich(inputs, settings, stem):
    """The pre-trained networks' robust accuracy as a sandwich per variant (C2, C3 tasks)."""
    frame, order = main_variants(read_csvs(inputs["robustness"]), settings)
    sandwich_figure(frame, "task", "variant", order, stem,
                    "Robust accuracy of the pre-trained networks", "test accuracy")


def plot_robustness_curves(inputs, settings, stem):
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


def plot_eps_sweep(inputs, settings, stem):
    """Mean purity (all nodes and live nodes), clean accuracy and the attack ensemble's robust
    accuracy at every budget of its grid, against the training eps of the sweep norm. The eps-0
    point is the clean variant alone (not its controls: the twin, the untrained layer, the
    ideal)."""
    norm = settings["sweep_norm"]
    summary = read_csvs(inputs["summary"])
    robustness = read_csvs(inputs["robustness"])

    def sweep(frame):
        return frame[((frame["train_norm"] == norm) & (frame["train_eps"] > 0))
                     | (frame["variant"] == settings["clean_variant"])]

    panels = [sweep(summary[summary["measure"] == measure]).assign(panel=panel,
                                                                   y=lambda f: f["value"])
              for measure, panel in (("purity_all", "mean purity, all nodes"),
                                     ("purity", "mean purity, live nodes"))]
    panels.append(sweep(robustness[robustness["eps"] == 0]).drop_duplicates(
        ["variant", "seed", "task"]).assign(panel="clean accuracy", y=lambda f: f["accuracy"]))
    long = pd.concat(panels, ignore_index=True).assign(budget="not attacked")
    worst = sweep(robustness[(robustness["attack"] == "worst_case")
                             & (robustness["norm"] == norm)
                             & robustness["eps"].isin(settings["budgets"])])
    worst = worst.assign(panel=f"worst-case accuracy ({norm})", y=worst["accuracy"],
                         budget=worst["eps"].map(lambda e: f"eval {e:g}"))
    long = pd.concat([long, worst], ignore_index=True)
    grid = sns.relplot(data=long, x="train_eps", y="y", col="panel", hue="budget",
                       style="task", kind="line", marker="o", errorbar="sd", height=2.8,
                       aspect=1.1, facet_kws={"sharey": False})
    finish_grid(grid, (f"training eps ({norm})", ""), "{col_name}",
                "Sweep of the adversarial training budget", stem, y=1.03)


def plot_training_curves(inputs, settings, stem):
    """Training and test loss over the pre-training steps, per task and variant (mean over seeds,
    band: one standard deviation), from each job's training_log.csv."""
    frame = pd.concat([read_csvs(inputs[task]).assign(task=task) for task in TRAINING_TASKS])
    frame, order = main_variants(frame[frame["kind"].isin(LOSS_KINDS)], settings)
    grid = sns.relplot(data=frame, x="step", y="value", hue="variant", hue_order=order,
                       row="task", col="kind", col_order=list(LOSS_KINDS), kind="line",
                       errorbar="sd", height=2.6, aspect=1.4, facet_kws={"sharey": "row"})
    finish_grid(grid, ("pre-training step", "loss"), "{row_name} | {col_name}",
                "Pre-training: loss over the steps (mean over seeds, band: sd)", stem)
