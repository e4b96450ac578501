"""Threshold study (the paper's open question on activations): where are purified layers truly
robust? For one gate threshold e, supervised pre-training of the study's variants (clean and
adversarial), clean downstream heads on the frozen layers, and the robust-accuracy sandwich
(certified bound, worst case over the attack ensemble, the paper's PGD) of both the pre-trained
networks and the downstream heads over the study's budgets. One job per threshold; the figure
sets them side by side (e x eps).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.model.networks import seed_of_network
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import train_networks
from advpretrain.simulation.heads import evaluate_heads, train_heads
from advpretrain.simulation.jobs import (
    activation_of,
    attack_frame,
    initial_networks,
    job_adversary,
    minibatch_sampler,
    trained_mask,
)


def threshold_study(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """study.csv: layer ("pretrained" or "downstream"), threshold, variant, seed, attack, norm,
    eps, accuracy."""
    architecture = plain(settings["architecture"])
    variants, n_seeds = plain(settings["variants"]), settings["n_seeds"]
    threshold = architecture["threshold"]
    seeds = {name: derive_seed(settings["base_seed"], "threshold_study", name, threshold)
             for name in ("pretrain", "twin", "heads", "evaluate")}
    generator = torch_generator(seeds["pretrain"])
    nets = initial_networks(architecture, n_seeds, variants, generator,
                            torch_generator(seeds["twin"]))
    data = load_data(inputs["data"])
    task = TASKS["supervised"]
    train_inputs, train_labels = task.inputs(data, "train")
    training = settings["training"]
    train_networks(
        nets, minibatch_sampler(train_inputs, train_labels,
                                seed_of_network(len(nets.weight), n_seeds), training["batch"]),
        task.loss, job_adversary(variants, n_seeds, training["attack_steps"],
                                 training["attack_surrogate"]),
        steps=training["steps"], lr=training["lr"], generator=generator,
        label=f"threshold study e={threshold:g}", log_every=training["log_every"],
        trained=trained_mask(variants, n_seeds))
    heads = train_heads(nets.weight.detach(), activation_of(architecture), settings["heads"],
                        data, torch_generator(seeds["heads"]), f"threshold study heads "
                        f"e={threshold:g}")
    evaluation = settings["evaluation"]
    labels = {"threshold": threshold}
    frames = [attack_frame(nets, task, data, variants, n_seeds, evaluation,
                           torch_generator(seeds["evaluate"]), labels).assign(layer="pretrained"),
              evaluate_heads(heads, data, variants, n_seeds, evaluation, seeds["evaluate"],
                             labels).assign(layer="downstream")]
    fileio.write_csv(outputs["csv"], pd.concat(frames, ignore_index=True))
    return {"seeds": seeds}
