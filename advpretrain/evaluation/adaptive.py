"""Adaptive PGD on the true networks: one attack through a surrogate's gradient, with
AutoAttack's bookkeeping (every iterate judged, the first breaking perturbation kept per
sample), compacted over the samples not broken yet and chunked for the CPU cache.
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
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.surrogates import SurrogateNets

SAMPLE_NDIM = 2  # inputs are (N, B, d): networks and samples, norms over d
CACHE_ELEMENTS = 1 << 21  # hidden-layer elements of a chunk of samples: 8 MiB of float32
STEP_RULES = ("madry", "halving")


def step_sizes(steps: int, rule: str) -> list[float]:
    """Each step's size as a multiple of eps.

    "madry": 2.5 / steps at every step, the paper's PGD (``attacks.pgd_step_size``).
    "halving" (the adaptive attacks): eps for the first quarter of the steps, then eps / 2,
    eps / 4 and eps / 8. Steps of the ball's size early let an attack cross the gate's jumps and
    leave the start's neighbourhood (Madry's 0.05 eps at 50 steps barely does), the halving then
    settles it; a fixed schedule needs no per-sample state, unlike APGD's conditional halving,
    and the per-step bookkeeping keeps the best iterate anyway. One step is FGM. (On gate
    networks adversarially trained on sparse-coding data, starting at 2 eps or eps / 2, a cosine
    decay or a constant eps / 4 broke the same samples to within a percent.)
    """
    if steps < 1:
        raise ValueError(f"an attack needs at least one step, got {steps}")
    if rule == "madry":
        return [2.5 / steps] * steps
    if rule == "halving":
        return [0.5 ** min(3, 4 * k // steps) for k in range(steps)]
    raise ValueError(f"unknown step rule {rule!r}; choose from {STEP_RULES}")


@dataclass
class AttackResult:
    """Per sample: ``margin`` y * margin of the true networks at ``inputs``, which are the first
    perturbed inputs that broke the sample (margin <= 0), or else the lowest-margin ones found."""

    margin: torch.Tensor  # (N, B)
    inputs: tuple[torch.Tensor, ...]  # each (N, B, d)

    @property
    def robust(self) -> torch.Tensor:
        """(N, B) bool: no attack so far broke the sample."""
        return self.margin > 0


def keep_breaking(best: AttackResult, margin: torch.Tensor, inputs: tuple,
                  until_broken: bool = True) -> None:
    """Keep ``inputs`` where they lower the margin of a sample that is not broken yet (with
    ``until_broken`` false: of any sample, the lowest margin found)."""
    better = margin < best.margin
    if until_broken:
        better = better & (best.margin > 0)
    best.margin = torch.where(better, margin, best.margin)
    best.inputs = tuple(torch.where(better[..., None], new, old)
                        for new, old in zip(inputs, best.inputs))


def _gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index if x.dim() == 2 else index[..., None].expand(-1, -1, x.shape[-1]))


def _scatter(x: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return x.scatter(1, index if x.dim() == 2 else index[..., None].expand(-1, -1, x.shape[-1]),
                     values)


def _take(result: AttackResult, index: torch.Tensor) -> AttackResult:
    return AttackResult(_gather(result.margin, index), tuple(_gather(x, index)
                                                             for x in result.inputs))


def _put(result: AttackResult, index: torch.Tensor, part: AttackResult) -> AttackResult:
    return AttackResult(_scatter(result.margin, index, part.margin),
                        tuple(_scatter(x, index, y) for x, y in zip(result.inputs, part.inputs)))


def sample_chunks(n_networks: int, n_samples: int, hidden: int) -> list[slice]:
    """Slices of the samples, each small enough that its hidden layer (N, rows, H) stays in cache.

    A step's elementwise work (activation, surrogate derivative, projection) is bound by memory
    traffic on CPU; attacking one chunk through all its steps before the next keeps its few live
    (N, rows, H) tensors in the last-level cache: at the paper's size on 2 threads a step took
    40 ms instead of 81 (own gradient) and 47 instead of 94 (smoothed gate), flat between a
    quarter and twice ``CACHE_ELEMENTS``. Finer chunks also stop earlier once all their samples
    are broken. Samples are independent: chunking changes only which random numbers each
    sample's random starts draw.
    """
    rows = max(1, CACHE_ELEMENTS // (n_networks * hidden))
    return [slice(start, min(start + rows, n_samples)) for start in range(0, n_samples, rows)]


def _unbroken_index(margin: torch.Tensor, proved: torch.Tensor | None = None
                    ) -> torch.Tensor | None:
    """(N, W) sample indices holding each network's unbroken samples first, W the largest count
    of any network (the rest pad with broken or proved ones, whose records then stay as they
    are); None when every sample is broken or proved robust."""
    unbroken = margin > 0
    if proved is not None:
        unbroken = unbroken & ~proved
    width = int(unbroken.sum(-1).max())
    if width == 0:
        return None
    return torch.argsort((~unbroken).to(torch.uint8), dim=-1, stable=True)[:, :width]


def clean_result(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor) -> AttackResult:
    """The unperturbed inputs' record: a sample the networks get wrong is broken already."""
    inputs = tuple(x.detach() for x in inputs)
    with torch.no_grad():
        return AttackResult(labels * task.margin(nets, *inputs), inputs)


def adaptive_pgd(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps, norm: str, *,
                 steps: int, surrogate: str = "own", restarts: int = 1,
                 step_rule: str = "halving", random_start: bool = True,
                 generator: torch.Generator | None = None,
                 initial: AttackResult | None = None, uniform_ball: bool = False,
                 proved: torch.Tensor | None = None, until_broken: bool = True) -> AttackResult:
    """PGD on the margin y * task.margin through a surrogate's gradient, judged on the true nets.

    Each step moves every perturbation by ``step_sizes(steps, step_rule)`` times eps along the
    steepest descent direction of the margin (normalised per sample, so this is the direction of
    the logistic loss too, without its vanishing gradient at large margins) and projects back
    onto the ball. Every restart starts at a random point of the ball (``random_start``; random
    starts broke more samples than a start at the clean input), or else at the clean input, and
    then restarts beyond one repeat it. ``uniform_ball``: l2 starts uniform in the ball
    (``core.random_perturbation``), not crowded towards its centre.

    The samples are attacked a chunk at a time (``sample_chunks``); within a chunk a restart runs
    only on the samples not broken yet, compacted to the largest count of any network, and stops
    once all are broken.

    initial: an earlier record to continue (an ensemble's state); its broken samples are kept as
    they are and not attacked again. Without it, the record starts at the clean inputs.
    proved: (N, B) bool, samples proved robust (a certified bound): not attacked, since no
    perturbation in the ball can break them; their records stay as they are.
    until_broken: false to attack every sample for every step and keep its lowest margin (the
    worst-case loss, for loss statistics), not the first perturbation that breaks it.
    """
    check_norm(norm)
    best = clean_result(nets, task, inputs, labels) if initial is None else initial
    clean = tuple(x.detach() for x in inputs)
    budget = as_budget(eps, clean[0])
    if not bool((budget > 0).any()):
        return best
    surrogate_nets = SurrogateNets(nets, surrogate)
    sizes = step_sizes(steps, step_rule)
    parts = []
    for rows in sample_chunks(*labels.shape, nets.weight.shape[1]):
        part = AttackResult(best.margin[:, rows], tuple(x[:, rows] for x in best.inputs))
        for _ in range(restarts):
            index = (_unbroken_index(part.margin, None if proved is None else proved[:, rows])
                     if until_broken else
                     torch.arange(part.margin.shape[1]).expand_as(part.margin))
            if index is None:
                break
            compact = _take(part, index)
            _pgd_run(surrogate_nets, task, tuple(_gather(x[:, rows], index) for x in clean),
                     _gather(labels[:, rows], index), budget, norm, sizes,
                     random_start=random_start, generator=generator, best=compact,
                     uniform_ball=uniform_ball, until_broken=until_broken)
            part = _put(part, index, compact)
        parts.append(part)
    return AttackResult(torch.cat([part.margin for part in parts], 1),
                        tuple(torch.cat(chunks, 1) for chunks in zip(*(p.inputs for p in parts))))


def _pgd_run(surrogate_nets: SurrogateNets, task, clean: tuple, labels: torch.Tensor,
             budget: torch.Tensor, norm: str, sizes: Sequence[float], *, random_start: bool,
             generator: torch.Generator | None, best: AttackResult,
             uniform_ball: bool = False, until_broken: bool = True) -> None:
    """One restart on (compacted) samples, updating ``best`` in place after every step."""
    deltas = [project(random_perturbation(x, budget, norm, SAMPLE_NDIM, generator,
                                          uniform_ball=uniform_ball)
                       if random_start else torch.zeros_like(x), budget, norm, SAMPLE_NDIM)
              for x in clean]
    def observe(negative_margin, perturbed):
        keep_breaking(best, -negative_margin, perturbed, until_broken)
        # a CPU reduction, no device sync to speak of
        return until_broken and not bool((best.margin > 0).any())

    # The surrogate's forward values are the true networks': the margin judges each iterate,
    # and its gradient (descended: the core ascends the negated margin) makes the next one.
    perturbed = pgd(lambda *x: -(labels * task.margin(surrogate_nets, *x)), clean, deltas,
                    budget, norm, [size * budget for size in sizes], sample_ndim=SAMPLE_NDIM,
                    observe=observe)
    if perturbed is None:  # every sample broken
        return
    with torch.no_grad():
        keep_breaking(best, labels * task.margin(surrogate_nets.nets, *perturbed), perturbed,
                      until_broken)


def merged_spec(spec: Mapping | None, defaults: Mapping, what: str, counts: tuple[str, ...]
                ) -> dict:
    """``spec`` over ``defaults``: unknown keys refused, each of ``counts`` at least 1."""
    spec = dict(spec or {})
    unknown = set(spec) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {what} keys {sorted(unknown)}; known: {sorted(defaults)}")
    spec = {**defaults, **spec}
    for key in counts:
        if int(spec[key]) < 1:
            raise ValueError(f"{what} {key} must be at least 1, got {spec[key]}")
    return spec
