"""Downstream stage (claim C5): a new head, trained CLEAN, on each frozen pre-trained hidden layer.

The downstream task is Y' = sign(gamma^T X) with gamma independent of the pre-training beta and
fewer training samples (the ``downstream_*`` arrays of each seed's data file). Every network of a
pre-training job gets its own head, all trained at once (``training.train_networks`` with zero
attack budgets); the hidden layer W is a buffer, so the head is the only trainable parameter.

Baselines (``downstream_baselines``), all on the same downstream data and grid:
- ``random``: the frozen hidden layer is the pre-training initialisation itself
  (``TwoLayerNets.initial_parameters`` with the supervised pre-training job's seed), i.e. the
  pre-trained networks' common starting point, never trained;
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

import pandas as pd
import torch

from . import fileio
from .measures import feature_coefficients, node_measures
from .networks import TwoLayerNets
from .seeding import derive_seed, torch_generator
from .simulation import (Supervised, evaluate_robustness, job_variants, load_data, load_networks,
                         minibatch_sampler)
from .training import Adversary, train_networks


class Downstream(Supervised):
    """The downstream task: logistic loss on Y' f(Z) with Y' = sign(gamma^T X)."""

    prefix = "downstream"


DOWNSTREAM = Downstream()
NO_TRAINING = {"norm": "none", "eps": 0.0}  # label columns of layers that had no attack


class FrozenHiddenNets(TwoLayerNets):
    """Two-layer networks whose hidden layer W is a fixed buffer: only the head ``a`` trains."""

    def __init__(self, weight, activation, threshold, head=None, score_scale=1.0):
        head = torch.zeros(weight.shape[:2], dtype=weight.dtype) if head is None else head
        super().__init__(weight, head, activation, threshold, score_scale)
        del self.weight
        self.register_buffer("weight", weight.detach().clone())


def seed_index(n_networks, n_seeds):
    """Seed of each network in the variant-major stacking (network i is on seed i % S)."""
    return torch.arange(n_networks) % n_seeds


def train_heads(weight, activation, sim, data, generator, label):
    """Clean training of a fresh (zero) head on each frozen layer; weight is (N, H, d), N = V * S."""
    down, net = sim["downstream"], sim["network"]
    n_seeds = data["downstream_train_y"].shape[0]
    nets = FrozenHiddenNets(weight, activation, net["threshold"],
                            score_scale=net["score_scale"])
    inputs, labels = DOWNSTREAM.inputs(data, "train")
    zero = torch.zeros(weight.shape[0])
    train_networks(nets, minibatch_sampler(inputs, labels, seed_index(len(weight), n_seeds),
                                           down["batch"]),
                   DOWNSTREAM.loss, Adversary(eps_l2=zero, eps_linf=zero), steps=down["steps"],
                   lr=down["lr"], generator=generator, label=label,
                   log_every=sim["training"]["log_every"])
    return nets


def mean_purity(weight, dictionary, dead_relative_norm):
    """Mean purity over the live nodes of each network, (N,)."""
    with torch.no_grad():
        measures = node_measures(feature_coefficients(weight, dictionary), dead_relative_norm)
    live = (~measures["dead"]).to(weight.dtype)
    return (measures["purity"] * live).sum(-1) / live.sum(-1).clamp_min(1)


def evaluate_heads(nets, data, variants, n_seeds, sim, seed, labels):
    """Downstream test robustness grid of every network, plus its hidden layer's mean purity."""
    evaluation = sim["evaluation"]
    frame = evaluate_robustness(nets, DOWNSTREAM, data, variants, n_seeds, evaluation,
                                torch_generator(seed), labels)
    dictionary = data["dictionary"][seed_index(len(nets.weight), n_seeds)]
    purity = mean_purity(nets.weight.detach(), dictionary, evaluation["dead_relative_norm"])
    frame["mean_purity"] = _per_row(frame, purity, variants, n_seeds)
    return frame


def _per_row(frame, values, variants, n_seeds):
    """Spread per-network values (N,) onto the rows of a labelled frame."""
    position = {v["variant"]: i for i, v in enumerate(variants)}
    network = frame["variant"].map(position).to_numpy() * n_seeds + frame["seed"].to_numpy()
    return values.numpy()[network]


def _write(out_csv, meta_path, frame, seeds, section):
    fileio.write_csv(out_csv, frame)
    fileio.write_json(meta_path, fileio.provenance(seeds, section, [out_csv]))


# ---------------------------------------------------------------- heads on pre-trained layers

def downstream(config, data_paths, model_path, task_name, activation, out_csv, meta_path):
    """Clean heads on every pre-trained network of one job; robustness on the downstream task."""
    sim = config["simulation"]
    variants = job_variants(config, task_name, activation)
    nets, stored = load_networks(model_path, config, variants)
    data = load_data(data_paths)
    train_seed = derive_seed(config["base_seed"], "downstream", task_name, activation)
    heads = train_heads(nets.weight.detach(), activation, sim, data, torch_generator(train_seed),
                        f"downstream heads {task_name}/{activation}")
    eval_seed = derive_seed(config["base_seed"], "downstream_evaluate", task_name, activation)
    frame = evaluate_heads(heads, data, variants, stored["n_seeds"], sim, eval_seed,
                           {"task": task_name, "activation": activation})
    _write(out_csv, meta_path, frame, {"train_seed": train_seed, "attack_seed": eval_seed},
           {"downstream": sim["downstream"], "evaluation": sim["evaluation"],
            "variants": variants})


# ---------------------------------------------------------------- baselines

def initial_layer(config, activation, n_seeds):
    """The supervised pre-training job's initial hidden layer (one per seed), (S, H, d)."""
    sim = config["simulation"]
    seed = derive_seed(config["base_seed"], "pretrain", "supervised", activation)
    weight, head = TwoLayerNets.initial_parameters(
        n_seeds, sim["network"]["hidden"], sim["data"]["d"], sim["network"]["init_scale"],
        torch_generator(seed))
    return weight, head


def purified_layer(dictionary, hidden, scale=1.0):
    """Perfectly purified layers (S, H, d): node h reads s_h M_j, j = h mod d, s_h = (-1)^(h // d)."""
    d = dictionary.shape[-1]
    nodes = torch.arange(hidden)
    signs = 1.0 - 2.0 * ((nodes // d) % 2).to(dictionary.dtype)
    # M's columns are the features; row h of W is column j(h) of M (transposed), signed.
    return scale * signs[None, :, None] * dictionary.transpose(1, 2)[:, nodes % d, :]


def blended_layer(weight, dictionary, t):
    """Each node moved toward its own main feature: (1 - t) w_h + t ||w_h|| s_h M_j(h)."""
    coefficients = feature_coefficients(weight, dictionary)  # (N, H, d)
    main = coefficients.abs().argmax(-1)  # (N, H)
    sign = torch.sign(torch.gather(coefficients, -1, main[..., None]))  # (N, H, 1)
    features = torch.gather(dictionary.transpose(1, 2), 1,
                            main[..., None].expand(-1, -1, dictionary.shape[1]))  # (N, H, d)
    target = weight.norm(dim=-1, keepdim=True) * sign * features
    return (1 - t) * weight + t * target


def downstream_baselines(config, data_paths, activation, out_csv, meta_path):
    """Random frozen layer, perfectly purified layer (clean heads) and end-to-end adversarial."""
    sim = config["simulation"]
    down, net = sim["downstream"], sim["network"]
    data = load_data(data_paths)
    n_seeds = data["downstream_train_y"].shape[0]
    init_weight, init_head = initial_layer(config, activation, n_seeds)
    purified = purified_layer(data["dictionary"], net["hidden"], down["purified_scale"])
    frozen = [{"variant": "random", **NO_TRAINING}, {"variant": "purified", **NO_TRAINING}]
    labels = {"task": "baseline", "activation": activation}
    train_seed = derive_seed(config["base_seed"], "downstream_baselines", activation)
    generator = torch_generator(train_seed)
    heads = train_heads(torch.cat([init_weight, purified]), activation, sim, data, generator,
                        f"downstream baselines (frozen) {activation}")
    eval_seed = derive_seed(config["base_seed"], "downstream_baselines_evaluate", activation)
    frames = [evaluate_heads(heads, data, frozen, n_seeds, sim, eval_seed, labels)]

    e2e = down["end_to_end"]
    attack = sim["pretrain_variants"][e2e["variant"]]
    nets = TwoLayerNets(init_weight, init_head, activation, net["threshold"], net["score_scale"])
    budget = torch.full((n_seeds,), float(attack["eps"]))
    zero = torch.zeros(n_seeds)
    inputs, targets = DOWNSTREAM.inputs(data, "train")
    train_networks(
        nets, minibatch_sampler(inputs, targets, seed_index(n_seeds, n_seeds), down["batch"]),
        DOWNSTREAM.loss,
        Adversary(eps_l2=budget if attack["norm"] == "l2" else zero,
                  eps_linf=budget if attack["norm"] == "linf" else zero,
                  steps=sim["training"]["attack_steps"]),
        steps=e2e["steps"], lr=e2e["lr"], generator=generator,
        label=f"downstream end-to-end {e2e['variant']} {activation}",
        log_every=sim["training"]["log_every"])
    frames.append(evaluate_heads(nets, data, [{"variant": "end_to_end", **attack}], n_seeds, sim,
                                 eval_seed, labels))
    _write(out_csv, meta_path, pd.concat(frames, ignore_index=True),
           {"init_seed": derive_seed(config["base_seed"], "pretrain", "supervised", activation),
            "train_seed": train_seed, "attack_seed": eval_seed},
           {"downstream": down, "evaluation": sim["evaluation"], "network": net})


# ---------------------------------------------------------------- study (a): degree of purification

def downstream_blend(config, data_paths, model_path, activation, out_csv, meta_path):
    """Clean heads on the clean pre-trained layer blended toward its own purified version."""
    sim = config["simulation"]
    clean = config["claims"]["clean_variant"]
    variants = job_variants(config, "supervised", activation)
    nets, stored = load_networks(model_path, config, variants)
    n_seeds = stored["n_seeds"]
    data = load_data(data_paths)
    v = [x["variant"] for x in variants].index(clean)
    weight = nets.weight.detach()[v * n_seeds:(v + 1) * n_seeds]
    weights = torch.cat([blended_layer(weight, data["dictionary"], t)
                         for t in sim["downstream"]["blend"]])
    blends = [{"variant": f"blend_{t:g}", "norm": "blend", "eps": float(t)}
              for t in sim["downstream"]["blend"]]
    train_seed = derive_seed(config["base_seed"], "downstream_blend", activation)
    heads = train_heads(weights, activation, sim, data, torch_generator(train_seed),
                        f"downstream blend {activation}")
    eval_seed = derive_seed(config["base_seed"], "downstream_blend_evaluate", activation)
    frame = evaluate_heads(heads, data, blends, n_seeds, sim, eval_seed,
                           {"task": "supervised", "activation": activation})
    frame = frame.rename(columns={"train_eps": "blend"}).drop(columns="train_norm")
    frame.insert(frame.columns.get_loc("blend"), "base_variant", clean)
    _write(out_csv, meta_path, frame, {"train_seed": train_seed, "attack_seed": eval_seed},
           {"downstream": sim["downstream"], "evaluation": sim["evaluation"],
            "clean_variant": clean})
