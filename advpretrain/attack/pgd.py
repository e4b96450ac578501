"""The one attack core: projection onto the ball, random starts (``random_perturbation``),
steepest-ascent steps and the projected-gradient loop that every attack of the workflow runs,
with its two plain callers.

The simulations' FGM and PGD (``perturb``), the training adversary (``model.training``), the
adaptive attacks of the ensemble (``evaluation.adaptive``), the representation-movement attack
(``evaluation.movement``) and the image branch's l_inf PGD (``linf_pgd``) all call ``pgd`` with
their own objective, start and step sizes. The core sits below the model and the evaluation in
the package's layers (``workflow.code_inputs.LAYERS``): it imports nothing of the package.
``sample_ndim`` leading dimensions index samples (and networks of a batched model); norms are
taken over the rest. A budget ``eps`` is a Python float or a tensor that broadcasts against the
inputs (each network its own budget); a float costs no host-to-device copy on a GPU.

Gradients are taken with respect to the inputs only (``torch.autograd.grad`` on the perturbed
inputs), so an attack never accumulates parameter gradients; ``frozen`` also stops parameters
from requiring them for the duration, so a compiled graph does not compute them either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch

NORMS = ("l2", "linf")
# A callback of ``pgd``: (objective values, perturbed inputs) of an iterate -> stop now?
Observer = Callable[[torch.Tensor, tuple[torch.Tensor, ...]], bool]


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown attack norm {norm!r}; choose from {NORMS}")


def as_budget(eps, like: torch.Tensor) -> torch.Tensor:
    """eps as a tensor broadcasting against (N, B, ...): a scalar, or (N, 1, 1) per network."""
    eps = torch.as_tensor(eps, dtype=like.dtype, device=like.device)
    return eps.reshape(-1, 1, 1) if eps.dim() else eps


def _per_sample(x, sample_ndim):
    return x.flatten(start_dim=sample_ndim) if x.dim() > sample_ndim + 1 else x


def _l2_norm(x, sample_ndim):
    norm = _per_sample(x, sample_ndim).norm(dim=-1)
    return norm.reshape(norm.shape + (1,) * (x.dim() - sample_ndim))


def steepest_step(grad, norm, sample_ndim):
    """The unit-norm ascent direction for the given norm (FGM's step is eps times this)."""
    if norm == "linf":
        return grad.sign()
    return grad / _l2_norm(grad, sample_ndim).clamp_min(1e-12)


def project(delta, eps, norm, sample_ndim):
    """delta projected onto the ball of radius eps."""
    if norm == "linf":
        return torch.clamp(delta, -eps, eps)
    scale = (eps / _l2_norm(delta, sample_ndim).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def random_perturbation(x, eps, norm, sample_ndim, generator, *, uniform_ball=False):
    """A random perturbation in the ball, in x's memory format: uniform in the cube for l_inf;
    for l2 a direction at a radius uniform in [0, eps] (the normalised cube sample, which
    crowds starts towards the centre in high dimension). ``uniform_ball``: l2 draws uniformly
    from the ball instead (a Gaussian direction at radius eps U^(1/d), d the per-sample size);
    l_inf is uniform in its ball either way."""
    if norm == "l2" and uniform_ball:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        noise = noise / _l2_norm(noise, sample_ndim).clamp_min(1e-12)
        radius = torch.rand(x.shape[:sample_ndim] + (1,) * (x.dim() - sample_ndim),
                            generator=generator, device=x.device, dtype=x.dtype)
        size = _per_sample(x, sample_ndim).shape[-1] if x.dim() > sample_ndim else 1
        return torch.empty_like(x).copy_(noise * radius.pow(1.0 / size) * eps)
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    if norm == "l2":
        noise = noise / _l2_norm(noise, sample_ndim).clamp_min(1e-12)
        radius = torch.rand(x.shape[:sample_ndim] + (1,) * (x.dim() - sample_ndim),
                            generator=generator, device=x.device, dtype=x.dtype)
        noise = noise * radius * eps
    else:
        noise = noise * eps
    return torch.empty_like(x).copy_(noise)


def clip(x, delta, eps, norm, sample_ndim, bounds=None):
    """delta projected onto the ball, then so that x + delta stays in ``bounds`` (low, high)."""
    delta = project(delta, eps, norm, sample_ndim)
    if bounds is not None:
        delta = (x + delta).clamp(*bounds) - x
    return delta


@contextmanager
def frozen(*modules):
    """Parameters of ``modules`` that require gradients stop requiring them for the duration."""
    params = [p for module in modules for p in module.parameters() if p.requires_grad]
    for param in params:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param in params:
            param.requires_grad_(True)


def pgd(objective: Callable[..., torch.Tensor], clean: tuple, deltas: Sequence, eps, norm: str,
        step_sizes: Sequence, *, sample_ndim: int, bounds: tuple[float, float] | None = None,
        observe: Observer | None = None) -> tuple | None:
    """Projected steepest ascent of ``objective(*inputs).sum()`` from ``clean + deltas``.

    Each step moves every perturbation by its step size (a float or a tensor broadcasting against
    the inputs, already in input units) along ``steepest_step`` of the objective's input gradient
    and clips it back into the ball and ``bounds``; the starting ``deltas`` are used as given
    (they must lie in the ball). ``observe(values, inputs)`` sees every iterate before its step
    (per-sample objective values, detached) and may stop the attack by returning True: ``pgd``
    then returns None, else the inputs after the last step (detached). Several inputs (a
    contrastive pair) are attacked jointly.
    """
    deltas = list(deltas)
    for size in step_sizes:
        perturbed = tuple((x + delta).requires_grad_(True) for x, delta in zip(clean, deltas))
        with torch.enable_grad():
            values = objective(*perturbed)
            grads = torch.autograd.grad(values.sum(), perturbed)
        if observe is not None and observe(values.detach(),
                                           tuple(x.detach() for x in perturbed)):
            return None
        deltas = [clip(x, delta.detach() + size * steepest_step(g, norm, sample_ndim), eps, norm,
                       sample_ndim, bounds) for x, delta, g in zip(clean, deltas, grads)]
    return tuple(x + delta for x, delta in zip(clean, deltas))


def input_gradients(loss_fn, inputs):
    """Gradients of the summed per-sample losses with respect to each input (not parameters)."""
    inputs = tuple(x.detach().requires_grad_(True) for x in inputs)
    with torch.enable_grad():
        return torch.autograd.grad(loss_fn(*inputs).sum(), inputs)


def perturb(loss_fn, inputs, eps, norm, steps=1, step_size=None, random_start=False,
            bounds=None, sample_ndim=1, generator=None):
    """Adversarial inputs: FGM when ``steps == 1`` without random start, PGD otherwise.

    ``loss_fn`` maps the perturbed inputs to per-sample losses; the attack ascends their sum, so
    every sample (and every network of a batched model) gets its own perturbation.
    inputs: tuple of tensors attacked jointly (a contrastive pair perturbs both members).
    bounds: optional (low, high) valid input range, e.g. (0, 1) for images.
    Returns detached perturbed inputs; the caller's parameter gradients are left untouched.
    """
    check_norm(norm)
    inputs = tuple(x.detach() for x in inputs)
    eps = torch.as_tensor(eps, dtype=inputs[0].dtype, device=inputs[0].device)
    step_size = eps if step_size is None else torch.as_tensor(step_size, dtype=eps.dtype,
                                                               device=eps.device)
    starts = [random_perturbation(x, eps, norm, sample_ndim, generator) if random_start
              else torch.zeros_like(x) for x in inputs]
    deltas = [clip(x, delta, eps, norm, sample_ndim, bounds) for x, delta in zip(inputs, starts)]
    return pgd(loss_fn, inputs, deltas, eps, norm, [step_size] * steps, sample_ndim=sample_ndim,
               bounds=bounds)


def linf_pgd(loss_fn, inputs, eps: float, step_size: float, steps: int, generator,
             random_start: bool = True):
    """The image branch's PGD: l_inf, a uniform random start in the eps ball (or the clean
    images), images kept in [0, 1]. Budgets are Python floats (no host-to-device copy) and
    nothing is read back to the host, so an attack never waits for the GPU. Detached results."""
    inputs = tuple(x.detach() for x in inputs)
    deltas = [clip(x, random_perturbation(x, eps, "linf", 1, generator) if random_start
                   else torch.zeros_like(x), eps, "linf", 1, (0.0, 1.0)) for x in inputs]
    return pgd(loss_fn, inputs, deltas, eps, "linf", [step_size] * steps, sample_ndim=1,
               bounds=(0.0, 1.0))


def pgd_step_size(eps, steps):
    """The usual PGD step: 2.5 eps / steps (Madry et al.)."""
    return 2.5 * eps / steps
