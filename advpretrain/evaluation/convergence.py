"""Attacks that show they have converged: robust accuracy as the attack budget doubles.

An attack's robust accuracy is an upper bound that only a stronger attack can tighten; the figure
is trustworthy when doubling the attack no longer moves it. ``converging_attack`` runs an
ensemble at budget levels whose steps x restarts double from one level to the next (steps first,
then restarts), each level afresh with its own random starts:

- PGD through every surrogate of the spec (``surrogates``): ``adaptive.adaptive_pgd`` with the
  ensemble's "halving" step schedule (``adaptive.step_sizes``), each surrogate continuing the
  level's record (a sample broken stays broken and is not attacked again), each restart from a
  point drawn uniformly in the ball (``core.random_perturbation(..., uniform_ball=True)``; l2:
  radius eps U^(1/d), so starts are not crowded towards the centre; l_inf: the cube).
  A surrogate whose gradient is constant is refused: "ste" makes a gate, relu or symmetric relu
  network linear (gradient W^T a everywhere), so its restarts repeat one linear step.
- a gradient-free random search in the style of Square (Andriushchenko et al., ECCV 2020): from a
  vertex of the l_inf ball (a point of the l2 sphere), each query changes a random subset of
  coordinates (to +-eps for l_inf; by a Gaussian step of size about eps sqrt(p) for l2, projected
  back) and keeps the change when the true margin drops; the subset's share p halves on Square's
  schedule. Its queries per level double with the level too.

Every iterate is judged on the TRUE networks (the surrogates' forward values are theirs), and a
sample is broken when y * margin <= 0, as in ``ensemble``. A level's accuracy is the share of
samples no attack of that level broke; the cumulative accuracy the share no attack of any level
up to it broke, which is the strongest figure. A network has ``converged`` when the last doubling
lowers its cumulative accuracy by at most ``tolerance`` (0.005).

The spec is a plain mapping (a config entry), every key optional, see ``DEFAULT_CONVERGENCE``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import torch

from advpretrain.attack.pgd import as_budget, check_norm, project, steepest_step
from advpretrain.evaluation.adaptive import (
    SAMPLE_NDIM,
    AttackResult,
    adaptive_pgd,
    clean_result,
    keep_breaking,
    merged_spec,
)
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.surrogates import effective_surrogate, parse_surrogate

DEFAULT_CONVERGENCE = {"steps": 25, "restarts": 1, "doublings": 3,
                       "surrogates": ["own", "smooth_0.05", "smooth_0.1", "smooth_0.2",
                                      "smooth_0.5"],
                       "square_queries": 100, "tolerance": 0.005}
REQUIRED_TEMPERATURES = (0.1, 0.5)
# Square's schedule: the share p halves after these fractions of 10,000 queries.
SQUARE_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
SQUARE_SHARE = 0.1


def convergence_spec(spec: Mapping | None = None) -> dict:
    """``spec`` over ``DEFAULT_CONVERGENCE``, checked: at least three doublings, the smoothed
    temperatures 0.1 and 0.5 among the surrogates, no constant-gradient surrogate."""
    spec = merged_spec(spec, DEFAULT_CONVERGENCE, "convergence",
                       ("steps", "restarts", "square_queries"))
    temperatures = set()
    for surrogate in spec["surrogates"]:
        kind, temperature = parse_surrogate(surrogate)
        if kind == "ste":
            raise ValueError("the 'ste' surrogate has a constant gradient (W^T a) on every "
                             "thresholded activation; use 'own' or 'smooth_T'")
        temperatures.add(temperature)
    missing = [t for t in REQUIRED_TEMPERATURES if t not in temperatures]
    if missing:
        raise ValueError(f"the surrogates must include smooth_{missing[0]} "
                         f"(temperatures {list(REQUIRED_TEMPERATURES)})")
    if int(spec["doublings"]) < 3:
        raise ValueError(f"convergence needs at least 3 doublings, got {spec['doublings']}")
    return spec


def budget_levels(steps: int, restarts: int, doublings: int) -> list[tuple[int, int]]:
    """(steps, restarts) of each level: level k has 2^k times level 0's steps x restarts,
    doubling the steps and the restarts in turn, steps first."""
    levels = [(steps, restarts)]
    for k in range(doublings):
        steps, restarts = (steps * 2, restarts) if k % 2 == 0 else (steps, restarts * 2)
        levels.append((steps, restarts))
    return levels


def _random_directions(x: torch.Tensor, generator: torch.Generator | None,
                       mask: torch.Tensor | None = None) -> torch.Tensor:
    """Uniform directions (unit l2 norm over the last dimension), within ``mask``'s support."""
    direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return steepest_step(direction if mask is None else direction * mask, "l2", SAMPLE_NDIM)


def square_share(query: int, queries: int) -> float:
    """Square's share of coordinates changed at ``query`` of ``queries`` (its schedule
    rescaled from 10,000 queries)."""
    position = query * 10000 / max(queries, 1)
    return SQUARE_SHARE * 0.5 ** sum(position > mark for mark in SQUARE_HALVINGS)


def square_attack(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps,
                  norm: str, *, queries: int, best: AttackResult,
                  generator: torch.Generator | None = None) -> AttackResult:
    """Gradient-free random search in the style of Square (see the module docstring); updates
    and returns ``best``."""
    clean = tuple(x.detach() for x in inputs)
    budget = as_budget(eps, clean[0])
    d = clean[0].shape[-1]

    def margin_at(deltas):
        with torch.no_grad():
            return labels * task.margin(nets, *(x + delta for x, delta in zip(clean, deltas)))

    if norm == "linf":
        deltas = [torch.where(torch.rand(x.shape, generator=generator, device=x.device) < 0.5,
                              -1.0, 1.0).to(x.dtype) * budget for x in clean]
    else:
        deltas = [_random_directions(x, generator) * budget for x in clean]  # on the sphere
    current = margin_at(deltas)
    keep_breaking(best, current, tuple(x + delta for x, delta in zip(clean, deltas)))
    for query in range(queries):
        count = max(1, round(square_share(query, queries) * d))
        proposals = []
        for x, delta in zip(clean, deltas):
            # A random subset of `count` coordinates per sample.
            ranks = (torch.rand(x.shape, generator=generator, device=x.device)
                     .argsort(dim=-1).argsort(dim=-1))
            subset = (ranks < count).to(x.dtype)
            if norm == "linf":
                signs = torch.where(torch.rand(x.shape, generator=generator, device=x.device)
                                    < 0.5, -1.0, 1.0)
                proposal = delta * (1 - subset) + subset * signs.to(x.dtype) * budget
            else:
                step = _random_directions(x, generator, subset) * budget * math.sqrt(count / d)
                proposal = project(delta + step, budget, norm, SAMPLE_NDIM)
            proposals.append(proposal)
        margin = margin_at(proposals)
        better = margin < current
        deltas = [torch.where(better[..., None], new, old) for new, old in zip(proposals, deltas)]
        current = torch.where(better, margin, current)
        keep_breaking(best, margin, tuple(x + delta for x, delta in zip(clean, proposals)))
        if not bool((best.margin > 0).any()):
            break
    return best


@dataclass
class Convergence:
    """Per level (steps, restarts, square queries) and network: robust accuracies (levels, N);
    ``result`` is the strongest record, over every attack of every level."""

    levels: list[tuple[int, int, int]]
    accuracy: torch.Tensor  # (levels, N): robust against every attack of the level
    cumulative: torch.Tensor  # (levels, N): robust against every attack of every level so far
    converged: torch.Tensor  # (N,) bool: the last doubling moved the cumulative <= tolerance
    result: AttackResult

    @property
    def robust(self) -> torch.Tensor:
        return self.result.robust

    def frame(self) -> pd.DataFrame:
        """One row per level and network: level, steps, restarts, square_queries, network,
        accuracy, cumulative, converged (the network's flag)."""
        rows = []
        for level, (steps, restarts, queries) in enumerate(self.levels):
            for network in range(self.accuracy.shape[1]):
                rows.append({"level": level, "steps": steps, "restarts": restarts,
                             "square_queries": queries, "network": network,
                             "accuracy": float(self.accuracy[level, network]),
                             "cumulative": float(self.cumulative[level, network]),
                             "converged": bool(self.converged[network])})
        return pd.DataFrame(rows)


def converging_attack(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps,
                       norm: str, spec: Mapping | None = None,
                       generator: torch.Generator | None = None) -> Convergence:
    """Robust accuracy of every network at each budget level of ``spec`` (module docstring)."""
    check_norm(norm)
    spec = convergence_spec(spec)
    surrogates = list(dict.fromkeys(effective_surrogate(nets.activation, nets.threshold, s)
                                    for s in spec["surrogates"]))  # tanh, softplus: "own" once
    strongest = clean_result(nets, task, inputs, labels)
    levels, accuracy, cumulative = [], [], []
    for level, (steps, restarts) in enumerate(budget_levels(
            int(spec["steps"]), int(spec["restarts"]), int(spec["doublings"]))):
        queries = int(spec["square_queries"]) * 2**level
        best = clean_result(nets, task, inputs, labels)
        for surrogate in surrogates:
            best = adaptive_pgd(nets, task, inputs, labels, eps, norm, steps=steps,
                                surrogate=surrogate, restarts=restarts, step_rule="halving",
                                generator=generator, initial=best, uniform_ball=True)
        square_attack(nets, task, inputs, labels, eps, norm, queries=queries, best=best,
                      generator=generator)
        keep_breaking(strongest, best.margin, best.inputs)
        levels.append((steps, restarts, queries))
        accuracy.append(best.robust.to(torch.float64).mean(-1))
        cumulative.append(strongest.robust.to(torch.float64).mean(-1))
    accuracy, cumulative = torch.stack(accuracy), torch.stack(cumulative)
    return Convergence(levels, accuracy, cumulative,
                       has_converged(cumulative, float(spec["tolerance"])), strongest)


def has_converged(cumulative: torch.Tensor, tolerance: float) -> torch.Tensor:
    """(N,) bool from cumulative accuracies (levels, N): the last doubling lowered the figure by
    at most ``tolerance``."""
    if cumulative.shape[0] < 2:
        raise ValueError("convergence needs at least two budget levels")
    return (cumulative[-2] - cumulative[-1]) <= tolerance
