"""Adaptive attacks on the true networks and the per-sample worst case over an ensemble of them.

A robust accuracy is only as good as the strongest attack behind it (RobustBench / AutoAttack):
here a sample counts as robust when NO attack of an ensemble breaks it, where the ensemble holds
the paper's attacks (FGM and PGD with the networks' own gradient) and adaptive PGD through the
backward-pass surrogates of ``surrogates`` (straight-through, smoothed gates), each with restarts.
Every attack evaluates the TRUE networks after every step and keeps, per sample, the first
perturbation that breaks it (AutoAttack's bookkeeping); a sample is broken when y * margin <= 0,
the paper's accuracy counting margin > 0 as correct.

Budgets follow ``core.perturb``: eps is a scalar or a per-network (N,) tensor, inputs are
(N, B, d) and every member of a contrastive pair gets its own ball of radius eps, attacked jointly.

The ensemble is specified by a plain mapping (a config entry), every key optional::

    {"steps": 50,               # steps of each adaptive attack
     "restarts": 2,             # runs of each adaptive attack, each from a random point
     "surrogates": ["own", "ste", "smooth_0.05", "smooth_0.2"],   # see ``surrogates``
     "paper_pgd_steps": 10,     # the paper's PGD (own gradient, 2.5 eps / steps, random start)
     "skip_broken": True}       # adaptive attacks run only on samples no earlier attack broke

The attacks run in the order FGM, the paper's PGD, then the surrogates as listed; a surrogate that
is its activation's own gradient again (tanh, softplus) runs once, under the name "own". FGM and
PGD are the workflow's (``grid.attacked_inputs``), except that every iterate is judged, not only
the last, and that a sample the networks get wrong unperturbed counts as broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from advpretrain.evaluation.adaptive import AttackResult, adaptive_pgd, keep_breaking, merged_spec
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.surrogates import effective_surrogate, parse_surrogate

DEFAULT_ENSEMBLE = {"steps": 50, "restarts": 2,
                    "surrogates": ["own", "ste", "smooth_0.05", "smooth_0.2"],
                    "paper_pgd_steps": 10, "skip_broken": True}


@dataclass(frozen=True)
class PlannedAttack:
    name: str
    surrogate: str
    steps: int
    restarts: int
    step_rule: str
    random_start: bool
    paper: bool  # one of the paper's attacks: always run on every sample


def ensemble_spec(spec: Mapping | None = None) -> dict:
    """``spec`` over ``DEFAULT_ENSEMBLE``, checked."""
    spec = merged_spec(spec, DEFAULT_ENSEMBLE, "ensemble", ("steps", "restarts", "paper_pgd_steps"))
    for surrogate in spec["surrogates"]:
        parse_surrogate(surrogate)
    return spec


def ensemble_plan(spec: Mapping | None, activation: str, threshold: float
                  ) -> list[PlannedAttack]:
    """The attacks of an ensemble for one activation, in order, duplicates dropped."""
    spec = ensemble_spec(spec)
    plan = [PlannedAttack("fgm", "own", 1, 1, "halving", False, True),
            PlannedAttack("pgd", "own", int(spec["paper_pgd_steps"]), 1, "madry", True, True)]
    for surrogate in dict.fromkeys(effective_surrogate(activation, threshold, s)
                                   for s in spec["surrogates"]):
        plan.append(PlannedAttack(surrogate, surrogate, int(spec["steps"]),
                                  int(spec["restarts"]), "halving", True, False))
    return plan


@dataclass
class WorstCase:
    """The ensemble's verdict per sample, and each attack's robust mask (N, B).

    ``per_attack[name]`` is standalone (the attack alone, on every sample) for the names in
    ``standalone``: the paper's attacks always, every attack without ``skip_broken``. With it, an
    adaptive attack's mask is cumulative (robust against it and every attack before it), so its
    mean is the accuracy after that attack, in AutoAttack's sense.
    """

    result: AttackResult  # the first breaking (else lowest-margin) inputs over all attacks
    per_attack: dict[str, torch.Tensor]
    standalone: frozenset[str]

    @property
    def robust(self) -> torch.Tensor:
        return self.result.robust


def run_planned(attack: PlannedAttack, nets: TwoLayerNets, task, inputs: tuple,
                labels: torch.Tensor, eps, norm: str, generator: torch.Generator | None,
                **options) -> AttackResult:
    """One attack of an ensemble plan (``adaptive_pgd`` with its steps, surrogate, restarts,
    step rule and start); ``options``: adaptive_pgd's bookkeeping keywords."""
    return adaptive_pgd(nets, task, inputs, labels, eps, norm, steps=attack.steps,
                        surrogate=attack.surrogate, restarts=attack.restarts,
                        step_rule=attack.step_rule, random_start=attack.random_start,
                        generator=generator, **options)


def worst_case(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps, norm: str,
               spec: Mapping | None = None, generator: torch.Generator | None = None,
               proved: torch.Tensor | None = None) -> WorstCase:
    """Per-sample conjunction over the ensemble of ``spec`` (see the module docstring).
    ``proved``: (N, B) bool, samples a certified bound proves robust; the adaptive attacks skip
    them (the paper's attacks still run on every sample, so a wrong bound still shows)."""
    spec = ensemble_spec(spec)
    overall, per_attack, standalone = None, {}, set()
    for attack in ensemble_plan(spec, nets.activation, nets.threshold):
        continues = overall is not None and spec["skip_broken"] and not attack.paper
        result = run_planned(attack, nets, task, inputs, labels, eps, norm, generator,
                             initial=overall if continues else None,
                             proved=proved if continues else None)
        per_attack[attack.name] = result.robust
        if continues:
            overall = result
        else:
            standalone.add(attack.name)
            if overall is None:
                overall = result
            else:
                keep_breaking(overall, result.margin, result.inputs)
    return WorstCase(overall, per_attack, frozenset(standalone))


def lowest_margin(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps, norm: str,
                  spec: Mapping | None = None, generator: torch.Generator | None = None
                  ) -> AttackResult:
    """Per sample the lowest margin (so the highest logistic loss) over the ensemble of
    ``spec``, every attack run to its last step on every sample: the worst-case loss, for
    statistics of the loss rather than of accuracy (claim C4's pair losses)."""
    spec = ensemble_spec(spec)
    lowest = None
    for attack in ensemble_plan(spec, nets.activation, nets.threshold):
        result = run_planned(attack, nets, task, inputs, labels, eps, norm, generator,
                             until_broken=False)
        if lowest is None:
            lowest = result
        else:
            keep_breaking(lowest, result.margin, result.inputs, until_broken=False)
    return lowest
