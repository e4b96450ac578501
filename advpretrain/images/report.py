"""A data set's per-seed table (what the claims are computed from), its summary table (CSV,
Markdown, LaTeX: mean and t-interval over seeds); the figure is the registry's
(``advpretrain.figures.images``).

per-seed table: one row per (downstream task, variant, seed) with the clean, PGD and AutoAttack
accuracy of the clean linear head, AutoAttack's per-attack breakdown, the purification measure,
the model selection (pre-training epoch kept, validation score at the best and the last scored
epoch) and the time the three stages took.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.statistics import t_interval
from advpretrain.core.tables import read_csvs
from advpretrain.images.datasets import spec
from advpretrain.workflow.names import ACCURACIES

TIME_COLUMNS = ["gpu_minutes", "wall_minutes", "device"]


def _meta(path):
    return json.loads(Path(path).read_text())


def _stage_columns(pretrain_meta, linear_meta, evaluate_meta):
    """Selection and timing of one (variant, seed) from its three provenance JSONs."""
    pretrain = _meta(pretrain_meta)
    columns = {"pretrain_epochs": pretrain["settings"]["recipe"]["epochs"]}
    selection = pretrain.get("selection")
    if selection:
        criterion = selection["criterion"]
        columns.update(selected_epoch=selection["selected_epoch"], selection_criterion=criterion,
                       selection_best=selection["best"][criterion],
                       selection_last=selection["last"][criterion])
    else:
        columns.update(selected_epoch=columns["pretrain_epochs"], selection_criterion="last epoch",
                       selection_best=float("nan"), selection_last=float("nan"))
    timing = [_meta(path)["timing"] for path in (pretrain_meta, linear_meta, evaluate_meta)]
    columns.update(gpu_minutes=sum(t["gpu_seconds"] for t in timing) / 60,
                   wall_minutes=sum(t["wall_seconds"] for t in timing) / 60,
                   device=timing[0]["device"])
    return columns


def per_seed_table(metrics_paths, stage_metas, variants, tasks):
    """One row per (downstream task, variant, seed), in table order. ``stage_metas``:
    {(variant, seed): (pretrain, linear, evaluate JSON paths)}; ``variants``: {name: {"task",
    "adversarial"}}."""
    metrics = read_csvs(metrics_paths)
    extra = pd.DataFrame([{"variant": variant, "seed": seed, **_stage_columns(*paths)}
                          for (variant, seed), paths in stage_metas.items()])
    table = metrics.merge(extra, on=["variant", "seed"], validate="many_to_one")
    table.insert(3, "pretraining_task", [variants[v]["task"] for v in table["variant"]])
    table.insert(4, "adversarial", [bool(variants[v]["adversarial"]) for v in table["variant"]])
    order = {"downstream_task": list(tasks), "variant": list(variants)}
    for column, values in order.items():
        table[column] = pd.Categorical(table[column], categories=values, ordered=True)
    table = table.sort_values(["downstream_task", "variant", "seed"]).reset_index(drop=True)
    for column in order:
        table[column] = table[column].astype(str)
    first = ["dataset", "downstream_task", "variant", "pretraining_task", "adversarial", "seed",
             *ACCURACIES, "test_images", "autoattack_images"]
    return table[first + [c for c in table.columns if c not in first]]


def clipped_interval(values, confidence):
    """(mean, low, high): the t-interval of the mean over seeds, clipped to [0, 1] (accuracies);
    low = high = NaN with one value."""
    mean, low, high = t_interval(values, confidence)
    return mean, min(max(low, 0.0), 1.0), max(min(high, 1.0), 0.0)


def summary_table(per_seed, confidence):
    """Mean and t-interval over seeds of each accuracy, per (downstream task, variant)."""
    rows = []
    for (task, variant), group in per_seed.groupby(["downstream_task", "variant"], sort=False):
        row = {"downstream_task": task, "variant": variant,
               "pretraining_task": group["pretraining_task"].iloc[0],
               "adversarial": bool(group["adversarial"].iloc[0]), "seeds": len(group)}
        for column in ACCURACIES:
            mean, low, high = clipped_interval(group[column], confidence)
            row.update({f"{column}_mean": mean, f"{column}_low": low, f"{column}_high": high})
        row.update(test_images=int(group["test_images"].iloc[0]),
                   autoattack_images=int(group["autoattack_images"].iloc[0]),
                   median_participation_ratio=float(group["median_participation_ratio"].mean()),
                   selected_epoch=float(group["selected_epoch"].mean()),
                   pretrain_epochs=int(group["pretrain_epochs"].iloc[0]),
                   gpu_minutes=float(group["gpu_minutes"].mean()))
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(row, column, scale=100):
    mean, low, high = (row[f"{column}_{part}"] for part in ("mean", "low", "high"))
    if np.isnan(low):
        return f"{scale * mean:.1f}"
    return f"{scale * mean:.1f} [{scale * low:.1f}, {scale * high:.1f}]"


HEADERS = ["task", "pre-training", "seeds", "clean %", "PGD-20 %", "AutoAttack %",
           "classes / unit", "GPU min"]


def _formatted(summary):
    return [[row["downstream_task"], row["variant"], str(row["seeds"]),
             *(_cell(row, column) for column in ACCURACIES),
             f"{row['median_participation_ratio']:.2f}", f"{row['gpu_minutes']:.1f}"]
            for _, row in summary.iterrows()]


def caption(summary, dataset, eps, levels, confidence, pgd_steps, square_queries=None):
    seeds = sorted(set(summary["seeds"]))
    interval = (f"mean over {seeds[0]} seeds [{confidence:.0%} t-interval]" if seeds[0] > 1
                else "one seed: indicative (one run, no interval)")
    first = summary.iloc[0]
    version = ("standard" if square_queries is None
               else f"not standard: Square with {square_queries} queries, not 5000")
    return (f"{dataset}: clean linear heads on frozen encoders; {interval}. PGD-{pgd_steps} on "
            f"{first['test_images']} test images, AutoAttack ({version}) on "
            f"{first['autoattack_images']}; l_inf eps = {eps:g}/{levels}. classes / unit: median "
            "participation ratio of the penultimate units (fewer = purer).")


def markdown_table(summary, text):
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in _formatted(summary)]
    return "\n".join(lines) + f"\n\n{text}\n"


def latex(summary, text):
    def escape(value):
        return value.replace("_", r"\_").replace("%", r"\%")
    body = [" & ".join(escape(cell) for cell in row) + r" \\" for row in _formatted(summary)]
    return "\n".join([r"% " + text, r"\begin{tabular}{ll" + "r" * (len(HEADERS) - 2) + "}",
                      r"\toprule", " & ".join(escape(h) for h in HEADERS) + r" \\", r"\midrule",
                      *body, r"\bottomrule", r"\end{tabular}"]) + "\n"


def images_report(settings, inputs, outputs) -> None:
    """per_seed.csv and the summary table (CSV, Markdown, LaTeX) of one data set (its figure:
    ``figures.images``)."""
    dataset, confidence = settings["dataset"], settings["confidence"]
    variants = {v["variant"]: v for v in plain(settings["variants"])}
    tasks, seeds = plain(settings["tasks"]), range(settings["seeds"])
    keys = [(variant, seed) for variant in variants for seed in seeds]
    metas = dict(zip(keys, zip(inputs["pretrain_meta"], inputs["linear_meta"],
                               inputs["evaluate_meta"])))
    per_seed = per_seed_table(inputs["metrics"], metas, variants, tasks)
    fileio.write_csv(outputs["per_seed"], per_seed)
    summary = summary_table(per_seed, confidence)
    fileio.write_csv(outputs["table_csv"], summary)
    text = caption(summary, dataset, settings["eps"], spec(dataset).levels, confidence,
                   settings["pgd_steps"], settings["square_queries"])
    with fileio.atomic_path(outputs["table_md"]) as tmp:
        tmp.write_text(markdown_table(summary, text))
    with fileio.atomic_path(outputs["table_tex"]) as tmp:
        tmp.write_text(latex(summary, text))
    print(summary.drop(columns=["gpu_minutes"]).to_string(index=False), flush=True)
