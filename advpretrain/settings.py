"""What each stage reads: its settings, built from the validated config by one function per rule.

A rule passes ``settings.<rule>(config, wildcards...)`` as its ``settings`` param and its script
hands exactly that mapping to the stage function (``workflow.run``), which reads nothing else of
the config. Snakemake reruns a job when its params change, so a config change reruns exactly the
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
from typing import Any

from .canonical import canonical, fingerprint
from .images.gpus import branch_enabled
from .images.variants import VARIANTS as IMAGE_VARIANTS
from .images.variants import dual_bn as image_dual_bn

# Pair-attack study (beyond the paper): contrastive jobs whose training attack hits one pair type
# only; they start from the main contrastive job's initialisation and minibatches (same seed).
PAIR_ATTACK_TASKS = {"contrastive_attack_similar": "similar",
                     "contrastive_attack_dissimilar": "dissimilar"}
CONTRASTIVE_TASKS = ("contrastive", *PAIR_ATTACK_TASKS)
PRETRAIN_TASKS = ("supervised", *CONTRASTIVE_TASKS)
# Activations that read the threshold e (advpretrain.networks.ACTIVATIONS).
THRESHOLDED = ("gate", "relu", "symmetric_relu")


def untracked(**values: Any) -> SimpleNamespace:
    """Params that must not trigger reruns (Snakemake ignores values it cannot represent)."""
    return SimpleNamespace(**values)


# ---------------------------------------------------------------- variants of a job


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
    """Network shape and activation (threshold and score scale only where they are used)."""
    net = sim["network"]
    arch = {"d": sim["data"]["d"], "hidden": net["hidden"], "init_scale": net["init_scale"],
            "activation": activation}
    if activation in THRESHOLDED:
        arch["threshold"] = net["threshold"]
    if task_objective == "contrastive":
        arch["score_scale"] = net["score_scale"]
    return arch


def _evaluation(sim: Mapping, *keys: str) -> dict:
    return {key: sim["evaluation"][key] for key in ("attacks", "pgd_steps", "eps_grid", *keys)}


def _ensemble(sim: Mapping, full: bool = True) -> dict:
    """The attack ensemble and certified bound of the robust-accuracy sandwich: over the whole
    ensemble grid, or (``full`` false: jobs whose figures quote one budget) at the reference
    attack's norm and eps only."""
    ensemble = sim["evaluation"]["ensemble"]
    settings = {key: ensemble[key] for key in ("eps_grid", "steps", "restarts", "surrogates",
                                               "samples")}
    if not full:
        reference = sim["evaluation"]["reference_attack"]
        settings["eps_grid"] = {reference["norm"]: [reference["eps"]]}
    return settings


def _movement(sim: Mapping) -> dict:
    """The representation-movement attack: the ensemble's steps, restarts and samples with its
    own surrogates."""
    ensemble = sim["evaluation"]["ensemble"]
    return {"steps": ensemble["steps"], "restarts": ensemble["restarts"],
            "samples": ensemble["samples"], "surrogates": ensemble["movement_surrogates"]}


def _transfer(sim: Mapping) -> dict:
    """Nern et al.'s criterion at the reference attack's norm and eps."""
    reference = sim["evaluation"]["reference_attack"]
    return {**_movement(sim), "norm": reference["norm"], "eps": reference["eps"]}


def _robust_evaluation(sim: Mapping, full: bool = True) -> dict:
    """What the downstream stages evaluate: the paper's attacks, the sandwich, live nodes."""
    return {**_evaluation(sim), "ensemble": _ensemble(sim, full), "live_rate": live_rate(sim)}


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


# ---------------------------------------------------------------- simulation stages


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
    sim = config["simulation"]
    return canonical({**_model(config, task, activation), "objective": objective(task),
                      "evaluation": {**_evaluation(sim, "pure_threshold"),
                                     "live_rate": live_rate(sim),
                                     "ensemble": _ensemble(sim, _main_job(sim, task, activation))}})


def node_movement(config: Mapping, task: str, activation: str) -> dict:
    sim = config["simulation"]
    return canonical({**_model(config, task, activation), "objective": objective(task),
                      "movement": {**_movement(sim), "eps_grid": _ensemble(sim)["eps_grid"]}})


def evaluate_pair_loss(config: Mapping, task: str, activation: str) -> dict:
    return canonical({**_model(config, task, activation),
                      "evaluation": _evaluation(config["simulation"])})


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
                       "lr": e2e["lr"], "attack_steps": sim["training"]["attack_steps"]},
    })


def downstream_blend(config: Mapping, activation: str) -> dict:
    sim = config["simulation"]
    model = _model(config, "supervised", activation)
    return canonical({"base_seed": config["base_seed"], "model": model["model"],
                      "base_variant": config["claims"]["clean_variant"],
                      "blend": sim["downstream"]["blend"], "heads": _heads(sim),
                      "evaluation": _robust_evaluation(sim, full=False)})


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
                       "live_rate": live_rate(sim)},
    })


def claims(config: Mapping) -> dict:
    """The claims' settings; ``images``: why each real-image data set whose branch is off is
    not evaluated (None where it is on; a GPU appearing changes the table, so it reruns)."""
    reference = config["simulation"]["evaluation"]["reference_attack"]
    return canonical({"claims": config["claims"],
                      "reference": {"norm": reference["norm"], "eps": reference["eps"]},
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


# ---------------------------------------------------------------- figures


def figure(config: Mapping, name: str) -> dict:
    """A figure's plot function ("module.function") and what it reads of the config."""
    sim = config["simulation"]
    main = list(sim["pretrain_variants"])
    contrastive = list(sim["contrastive"]["variants"])
    paper = sim["evaluation"]["reference_attack"]
    reference = {"reference_attack": paper}
    # Summary figures quote the ensemble's worst case at the reference budget, the truth the
    # paper's attack overstates.
    worst = {"reference_attack": {**paper, "attack": "worst_case"}}
    figures = {
        "purity_distribution": {"plot": "plotting.purity_distribution",
                                "variants": list(dict.fromkeys(main + contrastive)),
                                "d": sim["data"]["d"]},
        "coefficient_heatmaps": {"plot": "plotting.coefficient_heatmaps",
                                 "variants": list(dict.fromkeys(main + contrastive)),
                                 "heatmap_seed": sim["evaluation"]["heatmap_seed"]},
        "robustness_curves": {"plot": "plotting.robustness_curves", "variants": main},
        "robustness_sandwich": {"plot": "plotting.robustness_sandwich",
                                "variants": list(dict.fromkeys(main + contrastive))},
        "node_movement": {"plot": "evaluation_figures.node_movement",
                          "variants": list(dict.fromkeys(main + contrastive))},
        "transfer_bound": {"plot": "evaluation_figures.transfer_bound", "variants": main},
        "eps_sweep": {"plot": "plotting.eps_sweep", "sweep_norm": sim["eps_sweep"]["norm"],
                      **worst},
        "contrastive_pair_loss": {"plot": "contrastive_figures.pair_loss_curves",
                                  "variants": contrastive},
        "contrastive_pair_loss_training": {
            "plot": "contrastive_figures.pair_loss_training_curves", "variants": contrastive},
        "contrastive_pair_attack": {"plot": "contrastive_figures.pair_attack_figure",
                                    "variants": contrastive, **reference},
        "downstream_accuracy": {"plot": "downstream_figures.downstream_accuracy",
                                "variants": main},
        "downstream_purification": {"plot": "downstream_figures.purification_study", **worst},
        "threshold_study": {"plot": "evaluation_figures.threshold_figure",
                            "variants": sim["threshold_study"]["variants"]},
        "activation_study": {"plot": "downstream_figures.activation_study",
                             "variants": sim["activation_study"]["variants"], **worst},
    }
    return canonical(figures[name])


def notebook(config: Mapping) -> dict:
    return canonical({"activation": config["simulation"]["network"]["activation"]})


# ---------------------------------------------------------------- real images (C6)
# One section per data set (config key images.<dataset>); every rule has a {dataset} wildcard.


def _image_augment(section: Mapping, kind: str) -> dict:
    """The augmentation keys a stage uses: "shift" (supervised, linear heads) or "views"."""
    augment = section["augment"]
    keys = ("shift", "flip") if kind == "shift" else ("crop_scale", "flip", "jitter",
                                                        "jitter_prob", "grayscale_prob")
    return {key: augment[key] for key in keys}


def images_data(config: Mapping, dataset: str) -> dict:
    data = dict(config["images"][dataset]["data"])
    for key in ("root", "url", "download"):  # where the archive is: untracked (images_source)
        data.pop(key, None)
    return canonical({"base_seed": config["base_seed"], "dataset": dataset, "data": data})


def images_source(config: Mapping, dataset: str) -> SimpleNamespace:
    """Where the CIFAR-10 archive is and whether it may be downloaded: not a setting."""
    data = config["images"][dataset]["data"]
    return untracked(**{key: data[key] for key in ("root", "url", "download") if key in data})


def images_options(config: Mapping, dataset: str) -> SimpleNamespace:
    """Device and speed options (runtime less bf16): not settings."""
    runtime = config["images"][dataset]["runtime"]
    return untracked(**{key: runtime[key] for key in ("device", "channels_last", "compile",
                                                      "deterministic", "cpu_max_hours")})


def images_pretrain(config: Mapping, dataset: str, variant: str, seed: int) -> dict:
    section = config["images"][dataset]
    task, adversarial = IMAGE_VARIANTS[variant]
    stage = section[task]
    recipe = {key: stage[key] for key in ("batch", "optimizer", "schedule")}
    recipe["epochs"] = stage["epochs"]["adversarial" if adversarial else "clean"]
    settings = {"base_seed": config["base_seed"], "dataset": dataset, "variant": variant,
                "task": task, "adversarial": adversarial, "seed": int(seed),
                "model": section["model"], "recipe": recipe,
                "augment": _image_augment(section, "shift" if task == "supervised" else "views"),
                "bf16": section["runtime"]["bf16"]}
    if adversarial:
        settings["attack"] = stage["attack"]
    if task == "contrastive":
        recipe.update(temperature=stage["temperature"], projection_dim=stage["projection_dim"])
        settings["dual_bn"] = image_dual_bn(variant)
    else:  # model selection on the validation split (PGD for the adversarial variant)
        selection = {"every": stage["selection"]["every"]}
        if adversarial:
            selection["attack"] = stage["selection"]["attack"]
        settings["selection"] = selection
    return canonical(settings)


def _image_encoder(config: Mapping, dataset: str, variant: str, seed: int) -> dict:
    return {"base_seed": config["base_seed"], "dataset": dataset, "variant": variant,
            "seed": int(seed),
            "encoder": fingerprint(images_pretrain(config, dataset, variant, seed))}


def _image_heads(section: Mapping) -> dict:
    """What the clean linear heads read: the SLF recipe, the tasks and their augmentation."""
    heads = {"linear": section["linear"], "downstream": section["downstream"],
             "eval_batch": section["evaluation"]["batch"]}
    if section["linear"]["augment"]:
        heads["augment"] = _image_augment(section, "shift")
    return heads


def images_linear(config: Mapping, dataset: str, variant: str, seed: int) -> dict:
    section = config["images"][dataset]
    return canonical({**_image_encoder(config, dataset, variant, seed), **_image_heads(section),
                      "bf16": section["runtime"]["bf16"]})


def images_evaluate(config: Mapping, dataset: str, variant: str, seed: int) -> dict:
    section = config["images"][dataset]
    return canonical({**_image_encoder(config, dataset, variant, seed),
                      "heads": fingerprint(images_linear(config, dataset, variant, seed)),
                      "evaluation": section["evaluation"]})


def images_report(config: Mapping, dataset: str) -> dict:
    section = config["images"][dataset]
    return canonical({
        "dataset": dataset, "seeds": section["seeds"],
        "variants": [{"variant": name, "task": IMAGE_VARIANTS[name][0],
                      "adversarial": IMAGE_VARIANTS[name][1]} for name in section["variants"]],
        "tasks": list(section["downstream"]), "eps": section["evaluation"]["pgd"]["eps"],
        "confidence": config["claims"]["confidence"]})


def images_external(config: Mapping, dataset: str, name: str) -> dict:
    """A user-given encoder checkpoint through the same heads and evaluation."""
    section = config["images"][dataset]
    return canonical({"base_seed": config["base_seed"], "dataset": dataset, "name": name,
                      "branch": section["external"]["branch"], **_image_heads(section),
                      "evaluation": section["evaluation"], "bf16": section["runtime"]["bf16"]})
