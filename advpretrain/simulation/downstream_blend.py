"""Study (a): clean heads on one pre-trained variant's layers blended toward their purified
version (``heads.blended_layer``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from advpretrain.core import fileio
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.model.sparse_coding import load_data
from advpretrain.simulation.heads import blended_layer, evaluate_heads, train_heads
from advpretrain.simulation.jobs import (
    load_networks,
)


def downstream_blend(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Clean heads on one pre-trained variant's layers blended toward their purified version."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    base, n_seeds = settings["base_variant"], stored["n_seeds"]
    activation = stored["architecture"]["activation"]
    data = load_data(inputs["data"])
    v = stored["variants"].index(base)
    weight = nets.weight.detach()[v * n_seeds:(v + 1) * n_seeds]
    blend = settings["blend"]
    weights = torch.cat([blended_layer(weight, data["dictionary"], t) for t in blend])
    blends = [{"variant": f"blend_{t:g}", "norm": "blend", "eps": float(t)} for t in blend]
    train_seed = derive_seed(settings["base_seed"], "downstream_blend", activation)
    heads = train_heads(weights, stored["architecture"], settings["heads"], data,
                        torch_generator(train_seed), f"downstream blend {activation}")
    eval_seed = derive_seed(settings["base_seed"], "downstream_blend_evaluate", activation)
    frame = evaluate_heads(heads, data, blends, n_seeds, settings["evaluation"], eval_seed,
                           {"task": "supervised", "activation": activation})
    frame = frame.rename(columns={"train_eps": "blend"}).drop(columns="train_norm")
    frame.insert(frame.columns.get_loc("blend"), "base_variant", base)
    fileio.write_csv(outputs["csv"], frame)
    return {"seeds": {"train_seed": train_seed, "attack_seed": eval_seed}}
