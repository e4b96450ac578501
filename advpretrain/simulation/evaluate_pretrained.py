"""Evaluation of one pre-training job: node measures, the robustness table, heat-map coefficients;
for supervised jobs also the mechanism measures of the head and of the attack's own breaking
points at the reference budget (``model.measures``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.ensemble import WorstCase
from advpretrain.model.measures import (
    attack_mechanism,
    crossing_distance,
    feature_coefficients,
    firing_rates,
    functional_purity,
    head_weights,
    node_measures,
    summarise_nodes,
)
from advpretrain.model.networks import TwoLayerNets, per_network, seed_of_network
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.jobs import attack_frame, load_networks, test_inputs


def evaluate_nodes(nets: TwoLayerNets, dictionary: torch.Tensor, inputs: tuple, latents: tuple,
                   variants: list[dict], n_seeds: int, live_rate: float, reference: Mapping,
                   labels: dict) -> tuple[pd.DataFrame, torch.Tensor, dict]:
    """Per-node measures, firing rates and functional purity on ``inputs`` (whose latent X are
    ``latents``), each row's norm ||w_h||, its l2 ``effective_threshold`` and whether the
    ``reference`` budget ({"norm", "eps"}) reaches its threshold, tidy; the coefficients C = W M;
    and the per-node measures as (N, H) tensors."""
    with torch.no_grad():
        coefficients = feature_coefficients(
            nets.weight, dictionary[seed_of_network(len(nets.weight), n_seeds)])
        measures = node_measures(coefficients)
    measures["firing_rate"] = firing_rates(nets, inputs)
    measures["functional_purity"] = functional_purity(nets, inputs, latents,
                                                      measures["main_feature"])
    base = label_columns(variants, n_seeds, **labels)
    hidden = coefficients.shape[1]
    frame = base.loc[base.index.repeat(hidden)].reset_index(drop=True)
    frame["node"] = np.tile(np.arange(hidden), len(base))
    for name, values in measures.items():
        frame[name] = values.reshape(-1).numpy()
    frame["live"] = frame["firing_rate"] >= live_rate
    reach = {"row_norm": nets.weight.detach().norm(dim=-1),
             "effective_threshold": crossing_distance(nets),
             "reachable": crossing_distance(nets, reference["norm"]) <= reference["eps"]}
    for name, values in reach.items():
        frame[name] = values.reshape(-1).numpy()
    return frame, coefficients, measures


def coefficient_frame(coefficients: torch.Tensor, variants: list[dict],
                      n_seeds: int) -> pd.DataFrame:
    """|C| of every seed and variant, long format, for the heat maps (whose settings say which
    seed they draw: choosing another reruns the figure, not this evaluation)."""
    records = []
    for v, variant in enumerate(variants):
        for seed_index in range(n_seeds):
            matrix = coefficients[v * n_seeds + seed_index].abs().numpy()
            hidden, d = matrix.shape
            records.append(pd.DataFrame({"variant": variant["variant"], "seed": seed_index,
                                         "node": np.repeat(np.arange(hidden), d),
                                         "feature": np.tile(np.arange(d), hidden),
                                         "abs_coefficient": matrix.reshape(-1)}))
    return pd.concat(records, ignore_index=True)


def network_rows(values: Mapping[str, torch.Tensor], variants: list[dict], n_seeds: int,
                 labels: dict) -> pd.DataFrame:
    """Per-network measures ((N,) each) as rows of the node summary (long format)."""
    frame = label_columns(variants, n_seeds, **labels)
    keys = list(frame.columns)
    for name, value in values.items():
        frame[name] = value.numpy()
    return frame.melt(id_vars=keys, var_name="measure", value_name="value")


def broken_mechanism(nets: TwoLayerNets, task, inputs: tuple, targets: torch.Tensor,
                     latents: tuple, main_feature: torch.Tensor, found: WorstCase) -> dict:
    """``attack_mechanism`` of a supervised job's worst case ``found`` (on the first test
    samples of every network, as ``attack_frame`` attacks them), over the samples it broke that
    the networks classify correctly unperturbed (the others were never attacked)."""
    (attacked,) = found.result.inputs
    count = attacked.shape[1]
    clean, latent = inputs[0][:, :count], latents[0][:, :count]
    with torch.no_grad():
        correct = targets[:, :count] * task.margin(nets, clean) > 0
    return attack_mechanism(nets, clean, attacked, latent, main_feature,
                            ~found.robust & correct)


def evaluate_pretrained(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Node measures, robustness grid and heat-map coefficients of one pre-training job; in a
    supervised job's summary also the head's weight on impure and unused nodes and what the
    attack ensemble's breaking points at the reference budget do to the nodes."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    variants, evaluation = plain(settings["variants"]), settings["evaluation"]
    reference = settings["reference_budget"]
    n_seeds = stored["n_seeds"]
    data = load_data(inputs["data"])
    labels = {"task": settings["task"], "activation": stored["architecture"]["activation"]}
    task = TASKS[settings["objective"]]
    inputs, targets = test_inputs(task, data, len(nets.weight), n_seeds)
    latents = per_network(task.latents(data, "test"), seed_of_network(len(nets.weight), n_seeds))
    nodes, coefficients, measures = evaluate_nodes(nets, data["dictionary"], inputs, latents,
                                                   variants, n_seeds, evaluation["live_rate"],
                                                   reference, labels)
    supervised = settings["objective"] == "supervised"
    at_reference = {}

    def keep_reference(norm, eps, found):
        if norm == reference["norm"] and math.isclose(eps, reference["eps"]):
            at_reference["found"] = found

    seed = derive_seed(settings["base_seed"], "evaluate", settings["task"], labels["activation"])
    robustness = attack_frame(nets, task, data, variants, n_seeds, evaluation,
                              torch_generator(seed), labels,
                              on_worst_case=keep_reference if supervised else None)
    summary = summarise_nodes(nodes, data["dictionary"].shape[-1], evaluation["pure_threshold"])
    if supervised:
        live = measures["firing_rate"] >= evaluation["live_rate"]
        mechanism = {**head_weights(nets.head, measures["purity"], live,
                                    evaluation["pure_threshold"]),
                     **broken_mechanism(nets, task, inputs, targets, latents,
                                        measures["main_feature"], at_reference["found"])}
        summary = pd.concat([summary, network_rows(mechanism, variants, n_seeds, labels)],
                            ignore_index=True)
    fileio.write_csv(outputs["nodes"], nodes)
    fileio.write_csv(outputs["summary"], summary)
    fileio.write_csv(outputs["robustness"], robustness)
    fileio.write_csv(outputs["coefficients"], coefficient_frame(coefficients, variants, n_seeds))
    return {"seeds": {"attack_seed": seed}}
