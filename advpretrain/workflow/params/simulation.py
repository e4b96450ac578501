"""Params builders of the simulation rules (C1-C5): what each stage reads of the config.

A rule passes ``params.<rule>(config, wildcards...)`` as its ``settings`` param and its script
hands exactly that mapping to the stage function (``workflow.run.run``), which reads nothing else
of the config. Snakemake reruns a job when its params change, so a config change reruns exactly the
jobs whose settings it changes. The test suite checks, on the whole test DAG, that every stage
reads all of its settings (``canonical.Recorder``): none is carried for nothing.

Settings are canonical dicts (sorted keys). A stage that builds on another stage's output gets the
fingerprint of that stage's settings (``model``, ``encoder``, ``head``) and refuses a file made
with others. What only says where files are or how to run (the CIFAR-10 archive's location,
device, torch.compile, resume states) travels as ``untracked`` params: Snakemake cannot
represent them, so they never trigger a rerun; they are recorded in the job's log.

This module imports no torch: the Snakefile imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from advpretrain.core.activations import THRESHOLDED
from advpretrain.core.canonical import canonical, fingerprint
from advpretrain.workflow.params.common import untracked

# Pair-attack study (beyond the paper): contrastive jobs whose training attack hits one pair type
# only; they start from the main contrastive job's initialisation and minibatches (same seed).
PAIR_ATTACK_TASKS = {"contrastive_attack_similar": "similar",
                     "contrastive_attack_dissimilar": "dissimilar"}


CONTRASTIVE_TASKS = ("contrastive", *PAIR_ATTACK_TASKS)
PRETRAIN_TASKS = ("supervised", *CONTRASTIVE_TASKS)


def variant_table(sim: Mapping) -> list[dict]:
    """Supervised pre-training variants (name, norm, eps): the configured ones, then the sweep."""
    table = [{"variant": name, **spec} for name, spec in sim["pretrain_variants"].items()]
    sweep = sim["eps_sweep"]
    table += [{"variant": f"sweep_{sweep['norm']}_{eps:g}", "norm": sweep["norm"], "eps": eps}
              for eps in sweep["values"]]
    return table


def contrastive_variants(sim: Mapping, task: str) -> list[dict]:
    """Variants of a contrastive job: the main ones, or for a pair-attack study task the listed
    adversarial ones with the training attack on one pair type only."""
    section = sim["contrastive"]
    table = [{"variant": name, **spec, "members": section["members"]}
             for name, spec in section["variants"].items()]
    if task in PAIR_ATTACK_TASKS:
        table = [{**v, "pairs": PAIR_ATTACK_TASKS[task]} for v in table
                 if v["variant"] in section["pair_attack_study"]]
    return table


def job_variants(sim: Mapping, task: str, activation: str) -> list[dict]:
    """Variants one pre-training job trains, sorted by name (the order of the config's keys
    must not change a job): all of them for the main activation, the activation study's
    subset for the other activations."""
    table = contrastive_variants(sim, task) if task in CONTRASTIVE_TASKS else variant_table(sim)
    if activation != sim["network"]["activation"]:
        table = [v for v in table if v["variant"] in sim["activation_study"]["variants"]]
    return sorted(table, key=lambda v: v["variant"])


def objective(task: str) -> str:
    """The loss a pre-training task minimises: "supervised" or "contrastive"."""
    return "contrastive" if task in CONTRASTIVE_TASKS else "supervised"


def architecture(sim: Mapping, activation: str, task_objective: str) -> dict:
    """Network shape, activation and row constraint (threshold, its mode and score scale only
    where they are used). Every stage that builds networks gets it; a stage that rebuilds them
    from a checkpoint reads the checkpoint's copy, checked by its ``model`` fingerprint."""
    net = sim["network"]
    arch = {"d": sim["data"]["d"], "hidden": net["hidden"], "init_scale": net["init_scale"],
            "activation": activation, "unit_rows": net["unit_rows"]}
    if activation in THRESHOLDED:
        arch["threshold"] = net["threshold"]
        arch["threshold_mode"] = net["threshold_mode"]
    if task_objective == "contrastive":
        arch["score_scale"] = net["score_scale"]
    return arch


def _evaluation(sim: Mapping, *keys: str) -> dict:
    return {key: sim["evaluation"][key] for key in ("attacks", "pgd_steps", "eps_grid", *keys)}


def _ensemble(sim: Mapping, full: bool = True, small: bool = False) -> dict:
    """The attack ensemble and certified bound of the robust-accuracy sandwich: over the whole
    ensemble grid, or (``full`` false: jobs whose figures quote one budget) at the reference
    attack's norm and eps only, with ``small`` the small budgets too (the positive control)."""
    ensemble = sim["evaluation"]["ensemble"]
    settings = {key: ensemble[key] for key in ("eps_grid", "steps", "restarts", "surrogates",
                                               "samples")}
    if not full:
        reference = sim["evaluation"]["reference_attack"]
        grid = {reference["norm"]: {reference["eps"]}}
        for norm, eps in (sim["evaluation"]["small_budgets"].items() if small else ()):
            grid.setdefault(norm, set()).add(eps)
        settings["eps_grid"] = {norm: sorted(budgets) for norm, budgets in sorted(grid.items())}
    return settings


def _movement(sim: Mapping) -> dict:
    """The representation-movement attack: the ensemble's steps, restarts and samples with its
    own surrogates."""
    ensemble = sim["evaluation"]["ensemble"]
    return {"steps": ensemble["steps"], "restarts": ensemble["restarts"],
            "samples": ensemble["samples"], "surrogates": ensemble["movement_surrogates"]}


def _reference_budget(sim: Mapping) -> dict:
    """The claims' budget, the reference attack's norm and eps (without its attack)."""
    reference = sim["evaluation"]["reference_attack"]
    return {"norm": reference["norm"], "eps": reference["eps"]}


def _transfer(sim: Mapping) -> dict:
    """Nern et al.'s criterion at the reference attack's norm and eps."""
    return {**_movement(sim), **_reference_budget(sim)}


def _robust_evaluation(sim: Mapping, full: bool = True, small: bool = False) -> dict:
    """What the downstream stages evaluate: the paper's attacks, the sandwich, live and pure
    nodes (the heads' weight on impure ones)."""
    return {**_evaluation(sim, "pure_threshold"), "ensemble": _ensemble(sim, full, small),
            "live_rate": live_rate(sim)}


def _main_job(sim: Mapping, task: str, activation: str) -> bool:
    """Jobs whose figures draw the sandwich over budgets (the others quote one budget)."""
    return activation == sim["network"]["activation"] and task not in PAIR_ATTACK_TASKS


def live_rate(sim: Mapping) -> float:
    """The firing rate below which a node counts as not live: ``evaluation.live_fraction`` of
    s/d, the rate at which a node that reads a single feature fires."""
    data = sim["data"]
    return sim["evaluation"]["live_fraction"] * data["s"] / data["d"]


def _heads(sim: Mapping) -> dict:
    down = sim["downstream"]
    return {"steps": down["steps"], "batch": down["batch"], "lr": down["lr"],
            "log_every": sim["training"]["log_every"]}


def sparse_coding_data(config: Mapping, seed_index: int) -> dict:
    return canonical({"base_seed": config["base_seed"], "seed_index": int(seed_index),
                      "data": config["simulation"]["data"]})


def pretrain(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    training = {key: value for key, value in sim["training"].items() if key != "resume_every"}
    settings = {
        "base_seed": config["base_seed"], "task": task, "objective": objective(task),
        "seed_task": "contrastive" if task in PAIR_ATTACK_TASKS else task,
        "n_seeds": sim["seeds"], "architecture": architecture(sim, activation, objective(task)),
        "training": training, "variants": job_variants(sim, task, activation),
    }
    if objective(task) == "contrastive":
        settings["track_eps"] = sim["contrastive"]["track_eps"]
    return canonical(settings)


def pretrain_resume(config: Mapping, path: str) -> SimpleNamespace:
    return untracked(path=path, every=config["simulation"]["training"]["resume_every"])


def _model(config: Mapping, task: str, activation: str) -> dict:
    """What a stage that reads a pre-trained model gets: its fingerprint, variants, seeds."""
    return {"base_seed": config["base_seed"], "task": task,
            "model": fingerprint(pretrain(config, task, activation)),
            "variants": job_variants(config["simulation"], task, activation)}


def evaluate_pretrained(config: Mapping, task: str, activation: str) -> dict:
    """Node measures and the sandwich; the reference budget for the share of nodes whose
    threshold it reaches and, in supervised jobs, for the attack's breaking points."""
    sim = config["simulation"]
    return canonical({**_model(config, task, activation), "objective": objective(task),
                      "reference_budget": _reference_budget(sim),
                      "evaluation": {**_evaluation(sim, "pure_threshold"),
                                     "live_rate": live_rate(sim),
                                     "ensemble": _ensemble(sim, _main_job(sim, task, activation))}})


def exact_activations(sim: Mapping) -> list[str]:
    """The activations whose supervised jobs are verified exactly: the piecewise-linear ones
    (``core.activations.THRESHOLDED``, those ``evaluation.exact`` verifies) among the main one
    and the activation study's whose job trains one of ``evaluation.exact.variants``."""
    chosen = [sim["network"]["activation"], *sim["activation_study"]["activations"]]
    verified = set(sim["evaluation"]["exact"]["variants"])
    return [a for a in dict.fromkeys(chosen) if a in THRESHOLDED
            and verified & {v["variant"] for v in job_variants(sim, "supervised", a)}]


def exact_verification(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    ensemble = sim["evaluation"]["ensemble"]
    exact = sim["evaluation"]["exact"]
    return canonical({**_model(config, task, activation),
                      "exact": {key: value for key, value in exact.items()
                                if key != "closed_width"},  # the table's, not the solver's
                      "ensemble": {key: ensemble[key] for key in ("steps", "restarts",
                                                                  "surrogates")},
                      "pgd_steps": sim["evaluation"]["pgd_steps"]})


def exact_table(config: Mapping) -> dict:
    return canonical({"closed_width": config["simulation"]["evaluation"]["exact"]["closed_width"]})


def attack_convergence(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    ensemble = sim["evaluation"]["ensemble"]
    return canonical({**_model(config, task, activation),
                      "convergence": sim["evaluation"]["convergence"],
                      "ensemble": {key: ensemble[key] for key in ("steps", "restarts",
                                                                  "surrogates")},
                      "pgd_steps": sim["evaluation"]["pgd_steps"]})


def node_movement(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    return canonical({**_model(config, task, activation), "objective": objective(task),
                      "movement": {**_movement(sim),
                                   "eps_grid": sim["evaluation"]["ensemble"]["movement_eps_grid"]}})


def evaluate_pair_loss(config: Mapping, task: str, activation: str) -> dict:
    """The paper's attacks over the eps grid; the attack ensemble on the pair losses at the
    reference budget (claim C4)."""
    sim = config["simulation"]
    ensemble = _ensemble(sim, full=False)
    return canonical({**_model(config, task, activation), "evaluation": _evaluation(sim),
                      "ensemble": {key: ensemble[key] for key in ("eps_grid", "steps",
                                                                  "restarts", "surrogates")}})


def pair_attack_study(config: Mapping) -> dict:
    sim = config["simulation"]
    contrastive = sim["contrastive"]
    clean = [name for name, spec in contrastive["variants"].items() if spec["eps"] == 0]
    return canonical({"reference_attack": sim["evaluation"]["reference_attack"],
                      "variants": clean + list(contrastive["pair_attack_study"]),
                      "study_tasks": PAIR_ATTACK_TASKS})


def downstream(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    return canonical({**_model(config, task, activation), "heads": _heads(sim),
                      "evaluation": _robust_evaluation(sim, _main_job(sim, task, activation)),
                      "transfer": _transfer(sim)})


def downstream_baselines(config: Mapping, activation: str) -> dict:
    sim = config["simulation"]
    down = sim["downstream"]
    e2e = down["end_to_end"]
    return canonical({
        "base_seed": config["base_seed"],
        "architecture": architecture(sim, activation, "supervised"),
        "purified_scale": down["purified_scale"], "heads": _heads(sim),
        "evaluation": _robust_evaluation(sim), "transfer": _transfer(sim),
        "end_to_end": {"attack": sim["pretrain_variants"][e2e["variant"]], "steps": e2e["steps"],
                       "lr": e2e["lr"], "attack_steps": sim["training"]["attack_steps"],
                       "attack_surrogate": sim["training"]["attack_surrogate"]},
    })


def downstream_blend(config: Mapping, activation: str) -> dict:
    sim = config["simulation"]
    model = _model(config, "supervised", activation)
    return canonical({"base_seed": config["base_seed"], "model": model["model"],
                      "base_variant": config["claims"]["clean_variant"],
                      "blend": sim["downstream"]["blend"], "heads": _heads(sim),
                      "evaluation": _robust_evaluation(sim, full=False, small=True)})


def threshold_study(config: Mapping, threshold: str) -> dict:
    sim = config["simulation"]
    study = sim["threshold_study"]
    training = {key: value for key, value in sim["training"].items() if key != "resume_every"}
    eps_grid = study["eps_grid"]
    return canonical({
        "base_seed": config["base_seed"], "n_seeds": sim["seeds"],
        "architecture": {**architecture(sim, "gate", "supervised"), "threshold": float(threshold)},
        "variants": sorted((v for v in variant_table(sim) if v["variant"] in study["variants"]),
                           key=lambda v: v["variant"]),
        "training": training, "heads": _heads(sim),
        "evaluation": {"attacks": ["pgd"], "pgd_steps": sim["evaluation"]["pgd_steps"],
                       "eps_grid": {norm: [0.0, *grid] for norm, grid in eps_grid.items()},
                       "ensemble": {**_ensemble(sim), "eps_grid": eps_grid},
                       "live_rate": live_rate(sim),
                       "pure_threshold": sim["evaluation"]["pure_threshold"]},
    })
