"""Params builders of the rules that report: the claims table, the figures and the notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping

from advpretrain.core.canonical import canonical
from advpretrain.workflow.figures import figure_settings
from advpretrain.workflow.image_branch import branch_enabled
from advpretrain.workflow.params.simulation import variant_table
from advpretrain.workflow.studies import (
    CENTRE,
    MECHANISM,
    SENSITIVITY,
    mechanism_variants,
    point_axes,
    point_config,
    point_levels,
    point_reference,
    study_points,
)


def claims(config: Mapping) -> dict:
    """The claims' settings; ``images``: why each real-image data set whose branch is off is
    not evaluated (None where it is on; a GPU appearing changes the table, so it reruns)."""
    evaluation = config["simulation"]["evaluation"]
    reference = evaluation["reference_attack"]
    return canonical({"claims": config["claims"],
                      "reference": {"norm": reference["norm"], "eps": reference["eps"]},
                      "convergence_tolerance": evaluation["convergence"]["tolerance"],
                      "small_budgets": evaluation["small_budgets"],
                      # The multiverse's evaluation budgets and the budget map's training
                      # budget: at the reference norm, what the stage reads.
                      "budget_grid": {reference["norm"]: evaluation["ensemble"]["eps_grid"][
                          reference["norm"]]},
                      "adversarial_budget": {"eps": config["simulation"]["pretrain_variants"][
                          config["claims"]["adversarial_variant"]]["eps"]},
                      "sweep": [{"variant": v["variant"], "norm": v["norm"], "eps": v["eps"]}
                                for v in variant_table(config["simulation"])
                                if v["variant"].startswith("sweep_")],
                      "images": {dataset: images_off_reason(dataset, section)
                                 for dataset, section in config["images"].items()}})


def images_off_reason(dataset: str, section: Mapping) -> str | None:
    """None when a data set's branch is on, else why not and how to run it."""
    if branch_enabled(section):
        return None
    if section["enabled"] == "auto":
        return ("no GPU visible: run `make reproduce` on a machine with a GPU (or force the "
                f"branch on: images.{dataset}.enabled: true)")
    return f"images.{dataset}.enabled is false"


def figure(config: Mapping, name: str) -> dict:
    """A figure's name (its plot function: ``workflow.figures``) and what it reads of the config."""
    return canonical({"figure": name, **figure_settings(config, name)})


def run_notebook(config: Mapping) -> dict:
    return canonical({"activation": config["simulation"]["network"]["activation"]})


def sensitivity_point(config: Mapping, point: str) -> dict:
    """The point's name and the whole config its run takes (workflow.studies)."""
    return canonical({"point": point, "config": point_config(config, point, SENSITIVITY)})


def sensitivity_table(config: Mapping) -> dict:
    """The points in order, with what each changes; the study's own changes; the claims the
    study does not vary (C6 on every data set: the points run the simulations only)."""
    return canonical({
        "centre": CENTRE,
        "points": [{"name": name, "changes": changes, "axes": point_axes(config, changes)}
                   for name, changes in study_points(config, SENSITIVITY).items()],
        "study": config[SENSITIVITY]["study"],
        "excluded_claims": ["C6"]})


def mechanism_point(config: Mapping, point: str) -> dict:
    """The point's name and the whole config its run takes (workflow.studies)."""
    return canonical({"point": point, "config": point_config(config, point, MECHANISM)})


def mechanism_table(config: Mapping) -> dict:
    """The factors and the points in order, with their levels, what they change and their
    claims' budget; the study's own changes; the variants whose measures it shows (the claims'
    clean, adversarial and ideal ones); the claims the study does not vary (C6)."""
    levels = point_levels(config)
    references = {name: point_reference(config, name, MECHANISM) for name in levels}
    return canonical({
        "factors": list(config[MECHANISM]["factors"]),
        "points": [{"name": name, "levels": levels[name], "changes": changes,
                    "budget": references[name]["eps"], "norm": references[name]["norm"]}
                   for name, changes in study_points(config, MECHANISM).items()],
        "study": config[MECHANISM]["study"],
        "variants": mechanism_variants(config),
        "excluded_claims": ["C6"]})
