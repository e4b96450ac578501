"""Robust accuracy as a sandwich: a certified lower bound below, the attacks' worst case above.

For every norm and eps of an ensemble grid, each network's per-sample robustness under the worst
case over the attack ensemble (``ensemble.worst_case``: the paper's FGM and PGD and adaptive PGD
through surrogate gradients), under the certified bound (``bounds.certified``), and after each
adaptive attack (cumulative, AutoAttack's sense). The adaptive attacks skip the samples the bound
certifies (nothing in the ball can break them; at small budgets that is most of the work); the
paper's attacks still try every sample, and a certified sample that one of them breaks would
mean a wrong bound or a wrong attack: the evaluation stops there rather than report it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import torch

from advpretrain.evaluation.bounds import certified
from advpretrain.evaluation.ensemble import WorstCase, worst_case

SPEC_KEYS = ("steps", "restarts", "surrogates")


def attack_spec(ensemble: Mapping, paper_pgd_steps: int, surrogates_key: str = "surrogates"
                ) -> dict:
    """The ``ensemble.worst_case`` / ``movement_attack`` spec of an ensemble setting."""
    return {"steps": ensemble["steps"], "restarts": ensemble["restarts"],
            "surrogates": list(ensemble[surrogates_key]), "paper_pgd_steps": paper_pgd_steps}


def sandwich_grid(nets, task, inputs: tuple, labels: torch.Tensor, ensemble: Mapping,
                  paper_pgd_steps: int, generator: torch.Generator,
                  paper_correct: Mapping[tuple, list] | None = None,
                  on_worst_case: Callable[[str, float, WorstCase], None] | None = None
                  ) -> Iterator[dict]:
    """Rows {"attack", "norm", "eps", "correct": (N, B)} for "worst_case", "certified" and
    "after_<surrogate>". ``paper_correct[(norm, eps)]``: per-sample correctness (N, B) on the
    same samples under attacks run elsewhere (the paper's grid, other random draws); the worst
    case counts them too, so it never exceeds any attack reported beside it.
    ``on_worst_case(norm, eps, found)``: called at every budget with the ensemble's own verdict
    and breaking inputs (``ensemble.WorstCase``), for measures of the attack's points."""
    spec = attack_spec(ensemble, paper_pgd_steps)
    paper_correct = paper_correct or {}
    for norm, grid in ensemble["eps_grid"].items():
        for eps in grid:
            start = time.perf_counter()
            # The bound first: the adaptive attacks then skip what it proves (at small budgets
            # most samples), the paper's attacks still try every sample.
            sure = certified(nets, inputs, labels, eps, norm)
            found = worst_case(nets, task, inputs, labels, eps, norm, spec, generator, proved=sure)
            if on_worst_case is not None:
                on_worst_case(norm, float(eps), found)
            robust = found.robust
            for correct in paper_correct.get((norm, float(eps)), ()):
                robust = robust & correct.bool()
            robust_share, sure_share = robust.float().mean(), sure.float().mean()
            print(f"[sandwich] {norm} eps {eps:g}: worst case {float(robust_share):.3f}, certified "
                  f"{float(sure_share):.3f} (mean over {len(nets.weight)} networks) | "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
            if bool((sure & ~robust).any()):
                raise AssertionError(f"{norm} eps {eps}: a certified sample was broken by an "
                                     "attack; the bound or the attack is wrong")
            masks = {"worst_case": robust, "certified": sure,
                     **{f"after_{name}": mask for name, mask in found.per_attack.items()
                        if name not in found.standalone}}
            for attack, mask in masks.items():
                yield {"attack": attack, "norm": norm, "eps": float(eps),
                       "correct": mask.to(inputs[0].dtype), "labels": labels}
