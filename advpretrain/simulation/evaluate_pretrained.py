"""Evaluation of one pre-training job: node measures, the robustness table, heat-map coefficients.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.model.measures import (
    feature_coefficients,
    firing_rates,
    functional_purity,
    node_measures,
    summarise_nodes,
)
from advpretrain.model.networks import TwoLayerNets, per_network, seed_of_network
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.jobs import attack_frame, load_networks, test_inputs


def evaluate_nodes(nets: TwoLayerNets, dictionary: torch.Tensor, inputs: tuple, latents: tuple,
                   variants: list[dict], n_seeds: int, live_rate: float, labels: dict
                   ) -> tuple[pd.DataFrame, torch.Tensor]:
    """Per-node measures, firing rates and functional purity on ``inputs`` (whose latent X are
    ``latents``), tidy; and the coefficients C = W M."""
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
    return frame, coefficients


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


def evaluate_pretrained(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Node measures, robustness grid and heat-map coefficients of one pre-training job."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    variants, evaluation = plain(settings["variants"]), settings["evaluation"]
    n_seeds = stored["n_seeds"]
    data = load_data(inputs["data"])
    labels = {"task": settings["task"], "activation": stored["architecture"]["activation"]}
    task = TASKS[settings["objective"]]
    inputs, _ = test_inputs(task, data, len(nets.weight), n_seeds)
    latents = per_network(task.latents(data, "test"), seed_of_network(len(nets.weight), n_seeds))
    nodes, coefficients = evaluate_nodes(nets, data["dictionary"], inputs, latents, variants,
                                         n_seeds, evaluation["live_rate"], labels)
    seed = derive_seed(settings["base_seed"], "evaluate", settings["task"], labels["activation"])
    robustness = attack_frame(nets, task, data, variants, n_seeds, evaluation,
                              torch_generator(seed), labels)
    fileio.write_csv(outputs["nodes"], nodes)
    fileio.write_csv(outputs["summary"], summarise_nodes(nodes, data["dictionary"].shape[-1],
                                                         evaluation["pure_threshold"]))
    fileio.write_csv(outputs["robustness"], robustness)
    fileio.write_csv(outputs["coefficients"], coefficient_frame(coefficients, variants, n_seeds))
    return {"seeds": {"attack_seed": seed}}
