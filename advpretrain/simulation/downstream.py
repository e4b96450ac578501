"""Claim C5: clean heads on every frozen pre-trained layer of one job (``heads``).
"""

from __future__ import annotations

from collections.abc import Mapping

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.model.sparse_coding import load_data
from advpretrain.simulation.heads import evaluate_heads, train_heads, transfer_frame
from advpretrain.simulation.jobs import (
    load_networks,
)


def downstream(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Clean heads on every pre-trained network of one job; robustness on the downstream task."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    data = load_data(inputs["data"])
    task, activation = settings["task"], stored["architecture"]["activation"]
    train_seed = derive_seed(settings["base_seed"], "downstream", task, activation)
    heads = train_heads(nets.weight.detach(), stored["architecture"], settings["heads"], data,
                        torch_generator(train_seed), f"downstream heads {task}/{activation}")
    eval_seed = derive_seed(settings["base_seed"], "downstream_evaluate", task, activation)
    variants, labels = plain(settings["variants"]), {"task": task, "activation": activation}
    frame = evaluate_heads(heads, data, variants, stored["n_seeds"], settings["evaluation"],
                           eval_seed, labels)
    fileio.write_csv(outputs["csv"], frame)
    transfer_seed = derive_seed(settings["base_seed"], "transfer", task, activation)
    fileio.write_csv(outputs["transfer"], transfer_frame(
        heads, data, variants, stored["n_seeds"], settings["transfer"],
        torch_generator(transfer_seed), frame, labels))
    return {"seeds": {"train_seed": train_seed, "attack_seed": eval_seed,
                      "transfer_seed": transfer_seed}}
