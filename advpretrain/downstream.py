"""Downstream stage (claim C5): a new head, trained CLEAN, on each frozen pre-trained hidden layer.

The downstream task is Y' = sign(gamma^T X) with gamma independent of the pre-training beta and
fewer training samples (``tasks.Downstream``). Every network of a pre-training job gets its own
head, all trained at once (``training.train_networks`` with zero attack budgets); the hidden
layer W is a buffer, so the head is the only trainable parameter.

Baselines (``downstream_baselines``), on the same downstream data and grid (the untrained layer,
the pre-trained networks' common starting point, is the ``untrained`` control variant of every
pre-training job, so its heads come from ``downstream``):
- ``purified``: a perfectly purified layer built from the seed's dictionary M: node h reads
  s_h M_j(h) with j(h) = h mod d and s_h = +1 for the first d nodes, -1 for the next d, and so on
  (every feature covered; both signs when H >= 2d), rows of norm ``purified_scale``;
- ``end_to_end``: W and head trained together on the downstream data with the attack of the
  pre-training variant ``end_to_end.variant``, from the same initialisation.

Study (a) (``downstream_blend``): each node of the clean pre-trained layer is moved toward its own
main feature, w_h(t) = (1 - t) w_h + t ||w_h|| s_h M_j(h) (j(h) = argmax_j |C_hj|, s_h its sign),
so t sweeps the degree of purification from the clean layer (t = 0) to purity 1 (t = 1).

Every output row carries the network's ``mean_purity`` (mean over live nodes) so the studies can
plot robustness against purification from the CSV alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from . import fileio
from .canonical import plain
from .measures import feature_coefficients, firing_rates, mean_live_purity
from .movement import transfer_frame
from .networks import TwoLayerNets, seed_of_network
from .seeding import derive_seed, torch_generator
from .simulation import (
    activation_of,
    attack_frame,
    initial_networks,
    job_adversary,
    load_networks,
    minibatch_sampler,
    test_inputs,
)
from .sparse_coding import load_data
from .tasks import TASKS
from .training import train_networks

DOWNSTREAM = TASKS["downstream"]
NO_TRAINING = {"norm": "none", "eps": 0.0}  # label columns of layers that had no attack


class FrozenHiddenNets(TwoLayerNets):
    """Two-layer networks whose hidden layer W is a fixed buffer: only the head ``a`` trains."""

    def __init__(self, weight: torch.Tensor, **activation):
        super().__init__(weight, torch.zeros(weight.shape[:2], dtype=weight.dtype), **activation)
        del self.weight
        self.register_buffer("weight", weight.detach().clone())


def train_heads(weight: torch.Tensor, activation: Mapping, heads: Mapping, data: dict,
                generator: torch.Generator, label: str) -> FrozenHiddenNets:
    """Clean training of a fresh (zero) head on each frozen layer (N, H, d), N = V * S."""
    n_seeds = data["downstream_train_y"].shape[0]
    nets = FrozenHiddenNets(weight, **activation)
    inputs, labels = DOWNSTREAM.inputs(data, "train")
    clean = job_adversary([{"norm": "l2", "eps": 0.0}], len(weight))
    train_networks(nets, minibatch_sampler(inputs, labels, seed_of_network(len(weight), n_seeds),
                                           heads["batch"]),
                   DOWNSTREAM.loss, clean, steps=heads["steps"], lr=heads["lr"],
                   generator=generator, label=label, log_every=heads["log_every"])
    return nets


def evaluate_heads(nets: TwoLayerNets, data: dict, variants: list[dict], n_seeds: int,
                   evaluation: Mapping, seed: int, labels: dict) -> pd.DataFrame:
    """Downstream test robustness grid of every network, plus its hidden layer's mean purity
    over the nodes live on the downstream test inputs."""
    frame = attack_frame(nets, DOWNSTREAM, data, variants, n_seeds, evaluation,
                         torch_generator(seed), labels)
    inputs, _ = test_inputs(DOWNSTREAM, data, len(nets.weight), n_seeds)
    dictionary = data["dictionary"][seed_of_network(len(nets.weight), n_seeds)]
    with torch.no_grad():
        purity = mean_live_purity(feature_coefficients(nets.weight, dictionary),
                                  firing_rates(nets, inputs), evaluation["live_rate"])
    frame["mean_purity"] = per_row(frame, purity, variants, n_seeds)
    return frame


def per_row(frame: pd.DataFrame, values: torch.Tensor, variants: list[dict], n_seeds: int):
    """Spread per-network values (N,) onto the rows of a labelled frame."""
    position = {v["variant"]: i for i, v in enumerate(variants)}
    network = frame["variant"].map(position).to_numpy() * n_seeds + frame["seed"].to_numpy()
    return values.numpy()[network]


# ---------------------------------------------------------------- heads on pre-trained layers


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


# ---------------------------------------------------------------- baselines


def purified_layer(dictionary: torch.Tensor, hidden: int, scale: float = 1.0) -> torch.Tensor:
    """Perfectly purified layers (S, H, d): node h reads s_h M_j with j = h mod d and
    s_h = (-1)^(h // d)."""
    d = dictionary.shape[-1]
    nodes = torch.arange(hidden)
    signs = 1.0 - 2.0 * ((nodes // d) % 2).to(dictionary.dtype)
    # M's columns are the features; row h of W is column j(h) of M (transposed), signed.
    return scale * signs[None, :, None] * dictionary.transpose(1, 2)[:, nodes % d, :]


def blended_layer(weight: torch.Tensor, dictionary: torch.Tensor, t: float) -> torch.Tensor:
    """Each node moved toward its own main feature: (1 - t) w_h + t ||w_h|| s_h M_j(h)."""
    coefficients = feature_coefficients(weight, dictionary)  # (N, H, d)
    main = coefficients.abs().argmax(-1)  # (N, H)
    sign = torch.sign(torch.gather(coefficients, -1, main[..., None]))  # (N, H, 1)
    features = torch.gather(dictionary.transpose(1, 2), 1,
                            main[..., None].expand(-1, -1, dictionary.shape[1]))  # (N, H, d)
    target = weight.norm(dim=-1, keepdim=True) * sign * features
    return (1 - t) * weight + t * target


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
        DOWNSTREAM.loss, job_adversary([attack], n_seeds, e2e["attack_steps"]),
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


# ---------------------------------------------------------------- study (a): degree of purification


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
