"""Downstream baselines: a perfectly purified layer (a clean head) and end-to-end adversarial
training, on the same downstream data and grid (``heads``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.model.networks import seed_of_network
from advpretrain.model.sparse_coding import load_data, purified_layer
from advpretrain.model.training import train_networks
from advpretrain.simulation.heads import (
    DOWNSTREAM,
    NO_TRAINING,
    evaluate_heads,
    train_heads,
    transfer_frame,
)
from advpretrain.simulation.jobs import (
    activation_of,
    initial_networks,
    job_adversary,
    minibatch_sampler,
)


def downstream_baselines(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Perfectly purified layer (a clean head) and end-to-end adversarial training."""
    architecture = plain(settings["architecture"])
    activation = activation_of(architecture)
    data = load_data(inputs["data"])
    n_seeds = data["downstream_train_y"].shape[0]
    # The supervised pre-training job's networks start from this (its first variant's copies).
    init_seed = derive_seed(settings["base_seed"], "pretrain", "supervised",
                            architecture["activation"])
    initial = initial_networks(architecture, n_seeds, [{}], torch_generator(init_seed))
    purified = purified_layer(data["dictionary"], architecture["hidden"],
                              settings["purified_scale"])
    frozen = [{"variant": "purified", **NO_TRAINING}]
    labels = {"task": "baseline", "activation": architecture["activation"]}
    train_seed = derive_seed(settings["base_seed"], "downstream_baselines",
                             architecture["activation"])
    generator = torch_generator(train_seed)
    heads = train_heads(purified, activation, settings["heads"], data, generator,
                        f"downstream baselines (frozen) {architecture['activation']}")
    eval_seed = derive_seed(settings["base_seed"], "downstream_baselines_evaluate",
                            architecture["activation"])
    evaluation = settings["evaluation"]
    frames = [evaluate_heads(heads, data, frozen, n_seeds, evaluation, eval_seed, labels)]
    transfer_seed = derive_seed(settings["base_seed"], "transfer", "baselines",
                                architecture["activation"])
    transfer_generator = torch_generator(transfer_seed)
    transfers = [transfer_frame(heads, data, frozen, n_seeds, settings["transfer"],
                                transfer_generator, frames[0], labels)]

    e2e = settings["end_to_end"]
    attack = plain(e2e["attack"])
    inputs_, targets = DOWNSTREAM.inputs(data, "train")
    train_networks(
        initial, minibatch_sampler(inputs_, targets, seed_of_network(n_seeds, n_seeds),
                                   settings["heads"]["batch"]),
        DOWNSTREAM.loss, job_adversary([attack], n_seeds, e2e["attack_steps"],
                                       e2e["attack_surrogate"]),
        steps=e2e["steps"], lr=e2e["lr"], generator=generator,
        label=f"downstream end-to-end {architecture['activation']}",
        log_every=settings["heads"]["log_every"])
    end_to_end = [{"variant": "end_to_end", **attack}]
    frames.append(evaluate_heads(initial, data, end_to_end, n_seeds, evaluation, eval_seed,
                                 labels))
    transfers.append(transfer_frame(initial, data, end_to_end, n_seeds, settings["transfer"],
                                    transfer_generator, frames[1], labels))
    fileio.write_csv(outputs["csv"], pd.concat(frames, ignore_index=True))
    fileio.write_csv(outputs["transfer"], pd.concat(transfers, ignore_index=True))
    return {"seeds": {"init_seed": init_seed, "train_seed": train_seed, "attack_seed": eval_seed,
                      "transfer_seed": transfer_seed}}
