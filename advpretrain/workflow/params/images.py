"""Params builders of the real-image rules (claim C6): one section per data set (config key
images.<dataset>); every rule has a {dataset} wildcard.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from advpretrain.core.canonical import canonical, fingerprint
from advpretrain.workflow.image_branch import VARIANTS as IMAGE_VARIANTS
from advpretrain.workflow.image_branch import dual_bn as image_dual_bn
from advpretrain.workflow.params.common import untracked


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
        "pgd_steps": section["evaluation"]["pgd"]["steps"],
        "square_queries": section["evaluation"].get("square_queries"),
        "confidence": config["claims"]["confidence"]})


def images_external(config: Mapping, dataset: str, name: str) -> dict:
    """A user-given encoder checkpoint through the same heads and evaluation."""
    section = config["images"][dataset]
    return canonical({"base_seed": config["base_seed"], "dataset": dataset, "name": name,
                      "branch": section["external"]["branch"], **_image_heads(section),
                      "evaluation": section["evaluation"], "bf16": section["runtime"]["bf16"]})
