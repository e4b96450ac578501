"""Attacks that show they have converged (``evaluation.convergence``)."""

import pytest
import torch

from advpretrain.attack.pgd import as_budget, random_perturbation
from advpretrain.core.activations import THRESHOLDED
from advpretrain.evaluation.adaptive import clean_result
from advpretrain.evaluation.convergence import (
    budget_levels,
    convergence_spec,
    converging_attack,
    has_converged,
    square_attack,
    square_share,
)
from advpretrain.evaluation.exact import decide
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.surrogates import SurrogateNets
from advpretrain.model.tasks import TASKS

SUPERVISED = TASKS["supervised"]
SMALL = {"steps": 5, "restarts": 1, "doublings": 3, "square_queries": 30}


def test_levels_double_steps_times_restarts():
    levels = budget_levels(25, 1, 4)
    assert levels == [(25, 1), (50, 1), (50, 2), (100, 2), (100, 4)]
    work = [steps * restarts for steps, restarts in levels]
    assert all(b == 2 * a for a, b in zip(work, work[1:]))


@pytest.mark.parametrize("change, message", [
    ({"surrogates": ["own", "ste", "smooth_0.1", "smooth_0.5"]}, "constant gradient"),
    ({"surrogates": ["own", "smooth_0.1"]}, "smooth_0.5"),
    ({"doublings": 2}, "at least 3 doublings"),
    ({"steps": 0}, "steps must be at least 1"),
    ({"step": 5}, "unknown convergence keys"),
])
def test_bad_specs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        convergence_spec(change)


@pytest.mark.parametrize("activation", THRESHOLDED)
def test_the_refused_ste_surrogate_has_a_constant_gradient(activation):
    nets = TwoLayerNets(*TwoLayerNets.initial_parameters(1, 8, 4, 1.0,
                                                         torch.Generator().manual_seed(0)),
                        activation, 0.3)
    z = torch.randn(1, 2, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    (grad,) = torch.autograd.grad(SUPERVISED.margin(SurrogateNets(nets, "ste"), z).sum(), z)
    assert torch.allclose(grad[0, 0], grad[0, 1])
    assert torch.allclose(grad[0, 0], nets.weight[0].T @ nets.head[0])


def uniform_start(x, eps, norm, generator=None):
    return random_perturbation(x, as_budget(eps, x), norm, 2, generator, uniform_ball=True)


def test_l2_starts_are_uniform_in_the_ball():
    """Uniform in the d-ball: (r / eps)^d is U(0, 1) (mean 1/2), and so is the first coordinate's
    sign; the default start (a U(0, 1) radius) gives 1/(d+1)."""
    d, eps = 5, 0.3
    x = torch.zeros(4, 5000, d)
    start = uniform_start(x, eps, "l2", torch.Generator().manual_seed(0))
    radius = start.norm(dim=-1)
    assert (radius <= eps * (1 + 1e-6)).all()
    assert abs(float((radius / eps).pow(d).mean()) - 0.5) < 0.01
    # A Gaussian direction: the cosine with a fixed axis has mean 0 and variance 1 / d.
    cosine = start[..., 0] / radius
    assert abs(float(cosine.mean())) < 0.01 and abs(float(cosine.pow(2).mean()) - 1 / d) < 0.01
    default = random_perturbation(x, eps, "l2", 2, torch.Generator().manual_seed(0))
    assert abs(float((default.norm(dim=-1) / eps).pow(d).mean()) - 1 / (d + 1)) < 0.01
    cube = uniform_start(x, eps, "linf", torch.Generator().manual_seed(0))
    assert cube.abs().max() <= eps and cube.abs().max() > 0.99 * eps
    assert torch.equal(cube, random_perturbation(x, eps, "linf", 2,
                                                 torch.Generator().manual_seed(0)))
    per_network = uniform_start(x, torch.tensor([0.1, 0.2, 0.3, 0.4]), "l2")
    assert torch.all(per_network.norm(dim=-1).amax(-1) <= torch.tensor([0.1, 0.2, 0.3, 0.4]))


def test_the_square_schedule_halves():
    assert square_share(0, 1000) == 0.1
    assert square_share(999, 1000) == pytest.approx(0.1 / 2**9)


def test_the_convergence_flag():
    cumulative = torch.tensor([[0.9, 0.5], [0.8, 0.5], [0.796, 0.49]])
    assert has_converged(cumulative, 0.005).tolist() == [True, False]


BUDGETS = [("l2", 0.3), ("linf", 0.15)]


@pytest.fixture(scope="module")
def random_problem():
    """Gate nets (d 5, H 10) and points labelled by their own output, each point decided
    exactly (``exact.decide``) at l2 0.3 and l_inf 0.15."""
    generator = torch.Generator().manual_seed(4)
    nets = TwoLayerNets(*TwoLayerNets.initial_parameters(2, 10, 5, 2.0, generator), "gate", 0.3)
    z = torch.randn(2, 30, 5, generator=generator)
    y = torch.where(nets(z).detach() >= 0, 1.0, -1.0)
    exact = {(norm, eps): [[decide(nets, n, z[n, b], float(y[n, b]), eps, norm).outcome
                            for b in range(z.shape[1])] for n in range(2)]
             for norm, eps in BUDGETS}
    return nets, z, y, exact


def outcome_mask(outcomes, outcome):
    return torch.tensor([[o == outcome for o in row] for row in outcomes])


def inside(result, z, eps, norm):
    delta = result.inputs[0] - z
    size = delta.abs().amax(-1) if norm == "linf" else delta.norm(dim=-1)
    return bool((size <= eps * (1 + 1e-5)).all())


@pytest.mark.parametrize("norm, eps", BUDGETS)
def test_the_converged_attack_breaks_what_the_exact_solver_breaks(random_problem, norm, eps):
    nets, z, y, exact = random_problem
    found = converging_attack(nets, SUPERVISED, (z,), y, eps, norm, SMALL,
                               torch.Generator().manual_seed(0))
    verified, broken = (outcome_mask(exact[norm, eps], o) for o in ("robust", "broken"))
    assert not (verified & ~found.robust).any()  # an attack cannot break a verified point
    assert broken.sum() >= 5 and (~found.robust)[broken].float().mean() >= 0.9
    # The record: inside the ball, and broken means y f <= 0 on the true networks.
    assert inside(found.result, z, eps, norm)
    with torch.no_grad():
        margin = y * SUPERVISED.margin(nets, found.result.inputs[0])
    assert torch.equal(margin <= 0, ~found.robust)
    # Levels: steps x restarts double; the cumulative accuracy never rises, and is the final one.
    assert len(found.levels) == 4 and found.accuracy.shape == (4, 2)
    assert (found.cumulative[1:] <= found.cumulative[:-1]).all()
    assert (found.cumulative <= found.accuracy + 1e-12).all()
    assert torch.equal(found.cumulative[-1], found.robust.double().mean(-1))
    frame = found.frame()
    assert len(frame) == 8 and set(frame.converged) <= {True, False}


@pytest.mark.parametrize("norm, eps", BUDGETS)
def test_square_alone_breaks_most_of_what_the_solver_breaks(random_problem, norm, eps):
    nets, z, y, exact = random_problem
    best = square_attack(nets, SUPERVISED, (z,), y, eps, norm, queries=200,
                         best=clean_result(nets, SUPERVISED, (z,), y),
                         generator=torch.Generator().manual_seed(0))
    broken = outcome_mask(exact[norm, eps], "broken")
    assert inside(best, z, eps, norm)
    assert not (outcome_mask(exact[norm, eps], "robust") & ~best.robust).any()
    assert (~best.robust)[broken].float().mean() >= 0.7
