"""Certified (sound) robustness by interval propagation: lower bounds no attack can beat.

Exact through the first layer: over the ball ||delta|| <= eps, node h's pre-activation
v_h = w_h . (z + delta) ranges over [w_h . z - eps ||w_h||_*, w_h . z + eps ||w_h||_*] (dual norm:
l2 -> l2, linf -> l1). Then each node's output range, exact (``activation_image``): a linear head
or a product of two nodes (a pair score) takes its extremes at the ends of each node's range, so
per node nothing is lost. The only looseness is that nodes are bounded independently (a box)
where W couples them.

Soundness is for the networks as they compute, in their own dtype: the bounds are worked out in
float64, the pre-activation interval is widened by the rounding of W (z + delta) (where a gate's
jump turns a rounding error into a change of e), and the margin bounds are lowered by the
rounding of the final sums. A sample is certified when its lower bound is > 0: the paper's
accuracy counts margin > 0 as correct, so a bound of exactly 0 certifies nothing.

Budgets are a scalar eps or a per-network (N,) tensor; both members of a contrastive pair get
their own ball of radius eps, as in ``core.perturb``.
"""

from __future__ import annotations

import torch

from advpretrain.attack.pgd import NORMS
from advpretrain.model.networks import ACTIVATIONS, TwoLayerNets

Interval = tuple[torch.Tensor, torch.Tensor]


def _rounding(nets: TwoLayerNets) -> float:
    return torch.finfo(nets.weight.dtype).eps


def _budget(eps) -> torch.Tensor:
    """eps as float64 broadcasting against (N, B, H): (1, 1, 1) or (N, 1, 1)."""
    return torch.as_tensor(eps, dtype=torch.float64).reshape(-1, 1, 1)


def preactivation_bounds(nets: TwoLayerNets, z: torch.Tensor, eps, norm: str) -> Interval:
    """Interval (float64, each (N, B, H)) holding every pre-activation W (z + delta) over the ball,
    as the networks compute it."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose from {NORMS}")
    weight, z = nets.weight.detach().double(), z.detach().double()
    dual = weight.norm(dim=-1) if norm == "l2" else weight.abs().sum(-1)  # (N, H)
    radius = _budget(eps) * dual[:, None, :]
    centre = torch.bmm(z, weight.transpose(1, 2))
    # A dot product of d terms in the networks' dtype is off by at most about d units of rounding
    # times sum |w_i x_i|; the input z + delta itself is rounded once more (the + 2).
    magnitude = torch.bmm(z.abs(), weight.abs().transpose(1, 2)) + radius
    slack = (weight.shape[-1] + 2) * _rounding(nets) * magnitude
    return centre - radius - slack, centre + radius + slack


def activation_image(lower: torch.Tensor, upper: torch.Tensor, activation: str,
                     threshold) -> Interval:
    """[f(lower), f(upper)], elementwise: the exact hull of the activation's image of the interval
    (``threshold``: a float, or per node, (N, 1, H)).

    Every activation here is non-decreasing, the gate too, though it jumps: it is v up to -e, 0 on
    (-e, e) and v from e on. Its image of [l, u] has gaps ([l, u] with |v| >= e, plus 0 where
    [l, u] meets (-e, e)), but its lowest and highest values are f(l) and f(u), both attained.
    """
    function = ACTIVATIONS[activation]
    return function(lower, threshold), function(upper, threshold)


def hidden_bounds(nets: TwoLayerNets, z: torch.Tensor, eps, norm: str) -> Interval:
    """Interval (float64, (N, B, H)) holding h(z + delta) over the ball."""
    # The threshold as the networks hold it in their dtype (the gate keeps |v| >= that number).
    return activation_image(*preactivation_bounds(nets, z, eps, norm), nets.activation,
                            nets.held_threshold())


def head_margin_bound(nets: TwoLayerNets, z: torch.Tensor, labels: torch.Tensor, eps,
                      norm: str) -> torch.Tensor:
    """Lower bound (N, B) on y a^T h(z + delta) over the ball (supervised or downstream head):
    sum over nodes of min(y a_h lo_h, y a_h hi_h)."""
    lower, upper = hidden_bounds(nets, z, eps, norm)
    coefficient = labels.double()[..., None] * nets.head.detach().double()[:, None, :]
    low, high = coefficient * lower, coefficient * upper
    largest = torch.maximum(low.abs(), high.abs())
    return (torch.minimum(low, high).sum(-1)
            - (lower.shape[-1] + 2) * _rounding(nets) * largest.sum(-1))


def pair_score_bound(nets: TwoLayerNets, z1: torch.Tensor, z2: torch.Tensor,
                     labels: torch.Tensor, eps, norm: str) -> torch.Tensor:
    """Lower bound (N, B) on y s(z1 + delta1, z2 + delta2), both members perturbed: per node the
    extremes of the four corner products, summed, times y * score_scale."""
    lower1, upper1 = hidden_bounds(nets, z1, eps, norm)
    lower2, upper2 = hidden_bounds(nets, z2, eps, norm)
    corners = torch.stack([lower1 * lower2, lower1 * upper2, upper1 * lower2, upper1 * upper2])
    sign = labels.double() * nets.score_scale  # (N, B)
    lowest = torch.where(sign > 0, sign * corners.amin(0).sum(-1), sign * corners.amax(0).sum(-1))
    largest = corners.abs().amax(0).sum(-1) * sign.abs()
    return lowest - (lower1.shape[-1] + 2) * _rounding(nets) * largest


def margin_lower_bound(nets: TwoLayerNets, inputs: tuple, labels: torch.Tensor, eps,
                       norm: str) -> torch.Tensor:
    """Lower bound (N, B) on y * task.margin over the ball: a head's for one input (supervised,
    downstream), the pair score's for two (contrastive)."""
    if len(inputs) == 1:
        return head_margin_bound(nets, inputs[0], labels, eps, norm)
    if len(inputs) == 2:
        return pair_score_bound(nets, *inputs, labels, eps, norm)
    raise ValueError(f"expected one input or a pair, got {len(inputs)} inputs")


def certified(nets: TwoLayerNets, inputs: tuple, labels: torch.Tensor, eps,
              norm: str) -> torch.Tensor:
    """(N, B) bool: no perturbation in the ball changes the prediction (lower bound > 0)."""
    return margin_lower_bound(nets, inputs, labels, eps, norm) > 0


def movement_bound(nets: TwoLayerNets, z: torch.Tensor, eps, norm: str) -> torch.Tensor:
    """Upper bound (N, B) on ||h(z + delta) - h(z)||_2 over the ball: per node
    max(hi - h0, h0 - lo), both h(z + delta) and h0 = h(z) lying in [lo, hi]."""
    lower, upper = hidden_bounds(nets, z, eps, norm)
    with torch.no_grad():
        h0 = nets.hidden(z).double()
    per_node = torch.maximum(upper - h0, h0 - lower)
    # Widened by the rounding of the networks' own norm of the difference.
    return per_node.norm(dim=-1) * (1 + (per_node.shape[-1] + 2) * _rounding(nets))


def transfer_robust(margins: torch.Tensor, head_norms: torch.Tensor,
                    movements: torch.Tensor) -> torch.Tensor:
    """Nern et al.'s transfer criterion: robust where the clean margin y a^T h(z) (N, B) exceeds
    ||a||_2 (N,) times the representation's movement (N, B).

    Nern, Raj, Georgi, Sharma and Sadeghi, "On Transfer of Adversarial Robustness from
    Pretraining to Downstream Tasks" (NeurIPS 2023): a linear head a changes its output by at
    most ||a||_2 ||h(z + delta) - h(z)||_2 (Cauchy-Schwarz). Their code (lf-tcho/
    robustness_transfer, the ``*_theory_analysis-attack_feat2.py`` scripts) measures the movement
    as the l2 norm of the feature difference at a PGD attack on the representation itself, and
    the head by its spectral norm, which for one output is ||a||_2; we follow both. With the
    ATTACKED movement (``movement.movement_attack``) this is their empirical, optimistic estimate;
    with the CERTIFIED one (``movement_bound``) a sound lower bound on robust accuracy.
    """
    return margins > head_norms.reshape(-1, 1) * movements
