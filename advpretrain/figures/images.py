"""The real-image data sets' results figures (``<dataset>_results``), from the summary table
of rule images_report_<dataset> and its jobs' robustness and purification CSVs."""

import matplotlib.pyplot as plt
import numpy as np

from advpretrain.core.tables import read_csvs
from advpretrain.figures.style import save
from advpretrain.workflow.names import ACCURACIES


def _results_figure(summary, grid, units, variants, title, stem):
    """Accuracy per variant and downstream task (error bars: the t-interval), PGD accuracy over
    the eps grid, and how many classes drive each penultimate unit."""
    tasks = list(dict.fromkeys(summary["downstream_task"]))
    fig, axes = plt.subplots(1, len(tasks) + 2, figsize=(4.2 * (len(tasks) + 2), 3.6))
    width = 0.8 / len(ACCURACIES)
    names = list(variants)
    for ax, task in zip(axes, tasks):
        rows = summary[summary["downstream_task"] == task].set_index("variant").loc[names]
        for k, (column, label) in enumerate(ACCURACIES.items()):
            mean = 100 * rows[f"{column}_mean"].to_numpy()
            low = 100 * rows[f"{column}_low"].to_numpy()
            high = 100 * rows[f"{column}_high"].to_numpy()
            error = np.nan_to_num(np.vstack([mean - low, high - mean]))
            ax.bar(np.arange(len(names)) + (k - 1) * width, mean, width, yerr=error, capsize=2,
                   label=label)
        ax.set_xticks(np.arange(len(names)), [n.replace("_", "\n") for n in names], fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"downstream task: {task}", fontsize=9)
    axes[0].legend(fontsize=7)
    ax = axes[len(tasks)]
    main = grid[grid["downstream_task"] == tasks[0]]
    for variant in names:
        curve = main[main["variant"] == variant].groupby("eps")["pgd_accuracy"].mean()
        ax.plot(curve.index, 100 * curve.to_numpy(), marker="o",
                ls="-" if variants[variant]["adversarial"] else "--", label=variant)
    ax.set_xlabel("PGD eps (grey levels)")
    ax.set_ylabel("PGD accuracy (%)")
    ax.set_title(f"robustness curve ({tasks[0]})", fontsize=9)
    ax.legend(fontsize=6)
    ax = axes[len(tasks) + 1]
    alive = units[~units["dead"]]
    bins = np.linspace(1, 10, 37)
    for variant in names:
        values = alive.loc[alive["variant"] == variant, "participation_ratio"]
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.5, label=variant,
                ls="-" if variants[variant]["adversarial"] else "--")
    ax.set_xlabel("classes driving a unit (participation ratio)")
    ax.set_ylabel("density of units (all seeds)")
    ax.set_title("penultimate units: fewer classes = purer", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, stem)


def _plot_results(inputs, settings, stem):
    summary = read_csvs(inputs["summary"])
    title = (f"{settings['dataset']}: clean linear heads on frozen encoders "
             f"({summary['seeds'].min()} seeds)")
    variants = {variant["variant"]: variant for variant in settings["variants"]}
    _results_figure(summary, read_csvs(inputs["robustness"]), read_csvs(inputs["purification"]),
                    variants, title, stem)


plot_digits_results = plot_cifar10_results = _plot_results
