"""Adaptive attacks on the true networks and the per-sample worst case over an ensemble of them.

A robust accuracy is only as good as the strongest attack behind it (RobustBench / AutoAttack):
here a sample counts as robust when NO attack of an ensemble breaks it, where the ensemble holds
the paper's attacks (FGM and PGD with the networks' own gradient) and adaptive PGD through the
backward-pass surrogates of ``surrogates`` (straight-through, smoothed gates), each with restarts.
Every attack evaluates the TRUE networks after every step and keeps, per sample, the first
perturbation that breaks it (AutoAttack's bookkeeping); a sample is broken when y * margin <= 0,
the paper's accuracy counting margin > 0 as correct.

Budgets follow ``attacks.perturb``: eps is a scalar or a per-network (N,) tensor, inputs are
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..networks import TwoLayerNets
from .attacks import NORMS, _project, _random_start, steepest_step
from .surrogates import SurrogateNets, effective_surrogate, parse_surrogate

DEFAULT_ENSEMBLE = {"steps": 50, "restarts": 2,
                    "surrogates": ["own", "ste", "smooth_0.05", "smooth_0.2"],
                    "paper_pgd_steps": 10, "skip_broken": True}
STEP_RULES = ("madry", "halving")
SAMPLE_NDIM = 2  # inputs are (N, B, d): networks and samples, norms over d
CACHE_ELEMENTS = 1 << 21  # hidden-layer elements of a chunk of samples: 8 MiB of float32


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


def active_nodes(v: torch.Tensor, activation: str, threshold: float) -> torch.Tensor:
    """Which nodes are on at pre-activations v: |v| >= e (gate), v > e (relu), |v| > e
    (symmetric relu); tanh and softplus have no threshold, there "on" is the sign v > 0."""
    if activation == "gate":
        return v.abs() >= threshold
    if activation == "relu":
        return v > threshold
    if activation == "symmetric_relu":
        return v.abs() > threshold
    return v > 0


# ---------------------------------------------------------------- bookkeeping


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


def _record(best: AttackResult, margin: torch.Tensor, inputs: tuple) -> None:
    """Keep ``inputs`` where they lower the margin of a sample that is not broken yet."""
    better = (margin < best.margin) & (best.margin > 0)
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


def _unbroken_index(margin: torch.Tensor) -> torch.Tensor | None:
    """(N, W) sample indices holding each network's unbroken samples first, W the largest count
    of any network (the rest pad with broken ones, whose records then stay as they are); None
    when every sample is broken."""
    unbroken = margin > 0
    width = int(unbroken.sum(-1).max())
    if width == 0:
        return None
    return torch.argsort((~unbroken).to(torch.uint8), dim=-1, stable=True)[:, :width]


def _budget(eps, like: torch.Tensor) -> torch.Tensor:
    """eps as a tensor broadcasting against (N, B, d): a scalar, or (N, 1, 1) per network."""
    eps = torch.as_tensor(eps, dtype=like.dtype, device=like.device)
    return eps.reshape(-1, 1, 1) if eps.dim() else eps


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown attack norm {norm!r}; choose from {NORMS}")


# ---------------------------------------------------------------- one adaptive attack


def clean_result(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor) -> AttackResult:
    """The unperturbed inputs' record: a sample the networks get wrong is broken already."""
    inputs = tuple(x.detach() for x in inputs)
    with torch.no_grad():
        return AttackResult(labels * task.margin(nets, *inputs), inputs)


def adaptive_pgd(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps, norm: str, *,
                 steps: int, surrogate: str = "own", restarts: int = 1,
                 step_rule: str = "halving", random_start: bool = True,
                 generator: torch.Generator | None = None,
                 initial: AttackResult | None = None) -> AttackResult:
    """PGD on the margin y * task.margin through a surrogate's gradient, judged on the true nets.

    Each step moves every perturbation by ``step_sizes(steps, step_rule)`` times eps along the
    steepest descent direction of the margin (normalised per sample, so this is the direction of
    the logistic loss too, without its vanishing gradient at large margins) and projects back
    onto the ball. Every restart starts at a random point of the ball (``random_start``; random
    starts broke more samples than a start at the clean input), or else at the clean input, and
    then restarts beyond one repeat it.

    The samples are attacked a chunk at a time (``sample_chunks``); within a chunk a restart runs
    only on the samples not broken yet, compacted to the largest count of any network, and stops
    once all are broken.

    initial: an earlier record to continue (an ensemble's state); its broken samples are kept as
    they are and not attacked again. Without it, the record starts at the clean inputs.
    """
    _check_norm(norm)
    best = clean_result(nets, task, inputs, labels) if initial is None else initial
    clean = tuple(x.detach() for x in inputs)
    budget = _budget(eps, clean[0])
    if not bool((budget > 0).any()):
        return best
    surrogate_nets = SurrogateNets(nets, surrogate)
    sizes = step_sizes(steps, step_rule)
    parts = []
    for rows in sample_chunks(*labels.shape, nets.weight.shape[1]):
        part = AttackResult(best.margin[:, rows], tuple(x[:, rows] for x in best.inputs))
        for _ in range(restarts):
            index = _unbroken_index(part.margin)
            if index is None:
                break
            compact = _take(part, index)
            _pgd_run(surrogate_nets, task, tuple(_gather(x[:, rows], index) for x in clean),
                     _gather(labels[:, rows], index), budget, norm, sizes,
                     random_start=random_start, generator=generator, best=compact)
            part = _put(part, index, compact)
        parts.append(part)
    return AttackResult(torch.cat([part.margin for part in parts], 1),
                        tuple(torch.cat(chunks, 1) for chunks in zip(*(p.inputs for p in parts))))


def _pgd_run(surrogate_nets: SurrogateNets, task, clean: tuple, labels: torch.Tensor,
             budget: torch.Tensor, norm: str, sizes: Sequence[float], *, random_start: bool,
             generator: torch.Generator | None, best: AttackResult) -> None:
    """One restart on (compacted) samples, updating ``best`` in place after every step."""
    deltas = [_project(_random_start(x, budget, norm, SAMPLE_NDIM, generator)
                       if random_start else torch.zeros_like(x), budget, norm, SAMPLE_NDIM)
              for x in clean]
    for size in sizes:
        perturbed = tuple((x + delta).requires_grad_(True) for x, delta in zip(clean, deltas))
        with torch.enable_grad():
            # The surrogate's forward values are the true networks': this margin judges the
            # current iterate, and its gradient makes the next one.
            margin = labels * task.margin(surrogate_nets, *perturbed)
            grads = torch.autograd.grad(margin.sum(), perturbed)
        _record(best, margin.detach(), tuple(x.detach() for x in perturbed))
        if not bool((best.margin > 0).any()):  # a CPU reduction, no device sync to speak of
            return
        deltas = [_project(delta - size * budget * steepest_step(g, norm, SAMPLE_NDIM), budget,
                           norm, SAMPLE_NDIM) for delta, g in zip(deltas, grads)]
    perturbed = tuple(x + delta for x, delta in zip(clean, deltas))
    with torch.no_grad():
        _record(best, labels * task.margin(surrogate_nets.nets, *perturbed), perturbed)


# ---------------------------------------------------------------- the ensemble


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
    spec = dict(spec or {})
    unknown = set(spec) - set(DEFAULT_ENSEMBLE)
    if unknown:
        raise ValueError(f"unknown ensemble keys {sorted(unknown)}; "
                         f"known: {sorted(DEFAULT_ENSEMBLE)}")
    spec = {**DEFAULT_ENSEMBLE, **spec}
    for surrogate in spec["surrogates"]:
        parse_surrogate(surrogate)
    for key in ("steps", "restarts", "paper_pgd_steps"):
        if int(spec[key]) < 1:
            raise ValueError(f"ensemble {key} must be at least 1, got {spec[key]}")
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


def worst_case(nets: TwoLayerNets, task, inputs: tuple, labels: torch.Tensor, eps, norm: str,
               spec: Mapping | None = None, generator: torch.Generator | None = None
               ) -> WorstCase:
    """Per-sample conjunction over the ensemble of ``spec`` (see the module docstring)."""
    spec = ensemble_spec(spec)
    overall, per_attack, standalone = None, {}, set()
    for attack in ensemble_plan(spec, nets.activation, nets.threshold):
        continues = overall is not None and spec["skip_broken"] and not attack.paper
        result = adaptive_pgd(nets, task, inputs, labels, eps, norm, steps=attack.steps,
                              surrogate=attack.surrogate, restarts=attack.restarts,
                              step_rule=attack.step_rule, random_start=attack.random_start,
                              generator=generator, initial=overall if continues else None)
        per_attack[attack.name] = result.robust
        if continues:
            overall = result
        else:
            standalone.add(attack.name)
            if overall is None:
                overall = result
            else:
                _record(overall, result.margin, result.inputs)
    return WorstCase(overall, per_attack, frozenset(standalone))


# ---------------------------------------------------------------- representation movement


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
    _check_norm(norm)
    spec = ensemble_spec(spec)
    z = z.detach()
    budget = _budget(eps, z)
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
                runs = [_random_start(clean, budget, norm, SAMPLE_NDIM, generator)
                        for _ in range(int(spec["restarts"]))]
                for delta in runs + [start.detach()[:, rows] - clean for start in starts]:
                    best = _movement_run(view, clean, h0, _project(delta, budget, norm,
                                                                   SAMPLE_NDIM),
                                         budget, norm, sizes, *best)
            parts.append(best)
        movement = torch.cat([part[0] for part in parts], 1)
        inputs = torch.cat([part[1] for part in parts], 1)
    with torch.no_grad():
        moved = torch.bmm(inputs, nets.weight.transpose(1, 2))
        clean = torch.bmm(z, nets.weight.transpose(1, 2))
    flips = (active_nodes(moved, nets.activation, nets.threshold)
             != active_nodes(clean, nets.activation, nets.threshold))
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

    for size in sizes:
        perturbed = (z + delta).requires_grad_(True)
        with torch.enable_grad():
            squared = (surrogate_nets.hidden(perturbed) - h0).square().sum(-1)
            (grad,) = torch.autograd.grad(squared.sum(), perturbed)
        best_movement, best_inputs = keep_better(squared.detach().sqrt(), perturbed.detach())
        delta = _project(delta + size * budget * steepest_step(grad, norm, SAMPLE_NDIM), budget,
                         norm, SAMPLE_NDIM)
    perturbed = z + delta
    with torch.no_grad():
        squared = (surrogate_nets.nets.hidden(perturbed) - h0).square().sum(-1)
    return keep_better(squared.sqrt(), perturbed)
