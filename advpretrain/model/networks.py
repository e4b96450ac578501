"""Two-layer networks h(Z) = sigma(W Z), trained many at once.

A ``TwoLayerNets`` holds N independent networks (one per seed and variant) as stacked tensors, so
one batched matrix product trains them all; inputs have shape (N, batch, d).

Beyond the paper, two options of the model (``TwoLayerNets``), off by default: a threshold
relative to each row's norm, and hidden rows kept at unit norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def gate(v, threshold):
    """sigma(v, e) = v * 1{|v| >= e}, with the paper's gradient 1{|v| >= e}.

    hardshrink keeps |v| > lambda in one fused kernel (several times faster than the masked
    product); lambda is the number of v's dtype just below e, so that |v| = e is kept as the
    paper says. With e = 0 every v passes with gradient 1, zero included: the identity. A
    threshold per node (a tensor broadcasting against v: the relative mode) takes the masked
    product, which hardshrink's single lambda cannot express.
    """
    if torch.is_tensor(threshold):
        return v * (v.abs() >= threshold)
    if threshold <= 0:
        return v
    edge = torch.tensor(float(threshold), dtype=v.dtype)
    return F.hardshrink(v, torch.nextafter(edge, torch.zeros_like(edge)).item())


def relu(v, threshold):
    return F.relu(v - threshold)


def symmetric_relu(v, threshold):
    """relu(v - e) - relu(-v - e), which is softshrink (one fused kernel) for a single e."""
    if torch.is_tensor(threshold):
        return F.relu(v - threshold) - F.relu(-v - threshold)
    return F.softshrink(v, threshold)


def tanh(v, threshold):
    return torch.tanh(v)


def softplus(v, threshold):
    return F.softplus(v)


ACTIVATIONS = {
    "gate": gate,
    "relu": relu,
    "symmetric_relu": symmetric_relu,
    "tanh": tanh,
    "softplus": softplus,
}
THRESHOLD_MODES = ("absolute", "relative")  # TwoLayerNets' threshold_mode


def active(hidden: torch.Tensor) -> torch.Tensor:
    """Where a node fires: its output is not zero (|v| >= e for the gate, v > e for relu, |v| > e
    for the symmetric ReLU; tanh and softplus nodes fire on almost every input)."""
    return hidden != 0


def logistic_loss(margin):
    """l(t) = log(1 + exp(-t)), computed stably."""
    return F.softplus(-margin)


class TwoLayerNets(nn.Module):
    """N two-layer networks: hidden layer W (N, H, d), supervised head a (N, H).

    threshold_mode: "absolute" (the paper's) compares v = w_h . z with e; "relative" with
    e ||w_h||, so that node h fires when |w_h . z| >= e ||w_h||: the theory fixes the rows' scale,
    and a learned row norm of 1.6-3 brings the absolute e within reach of attacks of e / ||w_h||.
    unit_rows: the hidden rows live on the unit sphere; the initialisation projects them
    (``project_rows``), and so does ``model.training.train_networks`` after every step.
    """

    def __init__(self, weight, head, activation, threshold, score_scale=1.0,
                 threshold_mode="absolute", unit_rows=False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; "
                             f"choose from {sorted(ACTIVATIONS)}")
        if threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f"unknown threshold mode {threshold_mode!r}; "
                             f"choose from {THRESHOLD_MODES}")
        self.activation = activation
        self.threshold = threshold
        self.score_scale = score_scale
        self.threshold_mode = threshold_mode
        self.unit_rows = unit_rows
        self.weight = nn.Parameter(weight.clone())
        self.head = nn.Parameter(head.clone())

    @staticmethod
    def initial_parameters(n_models, hidden, d, init_scale, generator):
        """Hidden weights N(0, init_scale^2 / d) and head N(0, 1 / H) for n_models networks."""
        weight = torch.randn(n_models, hidden, d, generator=generator) * (init_scale / d**0.5)
        head = torch.randn(n_models, hidden, generator=generator) / hidden**0.5
        return weight, head

    def node_threshold(self):
        """Each node's threshold on its pre-activation: e (absolute), or e ||w_h|| (relative) as
        an (N, 1, H) tensor that broadcasts against the pre-activations (N, batch, H)."""
        if self.threshold_mode == "absolute":
            return self.threshold
        return self.threshold * self.weight.norm(dim=-1).unsqueeze(1)

    def held_threshold(self):
        """``node_threshold`` as the networks compare against it, in float64 (sound bounds): the
        absolute e rounded to the networks' dtype, a float; the relative ones, (N, 1, H)."""
        threshold = self.node_threshold()
        if torch.is_tensor(threshold):
            return threshold.detach().double()
        return float(torch.tensor(threshold, dtype=self.weight.dtype))

    def project_rows(self, moving=None):
        """Hidden rows onto the unit sphere, those of the networks ``moving`` ((N,) bool; all by
        default): the others keep their rows bit for bit."""
        with torch.no_grad():
            unit = self.weight / self.weight.norm(dim=-1, keepdim=True)
            if moving is not None:
                unit = torch.where(moving[:, None, None], unit, self.weight)
            self.weight.copy_(unit)

    def hidden(self, z):
        return ACTIVATIONS[self.activation](torch.bmm(z, self.weight.transpose(1, 2)),
                                            self.node_threshold())

    def forward(self, z):
        """Supervised output f(Z) = a^T h(Z), shape (N, batch)."""
        return torch.bmm(self.hidden(z), self.head.unsqueeze(-1)).squeeze(-1)

    def score(self, z1, z2):
        """Contrastive similarity s(Z, Z') = scale * h(Z)^T h(Z'), shape (N, batch)."""
        return self.score_scale * (self.hidden(z1) * self.hidden(z2)).sum(-1)


def seed_of_network(n_networks: int, n_seeds: int) -> torch.Tensor:
    """The seed index of each network of a variant-major stack, shape (n_networks,)."""
    return torch.arange(n_networks) % n_seeds


def per_network(tensors, seed_of_networks: torch.Tensor) -> tuple:
    """Expand per-seed tensors (S, ...) to per-network ones (N, ...)."""
    return tuple(t[seed_of_networks] for t in tensors)


def active_nodes(v: torch.Tensor, activation: str, threshold) -> torch.Tensor:
    """Which nodes are on at pre-activations v: |v| >= e (gate), v > e (relu), |v| > e
    (symmetric relu); tanh and softplus have no threshold, there "on" is the sign v > 0. The
    threshold is a float or per node (``TwoLayerNets.node_threshold``)."""
    if activation == "gate":
        return v.abs() >= threshold
    if activation == "relu":
        return v > threshold
    if activation == "symmetric_relu":
        return v.abs() > threshold
    return v > 0
