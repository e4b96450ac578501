"""Exact verification (``evaluation.exact``) against brute force over every activation pattern."""

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from advpretrain.core.activations import THRESHOLDED
from advpretrain.core.seeding import numpy_rng
from advpretrain.evaluation.bounds import certified
from advpretrain.evaluation.ensemble import worst_case
from advpretrain.evaluation.exact import (
    OUTCOMES,
    activation_pieces,
    decide,
    subsample_indices,
    summarise,
    verify_subsample,
)
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.sparse_coding import DataModel, labelled_sample, orthogonal_dictionary
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import Adversary, train_networks
from advpretrain.simulation.jobs import minibatch_sampler

THRESHOLD = 0.3
GAP = 1e-3  # brute-force minima this close to 0 are not compared


# ---------------------------------------------------------------- brute force


def leaf_minimum_linf(gradient, a_ub, b_ub, eps):
    result = linprog(gradient, A_ub=a_ub, b_ub=b_ub, bounds=[(-eps, eps)] * gradient.size,
                     method="highs")
    return result.fun if result.status == 0 else np.inf


def leaf_minimum_l2(gradient, a_ub, b_ub, eps):
    """min g . delta over {A delta <= b, ||delta|| <= eps} by its KKT points: the optimum lies
    on some set S of active linear constraints, either at a vertex (|S| = d, ball inactive) or at
    the point of the affine set {A_S delta = b_S} on the sphere that is lowest along g."""
    d = gradient.size
    best = np.inf
    for size in range(min(d, len(b_ub)) + 1):
        for active in itertools.combinations(range(len(b_ub)), size):
            rows, sides = a_ub[list(active)], b_ub[list(active)]
            if size and np.linalg.matrix_rank(rows) < size:
                continue
            nearest = np.linalg.pinv(rows) @ sides if size else np.zeros(d)
            candidates = [nearest]  # a feasible one is a KKT point of min ||delta|| too
            if size < d:
                projector = np.eye(d) - (np.linalg.pinv(rows) @ rows if size else 0)
                direction = projector @ gradient
                slack = eps**2 - nearest @ nearest
                if slack >= 0 and np.linalg.norm(direction) > 1e-12:
                    candidates.append(nearest - np.sqrt(slack) * direction
                                      / np.linalg.norm(direction))
            for delta in candidates:
                inside = delta @ delta <= eps**2 * (1 + 1e-9) + 1e-12
                if inside and (a_ub @ delta <= b_ub + 1e-9).all():
                    best = min(best, gradient @ delta)
    return best


def brute_force_minimum(weight, head, activation, z, label, eps, norm):
    """min over the ball of y a^T sigma(W (z + delta)) in float64, over the CLOSURE of every
    activation pattern: each pattern's region in the ball is convex and its margin linear."""
    pieces, _ = activation_pieces(activation, float(np.float32(THRESHOLD)))
    centre = weight @ z
    leaf = leaf_minimum_linf if norm == "linf" else leaf_minimum_l2
    # A piece that the node's exact pre-activation range over the ball misses has an empty leaf.
    dual = np.linalg.norm(weight, axis=1) if norm == "l2" else np.abs(weight).sum(1)
    reachable = [[p for p in pieces if p.lower <= c + eps * r and p.upper >= c - eps * r]
                 for c, r in zip(centre, dual)]
    best = np.inf
    for pattern in itertools.product(*reachable):
        gradient, constant, a_ub, b_ub = np.zeros(z.size), 0.0, [], []
        for h, piece in enumerate(pattern):
            coefficient = label * head[h]
            gradient += coefficient * piece.slope * weight[h]
            constant += coefficient * (piece.slope * centre[h] + piece.intercept)
            if np.isfinite(piece.upper):  # w . delta <= upper - c
                a_ub.append(weight[h])
                b_ub.append(piece.upper - centre[h])
            if np.isfinite(piece.lower):
                a_ub.append(-weight[h])
                b_ub.append(centre[h] - piece.lower)
        if not a_ub:
            a_ub, b_ub = np.zeros((0, z.size)), []
        best = min(best, constant + leaf(gradient, np.array(a_ub), np.array(b_ub), eps))
    return best


def margin32(nets, network, x):
    """y-free output of network ``network`` at x (d,) by the float32 forward pass."""
    stack = torch.zeros(nets.weight.shape[0], 1, x.numel())
    stack[network, 0] = x
    with torch.no_grad():
        return float(nets(stack)[network, 0])


def small_nets(activation, seed, n_models=3):
    generator = torch.Generator().manual_seed(seed)
    return TwoLayerNets(*TwoLayerNets.initial_parameters(n_models, 4, 3, 2.0, generator),
                        activation, THRESHOLD)


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("activation", THRESHOLDED)
def test_decisions_agree_with_brute_force(activation, norm):
    """d 3, H 4 (3^4 patterns): robust where the brute-force minimum is > 0, broken where it is
    < 0, every counterexample inside the ball with y f <= 0 on the float32 networks."""
    decided = {"robust": 0, "broken": 0}
    budgets = (0.1, 0.3, 0.8) if norm == "l2" else (0.05, 0.15, 0.4)
    for seed in range(3):
        nets = small_nets(activation, seed)
        rng = numpy_rng(100 + seed)
        for network in range(nets.weight.shape[0]):
            weight = nets.weight[network].detach().double().numpy()
            head = nets.head[network].detach().double().numpy()
            for _ in range(2):
                z = torch.tensor(rng.standard_normal(3), dtype=torch.float32)
                output = margin32(nets, network, z)
                label = 1.0 if output >= 0 else -1.0  # clean-correct where the output is not 0
                for eps in budgets:
                    minimum = brute_force_minimum(weight, head, activation, z.double().numpy(),
                                                  label, eps, norm)
                    decision = decide(nets, network, z, label, eps, norm, time_limit=20)
                    if decision.outcome == "broken":
                        size = (decision.delta.__abs__().max() if norm == "linf"
                                else np.linalg.norm(decision.delta))
                        assert size <= eps
                        x = z + torch.tensor(decision.delta, dtype=torch.float32)
                        assert label * margin32(nets, network, x) <= 0
                        assert minimum <= 0
                    if minimum > GAP:
                        assert decision.outcome == "robust", (seed, network, eps, minimum)
                        decided["robust"] += 1
                    elif minimum < -GAP:
                        assert decision.outcome == "broken", (seed, network, eps, minimum)
                        decided["broken"] += 1
    # Both outcomes occur often enough for the agreement to mean something.
    assert min(decided.values()) >= 5, decided


def test_a_minimum_on_the_gates_jump_is_undecided_not_broken():
    """One gate node v = z - delta with z 0.5, e 0.3, l2 eps 0.2: the closure's minimum 0 sits at
    v = e, where the float32 gate is on (margin 0.3), and nowhere away from the jump is the
    margin <= 0; so no counterexample is accepted and nothing is certified either."""
    nets = TwoLayerNets(torch.ones(1, 1, 1), torch.ones(1, 1), "gate", THRESHOLD)
    decision = decide(nets, 0, torch.tensor([0.5]), 1.0, 0.2, "l2")
    assert decision.outcome == "undecided"
    assert decide(nets, 0, torch.tensor([0.5]), 1.0, 0.19, "l2").outcome == "robust"
    broken = decide(nets, 0, torch.tensor([0.5]), 1.0, 0.21, "l2")
    assert broken.outcome == "broken" and broken.margin == 0.0  # the dead zone: f = 0


def test_smooth_activations_are_refused():
    nets = TwoLayerNets(torch.ones(1, 1, 1), torch.ones(1, 1), "tanh", THRESHOLD)
    with pytest.raises(ValueError, match="piecewise-linear"):
        decide(nets, 0, torch.tensor([0.5]), 1.0, 0.2, "l2")


# ---------------------------------------------------------------- a trained net


@pytest.fixture(scope="module")
def trained():
    """Gate networks (d 10, H 20, e 0.3) on sparse-coding data, one clean and one FGM-l2 (0.3)
    adversarially trained, with the workflow's training loop; 200 test points."""
    rng = numpy_rng(7)
    model = DataModel(d=10, s=2, sigma=0.05)
    dictionary = orthogonal_dictionary(10, rng)
    _, z, y = labelled_sample(model, dictionary, rng.standard_normal(10), 1200, rng)
    z, y = torch.tensor(z, dtype=torch.float32)[None], torch.tensor(y, dtype=torch.float32)[None]
    generator = torch.Generator().manual_seed(0)
    nets = TwoLayerNets(*TwoLayerNets.initial_parameters(2, 20, 10, 1.0, generator), "gate",
                        THRESHOLD)
    adversary = Adversary(eps_l2=torch.tensor([0.0, 0.3]), eps_linf=torch.zeros(2))
    train_networks(nets, minibatch_sampler((z[:, :1000],), y[:, :1000],
                                           torch.zeros(2, dtype=torch.long), 100),
                   TASKS["supervised"].loss, adversary, steps=200, lr=0.01, generator=generator,
                   log_every=200)
    return nets, z[:, 1000:].expand(2, -1, -1), y[:, 1000:].expand(2, -1)


@pytest.mark.parametrize("norm, eps, size", [("l2", 0.15, 12), ("linf", 0.05, 20)])
def test_robust_points_resist_the_ensemble_and_certified_ones_are_robust(trained, norm, eps,
                                                                          size):
    """On a subsample (fewer points for l2: SCIP takes about 0.3 s a point on one core)."""
    nets, z, y = trained
    decisions = verify_subsample(nets, z, y, {norm: [eps]}, sample_size=size, base_seed=3)
    points = subsample_indices(z.shape[1], size, 3)
    found = worst_case(nets, TASKS["supervised"], (z[:, points],), y[:, points], eps, norm,
                       {"steps": 20, "restarts": 2}, torch.Generator().manual_seed(1))
    safe = certified(nets, (z[:, points],), y[:, points], eps, norm)
    outcome = decisions.pivot(index="network", columns="point", values="outcome").to_numpy()
    robust = torch.tensor(outcome == "robust")
    assert not (robust & ~found.robust).any()  # no attack breaks a verified point
    assert robust[safe].all()  # the interval bound's certificates stand
    # The solver decides points the interval bound cannot, both ways.
    solved = decisions[decisions.method.isin(["milp", "miqcp"])]
    assert (solved.outcome == "robust").any() and (solved.outcome == "broken").any()
    assert (decisions.outcome != "undecided").all()
    # The ensemble's counterexamples, checked like the solver's, decide the same way.
    attacked = z.clone()
    attacked[:, points] = found.result.inputs[0]
    helped = verify_subsample(nets, z, y, {norm: [eps]}, sample_size=size, base_seed=3,
                              attacked={(norm, eps): attacked})
    assert helped.outcome.tolist() == decisions.outcome.tolist()
    assert (helped.method == "attack").any()


def test_the_subsample_and_the_table():
    nets = small_nets("gate", 0, n_models=2)
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(2, 40, 3, generator=generator)
    y = torch.where(nets(z).detach() >= 0, 1.0, -1.0)
    points = subsample_indices(40, 6, 11, "gate")
    assert np.array_equal(points, subsample_indices(40, 6, 11, "gate"))
    assert not np.array_equal(points, subsample_indices(40, 6, 12, "gate"))
    decisions = verify_subsample(nets, z, y, {"linf": [0.3, 0.05], "l2": [0.2]},
                                 sample_size=6, base_seed=11, seed_parts=("gate",))
    assert len(decisions) == 2 * 3 * 6
    assert set(decisions.point) == set(points.tolist())
    assert set(decisions.outcome) <= set(OUTCOMES)
    # Over ascending budgets a broken point stays broken; the larger budget reuses its delta.
    linf = decisions[decisions.norm == "linf"].pivot(index=["network", "point"], columns="eps",
                                                     values="outcome")
    assert not ((linf[0.05] == "broken") & (linf[0.3] != "broken")).any()
    summary = summarise(decisions)
    assert len(summary) == 2 * 3
    assert (summary[list(OUTCOMES)].sum(axis=1) == 6).all() and (summary.points == 6).all()
    assert (summary.lower <= summary.upper).all()
    assert np.allclose(summary.width, summary.undecided / 6)
    counted = decisions.groupby(["network", "norm", "eps"]).outcome.apply(
        lambda o: (o == "robust").mean()).to_numpy()
    assert np.allclose(summary.lower, counted)
    with pytest.raises(ValueError, match="unknown norms"):
        verify_subsample(nets, z, y, {"l1": [0.1]}, sample_size=6, base_seed=11)
