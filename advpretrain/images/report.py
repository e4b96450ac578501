"""The CIFAR-10 table (CSV, Markdown, LaTeX) and the purification summary and figure."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import fileio
from ..canonical import plain
from ..plotting import save
from ..tables import read_csvs

COLUMNS = {  # table column -> header in the Markdown and LaTeX versions
    "variant": "pre-training",
    "clean_accuracy": "clean acc.",
    "pgd_accuracy": "PGD-20 acc.",
    "autoattack_accuracy": "AutoAttack acc.",
    "autoattack_images": "AA images",
    "median_participation_ratio": "classes / unit",
    "gpu_minutes": "GPU min",
    "wall_minutes": "wall min",
}


def _timing(meta_paths):
    timing = [json.loads(open(path).read())["timing"] for path in meta_paths]
    return {"gpu_minutes": sum(t["gpu_seconds"] for t in timing) / 60,
            "wall_minutes": sum(t["wall_seconds"] for t in timing) / 60,
            "device": timing[0]["device"]}


def cifar_table(metrics_paths, meta_paths, variants):
    """One row per variant (``variants``: {name: {"task", "adversarial"}}, in table order);
    ``meta_paths[name]`` lists its stage JSONs (with timing)."""
    metrics = read_csvs(metrics_paths)
    metrics = metrics.set_index("variant").loc[list(variants)].reset_index()
    timing = pd.DataFrame([{"variant": v, **_timing(meta_paths[v])} for v in variants])
    table = metrics.merge(timing, on="variant")
    table.insert(1, "task", [variants[v]["task"] for v in table["variant"]])
    table.insert(2, "adversarial_pretraining", [variants[v]["adversarial"]
                                                for v in table["variant"]])
    return table


def _formatted(table):
    shown = table[list(COLUMNS)].copy()
    for column in ("clean_accuracy", "pgd_accuracy", "autoattack_accuracy"):
        shown[column] = [f"{100 * value:.1f}%" for value in shown[column]]
    for column in ("median_participation_ratio", "gpu_minutes", "wall_minutes"):
        shown[column] = [f"{value:.1f}" for value in shown[column]]
    return shown.astype(str).rename(columns=COLUMNS)


def markdown(table):
    shown = _formatted(table)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + f"\n\nDevice: {', '.join(dict.fromkeys(table['device']))}.\n"


def latex(table):
    shown = _formatted(table).apply(lambda column: column.str.replace("_", r"\_")
                                    .str.replace("%", r"\%"))
    header = " & ".join(c.replace("%", r"\%") for c in shown.columns) + r" \\"
    body = [" & ".join(row) + r" \\" for row in shown.itertuples(index=False)]
    return "\n".join([r"\begin{tabular}{l" + "r" * (len(shown.columns) - 1) + "}", r"\toprule",
                      header, r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]) + "\n"


def purification_summary(unit_paths, variants):
    units = read_csvs(unit_paths)
    alive = units[~units["dead"]]
    rows = []
    for variant in variants:
        ratio = alive.loc[alive["variant"] == variant, "participation_ratio"]
        rows.append({"variant": variant, "units": int((units["variant"] == variant).sum()),
                     "dead_units": int(units.loc[units["variant"] == variant, "dead"].sum()),
                     "median_classes_per_unit": ratio.median(),
                     "q25": ratio.quantile(0.25), "q75": ratio.quantile(0.75),
                     "share_single_class": float((ratio < 1.5).mean())})
    return units, pd.DataFrame(rows)


def purification_figure(units, variants, stem):
    """Distribution of the number of classes driving each penultimate unit, per variant."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    bins = np.linspace(1, 10, 37)
    alive = units[~units["dead"]]
    for variant in variants:
        values = alive.loc[alive["variant"] == variant, "participation_ratio"]
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.5, label=variant,
                ls="-" if variants[variant]["adversarial"] else "--")
    ax.set_xlabel("classes driving a unit (participation ratio of class means)")
    ax.set_ylabel("density of units")
    ax.set_title("CIFAR-10 penultimate units: fewer classes = purer")
    ax.legend(fontsize=7)
    save(fig, stem)


def write_report(settings, inputs, outputs) -> None:
    """The table (CSV, Markdown, LaTeX), the purification summary and its figure."""
    variants = {v["variant"]: v for v in plain(settings["variants"])}
    stage_meta = zip(inputs["pretrain_meta"], inputs["linear_meta"], inputs["evaluate_meta"])
    table = cifar_table(inputs["metrics"], dict(zip(variants, stage_meta)), variants)
    fileio.write_csv(outputs["table_csv"], table)
    with fileio.atomic_path(outputs["table_md"]) as tmp:
        tmp.write_text(markdown(table))
    with fileio.atomic_path(outputs["table_tex"]) as tmp:
        tmp.write_text(latex(table))
    units, summary = purification_summary(inputs["purification"], variants)
    fileio.write_csv(outputs["purification_csv"], summary)
    stem = Path(outputs["figure_pdf"]).with_suffix("")
    if Path(outputs["figure_png"]).with_suffix("") != stem:
        raise ValueError(f"{outputs['figure_pdf']} and {outputs['figure_png']} must differ only "
                         "in their suffix")
    purification_figure(units, variants, stem)
    print(table.to_string(index=False), flush=True)
