"""How far an attack moves the hidden representation (claim C2 as the paper words it: "the hidden
nodes are vulnerable"), and what that movement allows a linear head (Nern et al.).

Node movement: for each pre-trained layer, the perturbation in the ball that maximises
||h(z + delta) - h(z)||_2 (``ensemble.movement_attack``: adaptive, through surrogate gradients),
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

from . import fileio
from .canonical import plain
from .evaluation.bounds import movement_bound, transfer_robust
from .evaluation.ensemble import movement_attack
from .evaluation.sandwich import attack_spec
from .seeding import derive_seed, torch_generator
from .simulation import load_networks, test_inputs
from .sparse_coding import load_data
from .tables import label_columns
from .tasks import TASKS


def _spec(movement: Mapping) -> dict:
    return attack_spec(movement, paper_pgd_steps=1)


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
            found = movement_attack(nets, z, eps, norm, _spec(movement), generator)
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


def transfer_frame(heads, data: dict, variants: list[dict], n_seeds: int, transfer: Mapping,
                   generator: torch.Generator, measured: pd.DataFrame, labels: dict
                   ) -> pd.DataFrame:
    """Nern et al.'s criterion for every downstream head at ``transfer``'s norm and eps: the
    share of test samples it declares robust with the attacked and with the certified movement,
    beside the measured worst-case and certified accuracy (from ``measured``, the heads'
    attack frame)."""
    task = TASKS["downstream"]
    inputs, targets = test_inputs(task, data, len(heads.weight), n_seeds)
    z, targets = inputs[0][:, :transfer["samples"]], targets[:, :transfer["samples"]]
    norm, eps = transfer["norm"], transfer["eps"]
    with torch.no_grad():
        margins = targets * heads(z)
    head_norms = heads.head.detach().norm(dim=-1)
    moved = movement_attack(heads, z, eps, norm, _spec(transfer), generator).movement
    bound = movement_bound(heads, z, eps, norm)
    frame = label_columns(variants, n_seeds, **labels).assign(
        norm=norm, eps=float(eps), head_norm=head_norms.numpy(),
        movement=moved.mean(-1).numpy(), movement_bound=bound.float().mean(-1).numpy(),
        transfer_attacked=transfer_robust(margins, head_norms, moved).float().mean(-1).numpy(),
        transfer_certified=transfer_robust(margins.double(), head_norms.double(), bound
                                           ).float().mean(-1).numpy())
    at_reference = measured[(measured["norm"] == norm) & (measured["eps"] == float(eps))
                            & measured["attack"].isin(["worst_case", "certified"])]
    wide = at_reference.pivot_table(index=["variant", "seed"], columns="attack",
                                    values="accuracy").add_prefix("measured_").reset_index()
    return frame.merge(wide, on=["variant", "seed"], how="left")
