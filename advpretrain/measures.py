"""Feature purification and robustness measures."""

import torch

from .attacks import perturb, pgd_step_size


def feature_coefficients(weight, dictionary):
    """C = W M: C[n, h, j] = <w_h, M_j>, how much node h of network n reads feature j."""
    return weight @ dictionary


def node_measures(coefficients, dead_relative_norm):
    """Per-node purity, participation ratio, feature count and dead flag, each (N, H).

    purity = max_j |C_hj| / ||C_h||  (1 = one feature; 1/sqrt(d) = an even mix of all d)
    participation ratio = (sum C^2)^2 / sum C^4  (effective number of features)
    feature count = features with |C_hj| at least half the node's largest
    dead = norm below ``dead_relative_norm`` times the network's median node norm
    """
    magnitude = coefficients.abs()
    squares = coefficients**2
    norm = squares.sum(-1).sqrt()
    largest = magnitude.max(-1).values
    safe_norm = norm.clamp_min(1e-12)
    return {
        "purity": largest / safe_norm,
        "participation_ratio": squares.sum(-1) ** 2 / (squares**2).sum(-1).clamp_min(1e-24),
        "feature_count": (magnitude >= 0.5 * largest[..., None]).sum(-1).to(coefficients.dtype),
        "norm": norm,
        "dead": norm < dead_relative_norm * norm.median(dim=-1, keepdim=True).values,
    }


def attacked_inputs(loss_fn, inputs, eps, norm, attack, pgd_steps, sample_ndim, generator=None,
                    bounds=None):
    """Inputs under the named evaluation attack ("fgm" or "pgd"), or unchanged for eps = 0."""
    if eps == 0:
        return tuple(x.detach() for x in inputs)
    if attack == "fgm":
        return perturb(loss_fn, inputs, eps, norm, steps=1, sample_ndim=sample_ndim,
                       bounds=bounds)
    return perturb(loss_fn, inputs, eps, norm, steps=pgd_steps,
                   step_size=pgd_step_size(eps, pgd_steps), random_start=True,
                   sample_ndim=sample_ndim, bounds=bounds, generator=generator)


def robustness_grid(loss_fn, margin_fn, inputs, labels, eps_grid, attacks, pgd_steps,
                    generator, sample_ndim=2):
    """Accuracy and mean loss of every network under every attack, norm and eps.

    loss_fn(*inputs, labels) -> per-sample losses (N, B); margin_fn(*inputs) -> scores whose
    sign is the prediction. Yields dict rows with per-network tensors (N,).
    """
    for attack in attacks:
        for norm, grid in eps_grid.items():
            for eps in grid:
                adversarial = attacked_inputs(lambda *x: loss_fn(*x, labels), inputs, eps, norm,
                                              attack, pgd_steps, sample_ndim, generator)
                with torch.no_grad():
                    margins = margin_fn(*adversarial) * labels
                    yield {"attack": attack, "norm": norm, "eps": float(eps),
                           "accuracy": (margins > 0).float().mean(-1),
                           "loss": loss_fn(*adversarial, labels).mean(-1)}
