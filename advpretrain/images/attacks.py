"""l_inf PGD in pixel space for the image stages, lean on a GPU.

* While an attack runs, the model's parameters do not require gradients (``frozen``): autograd
  then computes input gradients only, in eager mode and in a torch.compile'd graph alike (a
  compiled forward whose parameters require gradients saves what their backward needs and its
  backward computes weight gradients that an input-gradient call throws away).
* Budgets are Python floats: no per-call host-to-device copy; the random start is drawn with the
  caller's generator in the inputs' memory format (channels_last stays channels_last).
* Nothing is read back to the host, so an attack never waits for the GPU.

``loss_fn`` maps the perturbed inputs to per-sample losses; the attack ascends their sum, so
every sample gets its own perturbation. Several inputs (a contrastive pair) are attacked jointly.
"""

from contextlib import contextmanager

import torch


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


def budget(attack, levels):
    """(eps, step size) in pixels of an attack given in grey levels ({"eps", "step", ...})."""
    return attack["eps"] / levels, attack["step"] / levels


def linf_pgd(loss_fn, inputs, eps, step_size, steps, generator):
    """PGD with a uniform random start in the eps ball, clipped to [0, 1]; detached results."""
    inputs = tuple(x.detach() for x in inputs)
    moved = [(x + torch.empty_like(x).uniform_(-eps, eps, generator=generator)).clamp_(0, 1)
             for x in inputs]
    for _ in range(steps):
        moved = [x.requires_grad_(True) for x in moved]
        with torch.enable_grad():
            grads = torch.autograd.grad(loss_fn(*moved).sum(), moved)
        moved = [torch.minimum(torch.maximum(x.detach() + step_size * g.sign(), x0 - eps),
                               x0 + eps).clamp_(0, 1)
                 for x, g, x0 in zip(moved, grads, inputs)]
    return tuple(moved)
