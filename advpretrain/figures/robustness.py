"""Figures of the robustness evaluation (issue: attacks no one can lower): the movement of the
hidden representation under attack (C2) and Nern et al.'s transfer bound against the measured
robust accuracy of the clean downstream heads (C5). From the CSVs alone.
"""

import matplotlib.pyplot as plt
import pandas as pd

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import (
    VERDICT_COLOURS,
    finish_grid,
    main_variants,
    sandwich_figure,
    save,
    sns,
)

MOVEMENT = {"relative_movement": "movement / ||h(z)|| (attack)",
            "relative_bound": "movement / ||h(z)|| (certified bound)",
            "flip_share": "share of nodes flipped"}


TRANSFER = {"measured_certified": "measured: certified", "measured_worst_case":
            "measured: worst case", "transfer_attacked": "Nern bound, attacked movement",
            "transfer_certified": "Nern bound, certified movement"}


def plot_node_movement(inputs, settings, stem):
    """How far the worst perturbation in the ball moves each pre-trained layer's
    representation, relative to its size, and how many nodes flip, vs eps (C2)."""
    frame, order = main_variants(read_csvs(inputs["movement"]), settings)
    frame = frame.assign(relative_bound=frame["movement_bound"]
                         / frame["representation_norm"].clip(lower=1e-12))
    long = frame.melt(id_vars=["task", "variant", "seed", "norm", "eps"],
                      value_vars=list(MOVEMENT), var_name="measure").assign(
        measure=lambda f: f["measure"].map(MOVEMENT))
    grid = sns.relplot(data=long, x="eps", y="value", hue="variant", hue_order=order,
                       style="task", markers=True, row="measure", row_order=list(
                           MOVEMENT.values()), col="norm", kind="line", errorbar="sd",
                       height=2.5, aspect=1.3, facet_kws={"sharex": "col", "sharey": "row"})
    finish_grid(grid, ("attack eps", ""), "{row_name} | {col_name}",
                "Representation vulnerability of the pre-trained layers (mean and sd "
                "over seeds)", stem, y=1.02)


def plot_transfer_bound(inputs, settings, stem):
    """Per downstream head at the reference budget: Nern et al.'s criterion (with the attacked
    and with the certified movement) beside the measured certified and worst-case accuracy."""
    frame = pd.concat([read_csvs(inputs["transfer"]), read_csvs(inputs["baselines"])],
                      ignore_index=True)
    long = frame.melt(id_vars=["task", "variant", "seed", "norm", "eps"],
                      value_vars=list(TRANSFER), var_name="quantity").assign(
        quantity=lambda f: f["quantity"].map(TRANSFER))
    tasks = list(dict.fromkeys(long["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks) + 1.5, 3.4),
                             sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = long[long["task"] == task]
        order = [v for v in [*settings["variants"], "purified", "end_to_end"]
                 if v in set(part["variant"])]
        sns.pointplot(data=part, x="variant", y="value", hue="quantity",
                      hue_order=list(TRANSFER.values()), order=order, errorbar="sd",
                      dodge=0.4, linestyle="none", ax=ax, legend=ax is axes[0][-1])
        ax.set_title(task)
        ax.set_xlabel("frozen layer")
        ax.set_ylabel("downstream robust accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(axis="x", labelrotation=30)
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=7)
    first = frame.iloc[0]
    fig.suptitle(f"Transfer bound of Nern et al. vs measured robust accuracy, "
                 f"{first['norm']} eps={first['eps']:g} (mean and sd over seeds)")
    fig.tight_layout()
    save(fig, stem)


def plot_threshold_study(inputs, settings, stem):
    """Threshold study: the robust-accuracy sandwich of the pre-trained networks and of their
    clean downstream heads (rows) at each gate threshold e (columns), clean vs adversarial."""
    frame = read_csvs(inputs["study"])
    order = [v for v in settings["variants"] if v in set(frame["variant"])]
    frame = frame.assign(panel=frame["layer"] + " " + frame["norm"])
    sandwich_figure(frame, "panel", "variant", order, stem, "Where are purified layers truly "
                    "robust? Gate threshold e x attack budget", "test accuracy", col="threshold")


def plot_attack_convergence(inputs, settings, stem):
    """Robust accuracy as the attack's budget doubles (steps x restarts, and the random
    search's queries): the cumulative figure (robust against every attack so far), mean and sd
    over seeds, one panel per budget; the attack ensemble of the claims on the same points
    (dotted, mean over seeds). Flat on the right: the attack has converged."""
    frame, order = main_variants(read_csvs(inputs["convergence"]), settings)
    frame = frame.assign(budget=frame["norm"] + " eps=" + frame["eps"].map("{:g}".format))
    budgets = list(dict.fromkeys(frame.sort_values(["norm", "eps"])["budget"]))
    order = [v for v in order if v in set(frame["variant"])]
    fig, axes = plt.subplots(1, len(budgets), figsize=(3.6 * len(budgets) + 1.5, 3.4),
                             sharey=True, squeeze=False)
    colours = dict(zip(order, sns.color_palette(n_colors=len(order))))
    for ax, budget in zip(axes[0], budgets):
        part = frame[frame["budget"] == budget]
        sns.lineplot(data=part, x="relative_budget", y="cumulative", hue="variant",
                     hue_order=order, palette=colours, marker="o", errorbar="sd", ax=ax,
                     legend=ax is axes[0][-1])
        for variant, rows in part.groupby("variant"):
            ensemble = rows.drop_duplicates("seed")["ensemble_accuracy"].mean()
            ax.axhline(ensemble, color=colours[variant], linestyle=":", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_title(budget)
        ax.set_xlabel("attack budget (steps x restarts, relative)")
        ax.set_ylabel("robust accuracy (strongest so far)")
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=7)
    fig.suptitle("Does the attack converge? Robust accuracy as the attack doubles "
                 "(dotted: the attack ensemble on the same points)")
    fig.tight_layout()
    save(fig, stem)


def plot_claims_by_budget(inputs, settings, stem):
    """C2's and C5's "robust" hypotheses over the budget grid (results/claims_by_budget.csv):
    per claim (rows) and norm (columns) each row's estimate and interval against eps, the
    attack ensemble's (effect beyond the control, circles) and the bounds' (certified
    adversarial minus attacked clean, squares), coloured by verdict; the dashed line is the
    smallest effect. Below, both variants' attacked accuracy: where the lines cross, the clean
    and adversarial nets swap places."""
    frame = read_csvs(inputs["by_budget"])
    groups = list(dict.fromkeys(frame["group"]))
    norms = sorted(set(frame["norm"]))
    fig, axes = plt.subplots(2 * len(groups), len(norms), squeeze=False, sharex="col",
                             figsize=(4.2 * len(norms) + 1.5, 2.6 * 2 * len(groups)))
    for row, group in enumerate(groups):
        for col, norm in enumerate(norms):
            part = frame[(frame["group"] == group) & (frame["norm"] == norm)].sort_values("eps")
            ax, accuracy_ax = axes[2 * row][col], axes[2 * row + 1][col]
            for basis, marker, shift in (("ensemble", "o", 0.97), ("bounds", "s", 1.03)):
                rows = part[part["basis"] == basis]
                for verdict, points in rows.groupby("verdict"):
                    ax.errorbar(points["eps"] * shift, points["estimate"],
                                yerr=[points["estimate"] - points["ci_low"],
                                      points["ci_high"] - points["estimate"]],
                                fmt=marker, color=VERDICT_COLOURS.get(verdict, "black"),
                                capsize=2, label=f"{basis}: {verdict}")
            if len(part):
                ax.axhline(part["smallest_effect"].iloc[0], color="grey", linestyle="--",
                           linewidth=1)
            ax.axhline(0, color="black", linewidth=0.5)
            ax.set_title(f"{group}, {norm}", fontsize=8)
            ax.set_ylabel("effect [95% CI]")
            ax.legend(fontsize=6)
            means = part.drop_duplicates("eps")
            for column, label in (("clean_worst_case", "clean"),
                                  ("adversarial_worst_case", "adversarial")):
                accuracy_ax.plot(means["eps"], means[column], marker=".", label=label)
            accuracy_ax.set_xscale("log")
            accuracy_ax.set_xlabel(f"{norm} eps")
            accuracy_ax.set_ylabel("attacked accuracy")
            accuracy_ax.legend(fontsize=6)
    fig.suptitle("Over which budgets do the robustness claims hold? (verdict by colour)")
    fig.tight_layout()
    save(fig, stem)
