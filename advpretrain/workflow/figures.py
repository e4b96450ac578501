"""The figure registry: every figure declared once, with the module of its plot function, the
CSVs it reads, the settings it reads of the config and the notebooks that show it.

Figure ``X`` is drawn by ``plot_X`` in ``advpretrain.figures.<module>`` (the stage
``figures.figure.figure`` looks it up here). The rules build the figure jobs from ``FIGURES``
(``figure_inputs``), the params builder of rule ``figure`` from ``figure_settings``, and the
notebook rules take each notebook's figures from ``notebook_figures``. Torch- and
matplotlib-free: the Snakefile imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from advpretrain.workflow.image_branch import VARIANTS as IMAGE_VARIANTS
from advpretrain.workflow.image_branch import branch_enabled
from advpretrain.workflow.names import PAPER_FIGURES, RESULTS
from advpretrain.workflow.studies import (
    MECHANISM,
    SENSITIVITY,
    mechanism_variants,
    point_levels,
    point_reference,
    study_points,
)

SIM_DIR = f"{RESULTS}/simulation"
IMAGE_DIR = f"{RESULTS}/images"
# The report's category of a figure: the simulations', or its real-image data set's.
SIMULATION_CATEGORY = "Theory simulations (C1-C5)"
IMAGE_CATEGORY = {"cifar10": "CIFAR-10 (C6)", "digits": "Digits (C6 on a CPU)"}
# The notebooks (notebooks/<name>.py) that show figures.
SUPERVISED_NOTEBOOK, CONTRASTIVE_NOTEBOOK, DOWNSTREAM_NOTEBOOK = (
    "01_supervised_purification", "02_contrastive", "03_downstream")
BOTH_TASKS = ("supervised", "contrastive")
# The targets that export figures into paper_figures/: the paper, and each study (its own
# target: `make sensitivity`, `make mechanism`).
PAPER = "paper"


def study_verdicts(study: str) -> str:
    """The long table of a study's verdicts (rule <study>_table), which its figures read."""
    return f"{RESULTS}/{study}/verdicts.csv"


SENSITIVITY_VERDICTS = study_verdicts(SENSITIVITY)
# The mechanism study's measures per point (rule mechanism_table).
MECHANISM_MEASURES = f"{PAPER_FIGURES}/mechanism_measures.csv"
# The mechanism figure's reference budget: a factor whose levels set it is the x axis, the
# others facet the figure.
BUDGET_KEY = "simulation.evaluation.reference_attack.eps"


def sim_csv(config: Mapping, name: str, tasks=("supervised",), activations=None) -> list[str]:
    """Evaluation CSVs of the simulation jobs (default: the main activation)."""
    activations = activations or [config["simulation"]["network"]["activation"]]
    return [f"{SIM_DIR}/{task}/{act}/{name}.csv" for task in tasks for act in activations]


def image_csvs(config: Mapping, dataset: str, name: str) -> list[str]:
    """A CSV of every job (variant, seed) of a real-image data set."""
    section = config["images"][dataset]
    return [f"{IMAGE_DIR}/{dataset}/{variant}/seed{seed}/{name}.csv"
            for variant in section["variants"] for seed in range(section["seeds"])]


def image_table(dataset: str) -> str:
    """A data set's summary table (rule images_report_<dataset>), which its figure reads."""
    return f"{PAPER_FIGURES}/{dataset}_table.csv"


def _baselines(config: Mapping, name: str) -> list[str]:
    return [f"{SIM_DIR}/baselines/{config['simulation']['network']['activation']}/{name}.csv"]


@dataclass(frozen=True)
class Figure:
    module: str  # advpretrain.figures.<module> holds plot_<name>
    inputs: Callable[[Mapping], dict[str, list[str]]]  # {input name: CSV paths} from the config
    notebooks: tuple[str, ...] = ()
    target: str = PAPER  # PAPER: `make reproduce` exports it; a study: `make <study>`
    category: str = SIMULATION_CATEGORY  # in the report
    dataset: str | None = None  # a real-image data set's figure: drawn where its branch is on


def _image_results(dataset: str) -> Figure:
    """A real-image data set's results figure, from its summary table and its jobs' CSVs."""
    return Figure("images", lambda c: {"summary": [image_table(dataset)],
                                       "robustness": image_csvs(c, dataset, "robustness"),
                                       "purification": image_csvs(c, dataset, "purification")},
                  category=IMAGE_CATEGORY[dataset], dataset=dataset)


FIGURES = {
    "purity_distribution": Figure("pretrained", lambda c: {
        "nodes": sim_csv(c, "nodes", BOTH_TASKS), "summary": sim_csv(c, "summary", BOTH_TASKS)},
        (SUPERVISED_NOTEBOOK, CONTRASTIVE_NOTEBOOK)),
    "training_curves": Figure("pretrained", lambda c: {
        task: sim_csv(c, "training_log", (task,)) for task in BOTH_TASKS}),
    "coefficient_heatmaps": Figure("pretrained", lambda c: {
        "coefficients": sim_csv(c, "coefficients", BOTH_TASKS)}, (SUPERVISED_NOTEBOOK,)),
    "robustness_curves": Figure("pretrained", lambda c: {
        "robustness": sim_csv(c, "robustness")}, (SUPERVISED_NOTEBOOK,)),
    "robustness_sandwich": Figure("pretrained", lambda c: {
        "robustness": sim_csv(c, "robustness", BOTH_TASKS)}, (SUPERVISED_NOTEBOOK,)),
    "attack_convergence": Figure("robustness", lambda c: {
        "convergence": sim_csv(c, "convergence")}, (SUPERVISED_NOTEBOOK,)),
    "claims_by_budget": Figure("robustness", lambda c: {
        "by_budget": [f"{RESULTS}/claims_by_budget.csv"]}, (SUPERVISED_NOTEBOOK,)),
    "budget_map": Figure("verdicts", lambda c: {
        "cells": [f"{RESULTS}/claims_budget_map.csv"]}, (SUPERVISED_NOTEBOOK,)),
    "multiverse": Figure("verdicts", lambda c: {"choices": [f"{RESULTS}/multiverse.csv"]}),
    "node_movement": Figure("robustness", lambda c: {
        "movement": sim_csv(c, "movement", BOTH_TASKS)}, (SUPERVISED_NOTEBOOK,)),
    "eps_sweep": Figure("pretrained", lambda c: {
        "summary": sim_csv(c, "summary"), "robustness": sim_csv(c, "robustness")},
        (SUPERVISED_NOTEBOOK,)),
    "contrastive_pair_loss": Figure("contrastive", lambda c: {
        "pair_loss": sim_csv(c, "pair_loss", ("contrastive",))}, (CONTRASTIVE_NOTEBOOK,)),
    "contrastive_pair_loss_training": Figure("contrastive", lambda c: {
        "pair_loss_training": sim_csv(c, "pair_loss_training", ("contrastive",))},
        (CONTRASTIVE_NOTEBOOK,)),
    "contrastive_pair_attack": Figure("contrastive", lambda c: {
        "pair_attack": sim_csv(c, "pair_attack", ("contrastive_pair_attack",))},
        (CONTRASTIVE_NOTEBOOK,)),
    "downstream_accuracy": Figure("downstream", lambda c: {
        "downstream": sim_csv(c, "downstream", c["simulation"]["downstream"]["tasks"]),
        "baselines": _baselines(c, "downstream")}, (DOWNSTREAM_NOTEBOOK,)),
    "downstream_purification": Figure("downstream", lambda c: {
        "downstream": sim_csv(c, "downstream"),
        "blend": sim_csv(c, "downstream_blend"),
        "baselines": _baselines(c, "downstream")}, (DOWNSTREAM_NOTEBOOK,)),
    "transfer_bound": Figure("robustness", lambda c: {
        "transfer": sim_csv(c, "transfer", c["simulation"]["downstream"]["tasks"]),
        "baselines": _baselines(c, "transfer")}, (DOWNSTREAM_NOTEBOOK,)),
    "threshold_study": Figure("robustness", lambda c: {
        "study": [f"{SIM_DIR}/threshold_study/e{threshold:g}.csv"
                  for threshold in c["simulation"]["threshold_study"]["thresholds"]]},
        (DOWNSTREAM_NOTEBOOK,)),
    "activation_study": Figure("downstream", lambda c: {
        "downstream": sim_csv(c, "downstream",
                              activations=c["simulation"]["activation_study"]["activations"])},
        (DOWNSTREAM_NOTEBOOK,)),
    "sensitivity_map": Figure("sensitivity", lambda c: {"verdicts": [SENSITIVITY_VERDICTS]},
                              target=SENSITIVITY),
    "sensitivity_effects": Figure("sensitivity", lambda c: {"verdicts": [SENSITIVITY_VERDICTS]},
                                  target=SENSITIVITY),
    "mechanism": Figure("mechanism", lambda c: {"verdicts": [study_verdicts(MECHANISM)]},
                        target=MECHANISM),
    "mechanism_reach": Figure("mechanism", lambda c: {"measures": [MECHANISM_MEASURES]},
                              target=MECHANISM),
    **{f"{dataset}_results": _image_results(dataset) for dataset in IMAGE_CATEGORY},
}


def _drawn(config: Mapping) -> list[str]:
    """The figures this config draws: all but those of a real-image branch that is off."""
    return [name for name, spec in FIGURES.items()
            if spec.dataset is None or branch_enabled(config["images"][spec.dataset])]


def figure_inputs(config: Mapping) -> dict[str, dict[str, list[str]]]:
    """{figure: {input name: CSV paths}} of every figure this config draws."""
    return {name: FIGURES[name].inputs(config) for name in _drawn(config)}


def exported(target: str, config: Mapping) -> list[str]:
    """The figures a target exports into paper_figures/, in the registry's order."""
    return [name for name in _drawn(config) if FIGURES[name].target == target]


def figure_files(folder: str, target: str, config: Mapping) -> list[str]:
    """The PDF and PNG in ``folder`` of every figure the target exports."""
    return [f"{folder}/{name}.{ext}" for name in exported(target, config)
            for ext in ("pdf", "png")]


def figure_category(path: str) -> str:
    """The report's category of an exported figure file (paper_figures/<name>.png)."""
    return FIGURES[path.rsplit("/", 1)[-1].rsplit(".", 1)[0]].category


def plot_module(name: str) -> str:
    """The dotted module of figure ``name``'s plot function."""
    return f"advpretrain.figures.{FIGURES[name].module}"


def notebook_figures(notebook: str) -> list[str]:
    """The figures a notebook shows, in the registry's order."""
    return [name for name, spec in FIGURES.items() if notebook in spec.notebooks]


def mechanism_facets(config: Mapping) -> dict:
    """The mechanism figure's points in order with their levels, and its facets: columns by the
    first factor that does not set the reference budget (the x axis), rows by the others'
    combinations, each the levels some point takes; the claims' "robust" threshold (a dashed
    line)."""
    factors = config[MECHANISM]["factors"]
    faceted = [factor for factor, levels in factors.items()
               if not any(BUDGET_KEY in changes for changes in levels.values())]
    points = {name: {factor: levels[factor] for factor in faceted}
              for name, levels in point_levels(config).items()}
    return {"points": points, "columns": faceted[:1], "rows": faceted[1:],
            "levels": {factor: [level for level in factors[factor]
                                if any(at[factor] == level for at in points.values())]
                       for factor in faceted},
            "robust": config["claims"]["protocol"]["robust"]}


def figure_settings(config: Mapping, name: str) -> dict:
    """What figure ``name`` reads of the config (its variant order, the reference attack...)."""
    sim = config["simulation"]
    main = list(sim["pretrain_variants"])
    contrastive = list(sim["contrastive"]["variants"])
    paper = sim["evaluation"]["reference_attack"]
    reference = {"reference_attack": paper}
    # Summary figures quote the ensemble's worst case at the reference budget, the truth the
    # paper's attack overstates.
    worst = {"reference_attack": {**paper, "attack": "worst_case"}}
    points = list(study_points(config, SENSITIVITY))
    figures = {
        "purity_distribution": {"variants": list(dict.fromkeys(main + contrastive)),
                                "d": sim["data"]["d"]},
        "training_curves": {"variants": list(dict.fromkeys(main + contrastive))},
        "coefficient_heatmaps": {"variants": list(dict.fromkeys(main + contrastive)),
                                 "heatmap_seed": sim["evaluation"]["heatmap_seed"]},
        "robustness_curves": {"variants": main},
        "robustness_sandwich": {"variants": list(dict.fromkeys(main + contrastive))},
        "attack_convergence": {"variants": main},
        "claims_by_budget": {},
        "node_movement": {"variants": list(dict.fromkeys(main + contrastive))},
        "transfer_bound": {"variants": main},
        "eps_sweep": {"sweep_norm": sim["eps_sweep"]["norm"],
                      "clean_variant": config["claims"]["clean_variant"],
                      "budgets": sim["evaluation"]["ensemble"]["eps_grid"].get(
                          sim["eps_sweep"]["norm"], [])},
        "budget_map": {},
        "multiverse": {},
        "contrastive_pair_loss": {"variants": contrastive},
        "contrastive_pair_loss_training": {
            "variants": contrastive},
        "contrastive_pair_attack": {"variants": contrastive, **reference},
        "downstream_accuracy": {"variants": main},
        "downstream_purification": {**worst},
        "threshold_study": {"variants": sim["threshold_study"]["variants"]},
        "activation_study": {"variants": sim["activation_study"]["variants"], **worst},
        "sensitivity_map": {"points": points},
        "sensitivity_effects": {"points": points},
    }
    if name == "mechanism":
        return mechanism_facets(config)
    if name == "mechanism_reach":
        return {"budgets": {point: point_reference(config, point, MECHANISM)["eps"]
                            for point in point_levels(config)},
                "variants": mechanism_variants(config),
                "robust": config["claims"]["protocol"]["robust"]}
    if FIGURES[name].dataset:
        dataset = FIGURES[name].dataset
        return {"dataset": dataset,
                "variants": [{"variant": variant, "adversarial": IMAGE_VARIANTS[variant][1]}
                             for variant in config["images"][dataset]["variants"]]}
    return figures[name]


