"""Backward-pass surrogates of the activations: the true forward pass with another gradient.

The gate sigma(v, e) = v 1{|v| >= e} jumps by e at |v| = e, and its own gradient 1{|v| >= e}
cannot see the jump: pushing an inactive node just past the threshold moves its output by about e,
yet no gradient says so, and an attack that follows the gate's own gradient (the paper's FGM and
PGD) overstates robustness. An adaptive attack (BPDA, Athalye et al. 2018) keeps the TRUE forward
pass, so every value it sees is the network's, and replaces only the gradient:

- ``"own"``: the network's own gradient (the paper's attack);
- ``"ste"``: straight-through, the identity's gradient 1 (gate, relu, symmetric relu);
- ``"smooth_T"`` (e.g. ``"smooth_0.05"``): the gradient of a smooth version at temperature T,
  in the pre-activation's units (e = 0.3 in the paper's config; e ||w_h|| per node with the
  relative threshold, ``TwoLayerNets.node_threshold``):
  gate -> v sigmoid((|v| - e) / T), relu -> T softplus((v - e) / T),
  symmetric relu -> T softplus((v - e) / T) - T softplus((-v - e) / T).

tanh and softplus are smooth already, and the gate and the symmetric relu with e = 0 are the
identity: for these every surrogate IS their own gradient (``effective_surrogate`` says "own", so
an ensemble runs them once).

The evaluation's adaptive attacks and, where ``simulation.training.attack_surrogate`` asks for
it, the training adversary (``training.Adversary``) take their gradients here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch import nn

from advpretrain.core.activations import SMOOTH_ACTIVATIONS
from advpretrain.model.networks import ACTIVATIONS, TwoLayerNets

Activation = Callable[[torch.Tensor, float], torch.Tensor]
SMOOTH_PREFIX = "smooth_"


def parse_surrogate(surrogate: str) -> tuple[str, float | None]:
    """("own" | "ste" | "smooth", temperature or None) of a surrogate's name."""
    if surrogate in ("own", "ste"):
        return surrogate, None
    if surrogate.startswith(SMOOTH_PREFIX):
        with contextlib.suppress(ValueError):
            temperature = float(surrogate.removeprefix(SMOOTH_PREFIX))
            if math.isfinite(temperature) and temperature > 0:
                return "smooth", temperature
    raise ValueError(f"unknown surrogate {surrogate!r}; choose 'own', 'ste' or 'smooth_T' "
                     "with a temperature T > 0")


def effective_surrogate(activation: str, threshold: float, surrogate: str) -> str:
    """The surrogate's name, or "own" where the activation's own gradient is already exact."""
    parse_surrogate(surrogate)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    identity = activation in ("gate", "symmetric_relu") and threshold <= 0
    return "own" if activation in SMOOTH_ACTIVATIONS or identity else surrogate


# The derivatives work in place on fresh tensors: on CPU the attack's elementwise work is bound by
# memory traffic, and every pass over (N, B, H) counts.


def _gate_smooth_derivative(v, threshold, temperature):
    # d/dv [v s] with s = sigmoid((|v| - e) / T): s + (|v| / T) s (1 - s).
    scaled = v.abs().div_(temperature)
    s = (scaled - threshold / temperature).sigmoid_()
    return torch.addcmul(scaled, scaled, s, value=-1).mul_(s).add_(s)


def _relu_smooth_derivative(v, threshold, temperature):
    return v.sub(threshold).div_(temperature).sigmoid_()


def _symmetric_relu_smooth_derivative(v, threshold, temperature):
    return (v.sub(threshold).div_(temperature).sigmoid_()
            .add_(v.neg().sub_(threshold).div_(temperature).sigmoid_()))


SMOOTH_DERIVATIVES = {"gate": _gate_smooth_derivative, "relu": _relu_smooth_derivative,
                      "symmetric_relu": _symmetric_relu_smooth_derivative}


class _SurrogateGradient(torch.autograd.Function):
    """Forward: the true activation (its own kernel, so values are bit-for-bit the network's);
    backward: the incoming gradient times ``derivative(v)``, or passed through when it is None."""

    @staticmethod
    def forward(ctx, v, threshold, activation, derivative):
        ctx.save_for_backward(v)
        ctx.threshold, ctx.derivative = threshold, derivative
        return activation(v, threshold)

    @staticmethod
    def backward(ctx, grad):
        if ctx.derivative is None:
            return grad, None, None, None
        (v,) = ctx.saved_tensors
        return ctx.derivative(v, ctx.threshold).mul_(grad), None, None, None


def surrogate_activation(activation: str, surrogate: str) -> Activation:
    """f(v, e) whose value is ``ACTIVATIONS[activation](v, e)`` and whose gradient is the
    surrogate's (see the module docstring)."""
    kind, temperature = parse_surrogate(surrogate)
    true = ACTIVATIONS[activation]
    if kind == "own" or activation in SMOOTH_ACTIVATIONS:
        return true
    if kind == "ste":
        return lambda v, threshold: _SurrogateGradient.apply(v, threshold, true, None)
    smooth = SMOOTH_DERIVATIVES[activation]
    derivative = lambda v, threshold: smooth(v, threshold, temperature)  # noqa: E731
    return lambda v, threshold: _SurrogateGradient.apply(v, threshold, true, derivative)


class SurrogateNets(nn.Module):
    """A view of ``nets`` with a surrogate's gradient: same parameters (no copy), same forward
    values, so ``task.margin`` and ``task.loss`` accept it in place of the networks."""

    def __init__(self, nets: TwoLayerNets, surrogate: str):
        super().__init__()
        self.nets = nets
        self.surrogate = effective_surrogate(nets.activation, nets.threshold, surrogate)
        self._activation = surrogate_activation(nets.activation, self.surrogate)

    @property
    def weight(self) -> torch.Tensor:
        return self.nets.weight

    @property
    def head(self) -> torch.Tensor:
        return self.nets.head

    @property
    def activation(self) -> str:
        return self.nets.activation

    @property
    def threshold(self) -> float:
        return self.nets.threshold

    @property
    def score_scale(self) -> float:
        return self.nets.score_scale

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        return self._activation(torch.bmm(z, self.weight.transpose(1, 2)),
                                self.nets.node_threshold())

    # The true networks' output formulas, applied to the surrogate hidden layer above.
    forward = TwoLayerNets.forward
    score = TwoLayerNets.score
