"""How far an attack moves the hidden representation (claim C2 as the paper words it: "the hidden
nodes are vulnerable"), and what that movement allows a linear head (Nern et al.).

Node movement: for each pre-trained layer, the perturbation in the ball that maximises
||h(z + delta) - h(z)||_2 (``evaluation.movement.movement_attack``: adaptive, through surrogate
gradients),
its size against the certified upper bound (``bounds.movement_bound``), relative to the size of
the representation, and the share of nodes whose activity flips.

Transfer bound (Nern et al., NeurIPS 2023): a linear head a on h classifies a sample robustly if
its clean margin exceeds ||a||_2 times the representation's movement; with the attacked movement
an optimistic estimate (theirs), with the certified movement a sound lower bound.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.bounds import movement_bound
from advpretrain.evaluation.movement import movement_attack
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.jobs import load_networks, movement_spec, test_inputs


def node_movement(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """movement.csv: per network, norm and eps, the mean movement found by the attack, its
    certified bound, the mean representation norm, their ratio and the share of flipped nodes,
    on the test inputs (both members of a pair)."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    variants, n_seeds = plain(settings["variants"]), stored["n_seeds"]
    movement = settings["movement"]
    task = TASKS[settings["objective"]]
    test, _ = test_inputs(task, load_data(inputs["data"]), len(nets.weight), n_seeds)
    z = torch.cat([x[:, :movement["samples"]] for x in test], dim=1)
    activation = stored["architecture"]["activation"]
    seed = derive_seed(settings["base_seed"], "node_movement", settings["task"], activation)
    generator = torch_generator(seed)
    with torch.no_grad():
        size = nets.hidden(z).norm(dim=-1).mean(-1)
    base = label_columns(variants, n_seeds, task=settings["task"], activation=activation)
    frames = []
    for norm, grid in movement["eps_grid"].items():
        for eps in grid:
            start = time.perf_counter()
            found = movement_attack(nets, z, eps, norm, movement_spec(movement), generator)
            print(f"[movement] {norm} eps {eps:g} | {time.perf_counter() - start:.1f} s",
                  flush=True)
            bound = movement_bound(nets, z, eps, norm).float()
            moved = found.movement.mean(-1)
            frames.append(base.assign(
                norm=norm, eps=float(eps), movement=moved.numpy(),
                movement_bound=bound.mean(-1).numpy(), representation_norm=size.numpy(),
                relative_movement=(moved / size.clamp_min(1e-12)).numpy(),
                flip_share=found.flip_share.mean(-1).numpy()))
    fileio.write_csv(outputs["csv"], pd.concat(frames, ignore_index=True))
    return {"seeds": {"attack_seed": seed}}
