"""The representation-movement attack: the perturbation in the ball that maximises
||h(z + delta) - h(z)||_2, through surrogate gradients, judged on the true networks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from advpretrain.attack.pgd import (
    as_budget,
    check_norm,
    pgd,
    project,
    random_perturbation,
)
from advpretrain.evaluation.adaptive import SAMPLE_NDIM, sample_chunks, step_sizes
from advpretrain.evaluation.ensemble import ensemble_spec
from advpretrain.model.networks import TwoLayerNets, active_nodes
from advpretrain.model.surrogates import SurrogateNets, effective_surrogate


@dataclass
class Movement:
    """Per sample (N, B): the largest ||h(z + delta) - h(z)||_2 found, the share of nodes whose
    activity (``active_nodes``) differs at that perturbation, and the perturbed input."""

    movement: torch.Tensor
    flip_share: torch.Tensor
    inputs: torch.Tensor  # (N, B, d)


def movement_attack(nets: TwoLayerNets, z: torch.Tensor, eps, norm: str,
                    spec: Mapping | None = None, generator: torch.Generator | None = None,
                    starts: Sequence[torch.Tensor] = ()) -> Movement:
    """Maximise the representation's movement over the ball: for every surrogate of ``spec``
    (duplicates dropped), ``restarts`` runs of ``steps`` ascent steps (the "halving" rule) from
    random points (the movement's gradient vanishes at delta = 0), plus one run from each of
    ``starts`` (perturbed inputs in the ball, e.g. an attack's); the worst over all, judged on
    the true networks after every step, a chunk of samples at a time (``sample_chunks``)."""
    check_norm(norm)
    spec = ensemble_spec(spec)
    z = z.detach()
    budget = as_budget(eps, z)
    movement, inputs = torch.zeros(z.shape[:2], dtype=z.dtype, device=z.device), z
    if bool((budget > 0).any()):
        sizes = step_sizes(int(spec["steps"]), "halving")
        views = [SurrogateNets(nets, surrogate) for surrogate in dict.fromkeys(
            effective_surrogate(nets.activation, nets.threshold, s) for s in spec["surrogates"])]
        parts = []
        for rows in sample_chunks(*z.shape[:2], nets.weight.shape[1]):
            clean = z[:, rows]
            with torch.no_grad():
                h0 = nets.hidden(clean)
            best = (movement[:, rows], clean)
            for view in views:
                runs = [random_perturbation(clean, budget, norm, SAMPLE_NDIM, generator)
                        for _ in range(int(spec["restarts"]))]
                for delta in runs + [start.detach()[:, rows] - clean for start in starts]:
                    best = _movement_run(view, clean, h0, project(delta, budget, norm,
                                                                   SAMPLE_NDIM),
                                         budget, norm, sizes, *best)
            parts.append(best)
        movement = torch.cat([part[0] for part in parts], 1)
        inputs = torch.cat([part[1] for part in parts], 1)
    with torch.no_grad():
        moved = torch.bmm(inputs, nets.weight.transpose(1, 2))
        clean = torch.bmm(z, nets.weight.transpose(1, 2))
        threshold = nets.node_threshold()
    flips = (active_nodes(moved, nets.activation, threshold)
             != active_nodes(clean, nets.activation, threshold))
    return Movement(movement, flips.to(z.dtype).mean(-1), inputs)


def _movement_run(surrogate_nets: SurrogateNets, z: torch.Tensor, h0: torch.Tensor,
                  delta: torch.Tensor, budget: torch.Tensor, norm: str, sizes: Sequence[float],
                  best_movement: torch.Tensor, best_inputs: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One ascent run; returns the updated per-sample best movement and its inputs."""

    def keep_better(movement, perturbed):
        better = movement > best_movement
        return (torch.where(better, movement, best_movement),
                torch.where(better[..., None], perturbed, best_inputs))

    def observe(squared, perturbed):
        nonlocal best_movement, best_inputs
        best_movement, best_inputs = keep_better(squared.sqrt(), perturbed[0])
        return False

    (perturbed,) = pgd(lambda x: (surrogate_nets.hidden(x) - h0).square().sum(-1), (z,), (delta,),
                       budget, norm, [size * budget for size in sizes], sample_ndim=SAMPLE_NDIM,
                       observe=observe)
    with torch.no_grad():
        squared = (surrogate_nets.nets.hidden(perturbed) - h0).square().sum(-1)
    return keep_better(squared.sqrt(), perturbed)
