"""Gradient attacks (FGM and PGD, l2 and l_inf) shared by the simulations and CIFAR-10.

``loss_fn`` maps a tuple of perturbed inputs to per-sample losses; the attack ascends their sum,
so every sample (and every network of a batched model) gets its own perturbation. ``sample_ndim``
leading dimensions index samples; norms are taken over the rest. ``eps`` may be a tensor that
broadcasts against the inputs, giving each network its own budget.
"""

import torch

NORMS = ("l2", "linf")


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


def _project(delta, eps, norm, sample_ndim):
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, eps), -eps)
    scale = (eps / _l2_norm(delta, sample_ndim).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def _random_start(x, eps, norm, sample_ndim, generator):
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    if norm == "l2":
        noise = noise / _l2_norm(noise, sample_ndim).clamp_min(1e-12)
        radius = torch.rand(x.shape[:sample_ndim] + (1,) * (x.dim() - sample_ndim),
                            generator=generator, device=x.device, dtype=x.dtype)
        return noise * radius * eps
    return noise * eps


def input_gradients(loss_fn, inputs):
    """Gradients of the summed per-sample losses with respect to each input (not parameters)."""
    inputs = tuple(x.detach().requires_grad_(True) for x in inputs)
    with torch.enable_grad():
        return torch.autograd.grad(loss_fn(*inputs).sum(), inputs)


def perturb(loss_fn, inputs, eps, norm, steps=1, step_size=None, random_start=False,
            bounds=None, sample_ndim=1, generator=None):
    """Adversarial inputs: FGM when ``steps == 1`` without random start, PGD otherwise.

    inputs: tuple of tensors attacked jointly (a contrastive pair perturbs both members).
    bounds: optional (low, high) valid input range, e.g. (0, 1) for images.
    Returns detached perturbed inputs; the caller's parameter gradients are left untouched.
    """
    if norm not in NORMS:
        raise ValueError(f"unknown attack norm {norm!r}; choose from {NORMS}")
    inputs = tuple(x.detach() for x in inputs)
    eps = torch.as_tensor(eps, dtype=inputs[0].dtype, device=inputs[0].device)
    step_size = eps if step_size is None else torch.as_tensor(step_size, dtype=eps.dtype,
                                                               device=eps.device)
    deltas = [torch.zeros_like(x) for x in inputs]
    if random_start:
        deltas = [_random_start(x, eps, norm, sample_ndim, generator) for x in inputs]

    def clip(x, delta):
        delta = _project(delta, eps, norm, sample_ndim)
        if bounds is not None:
            delta = (x + delta).clamp(*bounds) - x
        return delta

    deltas = [clip(x, delta) for x, delta in zip(inputs, deltas)]
    for _ in range(steps):
        grads = input_gradients(loss_fn, tuple(x + delta for x, delta in zip(inputs, deltas)))
        deltas = [clip(x, delta.detach() + step_size * steepest_step(g, norm, sample_ndim))
                  for x, delta, g in zip(inputs, deltas, grads)]
    return tuple(x + delta for x, delta in zip(inputs, deltas))


def pgd_step_size(eps, steps):
    """The usual PGD step: 2.5 eps / steps (Madry et al.)."""
    return 2.5 * eps / steps
