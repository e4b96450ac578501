"""Downstream figures (claim C5 and studies (a), (b)), drawn from the downstream CSVs alone.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from advpretrain.core.tables import at_attack, attack_label, read_csvs
from advpretrain.figures.style import sandwich_figure, save

BASELINES = ["purified", "end_to_end"]


def _reference(frame, settings):
    reference = settings["reference_attack"]
    return at_attack(frame, reference), attack_label(reference)


def plot_downstream_accuracy(inputs, settings, stem):
    """Clean-head downstream robust accuracy (sandwich) vs attack eps per pre-training variant
    and baseline (C5); one row per pre-training task, one for the baselines."""
    order = list(settings["variants"])
    frame = read_csvs(inputs["downstream"])
    long = pd.concat([frame[frame["variant"].isin(order)], read_csvs(inputs["baselines"])],
                     ignore_index=True)
    sandwich_figure(long, "task", "variant", [*order, *BASELINES], stem,
                    "Downstream task, head trained clean on a frozen hidden layer",
                    "downstream test accuracy")


def plot_downstream_purification(inputs, settings, stem):
    """Study (a): downstream accuracy against the hidden layer's mean purity, for the training
    eps sweep (and main variants) and for clean layers blended toward their purified version."""
    trained, label = _reference(read_csvs(inputs["downstream"]), settings)
    trained = trained[trained["task"] == "supervised"].assign(
        family="pre-training eps sweep", level=lambda f: f["variant"])
    blend, _ = _reference(read_csvs(inputs["blend"]), settings)
    blend = blend.assign(family="clean layer blended toward purity 1",
                         level=lambda f: f["variant"])
    base, _ = _reference(read_csvs(inputs["baselines"]), settings)
    base = base.assign(family=lambda f: "baseline " + f["variant"], level=lambda f: f["variant"])
    frame = pd.concat([trained, blend, base], ignore_index=True)
    clean_eps = {}
    for name in ("downstream", "blend", "baselines"):
        part = read_csvs(inputs[name])
        rows = part[part["eps"] == 0].groupby(["variant", "seed"])["accuracy"].mean()
        clean_eps.update(rows.to_dict())
    frame["clean_accuracy"] = [clean_eps.get((v, s), np.nan)
                               for v, s in zip(frame["variant"], frame["seed"])]
    means = frame.groupby(["family", "level"]).agg(
        purity=("mean_purity", "mean"), purity_sd=("mean_purity", "std"),
        robust=("accuracy", "mean"), robust_sd=("accuracy", "std"),
        clean=("clean_accuracy", "mean"), clean_sd=("clean_accuracy", "std")).reset_index()
    families = list(dict.fromkeys(means["family"]))
    colors = dict(zip(families, sns.color_palette("tab10", len(families))))
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6), sharex=True)
    for ax, (column, title) in zip(axes, (("robust", f"accuracy under {label}"),
                                          ("clean", "clean accuracy"))):
        for family in families:
            part = means[means["family"] == family].sort_values("purity")
            ax.errorbar(part["purity"], part[column], xerr=part["purity_sd"].fillna(0),
                        yerr=part[f"{column}_sd"].fillna(0), fmt="o-" if len(part) > 1 else "s",
                        color=colors[family], label=family, capsize=2, ms=4, lw=1)
        ax.set_xlabel("mean node purity of the frozen layer")
        ax.set_ylabel(f"downstream {title}")
        ax.axhline(0.5, color="grey", ls=":", lw=1)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Degree of purification vs downstream robustness (clean heads; mean, sd over "
                 "seeds)")
    fig.tight_layout()
    save(fig, stem)


def plot_activation_study(inputs, settings, stem):
    """Study (b): purity, downstream clean and robust accuracy per activation and variant."""
    frame = read_csvs(inputs["downstream"])
    frame = frame[frame["task"] == "supervised"]
    variants = [v for v in settings["variants"] if v in set(frame["variant"])]
    frame = frame[frame["variant"].isin(variants)]
    attacked, label = _reference(frame, settings)
    clean = frame[frame["eps"] == 0].drop_duplicates(["activation", "variant", "seed"])
    panels = [(clean.assign(y=clean["mean_purity"]), "mean node purity"),
              (clean.assign(y=clean["accuracy"]), "downstream clean accuracy"),
              (attacked.assign(y=attacked["accuracy"]), f"downstream accuracy, {label}")]
    order = list(dict.fromkeys(frame["activation"]))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (data, title) in zip(axes, panels):
        sns.barplot(data=data, x="activation", y="y", hue="variant", order=order,
                    hue_order=variants, errorbar="sd", capsize=0.1, ax=ax,
                    legend=ax is axes[-1])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_ylim(0, 1.02)
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Activation study: purification and its inheritance by clean downstream heads "
                 "(mean, sd over seeds)")
    fig.tight_layout()
    save(fig, stem)
