"""The paper's attacks (FGM, PGD with the networks' own gradient) over a grid of norms and budgets.

``attack_grid`` yields, for every attack, norm and eps, each network's per-sample loss and
correctness; callers reduce them (mean over samples, or split by contrastive pair type).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import torch

from advpretrain.attack.pgd import perturb, pgd_step_size

LossFn = Callable[..., torch.Tensor]


def attacked_inputs(loss_fn: LossFn, inputs: tuple, eps: float, norm: str, attack: str,
                    pgd_steps: int, sample_ndim: int, generator: torch.Generator | None = None,
                    bounds: tuple[float, float] | None = None) -> tuple:
    """Inputs under the named attack ("fgm" or "pgd", the usual step 2.5 eps / steps, random
    start), or unchanged for eps = 0."""
    if eps == 0:
        return tuple(x.detach() for x in inputs)
    if attack == "fgm":
        return perturb(loss_fn, inputs, eps, norm, steps=1, sample_ndim=sample_ndim,
                       bounds=bounds)
    return perturb(loss_fn, inputs, eps, norm, steps=pgd_steps,
                   step_size=pgd_step_size(eps, pgd_steps), random_start=True,
                   sample_ndim=sample_ndim, bounds=bounds, generator=generator)


def attack_grid(loss_fn: LossFn, margin_fn: LossFn, inputs: tuple, labels: torch.Tensor,
                eps_grid: Mapping[str, Sequence[float]], attacks: Sequence[str], pgd_steps: int,
                generator: torch.Generator) -> Iterator[dict]:
    """Per-sample loss and correctness of every network under every attack, norm and eps.

    loss_fn(*inputs, labels) -> per-sample losses (N, B); margin_fn(*inputs) -> scores whose
    sign is the prediction. Inputs are (N, B, d) tensors: each network has its own samples.
    Yields {"attack", "norm", "eps", "loss": (N, B), "correct": (N, B)}.
    """
    for attack in attacks:
        for norm, grid in eps_grid.items():
            for eps in grid:
                adversarial = attacked_inputs(lambda *x: loss_fn(*x, labels), inputs, eps, norm,
                                              attack, pgd_steps, 2, generator)
                with torch.no_grad():
                    loss = loss_fn(*adversarial, labels)
                    correct = (margin_fn(*adversarial) * labels > 0).to(loss.dtype)
                yield {"attack": attack, "norm": norm, "eps": float(eps), "loss": loss,
                       "correct": correct}
