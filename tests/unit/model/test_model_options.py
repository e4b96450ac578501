"""The model options beyond the paper (relative threshold, unit rows, a surrogate training
attack): each does what it says, and the defaults are the paper's model bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advpretrain.attack.pgd import input_gradients, perturb, steepest_step
from advpretrain.core.activations import THRESHOLDED
from advpretrain.evaluation.bounds import certified, hidden_bounds
from advpretrain.evaluation.exact import decide
from advpretrain.model.networks import ACTIVATIONS, TwoLayerNets, active, active_nodes
from advpretrain.model.optimizers import Adam
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import Adversary, train_networks
from advpretrain.simulation.jobs import initial_networks, job_adversary, place_ideal

SUPERVISED = TASKS["supervised"]
N, H, D, BATCH = 3, 6, 5, 16


def stack(seed=0, scale=2.0):
    """Weights (N, H, D) with row norms well above 1, heads (N, H)."""
    generator = torch.Generator().manual_seed(seed)
    weight, head = TwoLayerNets.initial_parameters(N, H, D, scale * D**0.5, generator)
    return weight, head


def sampler(seed=1):
    """Supervised minibatches of a fixed random task (labels the sign of a fixed direction)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(N, 200, D, generator=generator)
    y = torch.sign(z[..., 0] + 0.5 * z[..., 1])

    def sample(gen):
        index = torch.randint(200, (N, BATCH), generator=gen)
        rows = torch.arange(N)[:, None]
        return (z[rows, index],), y[rows, index]

    return sample


def fgm_adversary(surrogate="own"):
    return Adversary(eps_l2=torch.tensor([0.0, 0.3, 0.3]), eps_linf=torch.zeros(N),
                     surrogate=surrogate)


# ---------------------------------------------------------------- (a) relative threshold


@pytest.mark.parametrize("activation", THRESHOLDED)
def test_the_relative_threshold_scales_with_the_row_norm(activation):
    """A row of norm 3, e = 0.3: a projection of 0.6 clears e but not e ||w|| = 0.9; one of 1.0
    clears both."""
    weight, head = torch.tensor([[[3.0, 0.0]]]), torch.ones(1, 1)
    z = torch.tensor([[[0.2, 0.0], [1.0 / 3.0, 0.0]]])  # w . z = 0.6 and 1.0
    fires = {mode: active(TwoLayerNets(weight, head, activation, 0.3, threshold_mode=mode
                                       ).hidden(z))[0, :, 0].tolist()
             for mode in ("absolute", "relative")}
    assert fires == {"absolute": [True, True], "relative": [False, True]}
    relative = TwoLayerNets(weight, head, activation, 0.3, threshold_mode="relative")
    v = torch.bmm(z, weight.transpose(1, 2))
    assert active_nodes(v, activation, relative.node_threshold())[0, :, 0].tolist() == \
        [False, True]


@pytest.mark.parametrize("activation", THRESHOLDED)
def test_a_relative_network_is_the_absolute_one_on_unit_rows(activation):
    """sigma is positively homogeneous in (v, e): with e ||w_h|| the network is the absolute one
    whose rows are w_h / ||w_h|| and whose head is a_h ||w_h||."""
    weight, head = stack()
    weight, head = weight.double(), head.double()
    z = torch.randn(N, 40, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    relative = TwoLayerNets(weight, head, activation, 0.3, threshold_mode="relative")
    norms = weight.norm(dim=-1)
    unit = TwoLayerNets(weight / norms[..., None], head * norms, activation, 0.3)
    torch.testing.assert_close(relative(z), unit(z))
    assert not torch.equal(relative(z), TwoLayerNets(weight, head, activation, 0.3)(z))


@pytest.mark.parametrize("activation", THRESHOLDED)
def test_bounds_hold_for_the_relative_threshold(activation):
    """The certified bound uses each node's own threshold: it never claims a sample that an
    attack breaks, and its hidden interval holds the attacked representation."""
    weight, head = stack(3)
    nets = TwoLayerNets(weight, head, activation, 0.3, threshold_mode="relative")
    generator = torch.Generator().manual_seed(4)
    z = torch.randn(N, 64, D, generator=generator)
    labels = torch.sign(nets(z).detach())
    lower, upper = hidden_bounds(nets, z, 0.2, "l2")
    attacked = perturb(lambda x: SUPERVISED.loss(nets, x, labels), (z,), 0.2, "l2", steps=10,
                       step_size=0.05, random_start=True, sample_ndim=2, generator=generator)[0]
    hidden = nets.hidden(attacked).detach().double()
    assert bool(((lower <= hidden) & (hidden <= upper)).all())
    broken = labels * nets(attacked).detach() <= 0
    assert not bool((certified(nets, (z,), labels, 0.2, "l2") & broken).any())


def test_exact_verification_decides_a_relative_network_as_its_unit_row_twin():
    """Each node's pieces and jumps sit at its own threshold e ||w_h||."""
    generator = torch.Generator().manual_seed(13)
    weight, head = torch.randn(1, 6, 4, generator=generator), torch.randn(1, 6, generator=generator)
    relative = TwoLayerNets(weight, head, "gate", 0.3, threshold_mode="relative")
    norms = weight.norm(dim=-1)
    twin = TwoLayerNets(weight / norms[..., None], head * norms, "gate", 0.3)
    outcomes = []
    for z in torch.randn(10, 4, generator=generator):
        label = float(torch.sign(twin(z.reshape(1, 1, -1)).detach()))
        outcomes.append((decide(relative, 0, z, label, 0.3, "linf").outcome,
                         decide(twin, 0, z, label, 0.3, "linf").outcome))
    assert all(a == b for a, b in outcomes) and {a for a, _ in outcomes} == {"robust", "broken"}


# ---------------------------------------------------------------- (b) unit rows


def train(nets, steps=20, **masks):
    train_networks(nets, sampler(), SUPERVISED.loss, fgm_adversary(), steps=steps, lr=0.05,
                   generator=torch.Generator().manual_seed(5), log_every=steps, **masks)


def test_unit_rows_stay_on_the_unit_sphere_through_training():
    weight, head = stack()
    kept = TwoLayerNets(weight, head, "gate", 0.3, unit_rows=True)
    kept.project_rows()
    free = TwoLayerNets(kept.weight.detach(), head, "gate", 0.3)
    train(kept)
    train(free)
    ones = torch.ones(N, H)
    torch.testing.assert_close(kept.weight.detach().norm(dim=-1), ones, atol=1e-6, rtol=0)
    assert (free.weight.detach().norm(dim=-1) - ones).abs().max() > 1e-2


def test_unit_rows_leave_the_untrained_and_the_frozen_layers_bit_for_bit():
    """Initialisation projects every network (the untrained control too); training projects only
    the layers that train, so the controls keep their rows exactly."""
    architecture = {"d": D, "hidden": 2 * D, "init_scale": 1.0, "activation": "gate",
                    "threshold": 0.3, "threshold_mode": "absolute", "unit_rows": True}
    variants = [{"variant": "clean", "norm": "l2", "eps": 0.0},
                {"variant": "ideal", "norm": "l2", "eps": 0.0, "control": "ideal"},
                {"variant": "untrained", "norm": "l2", "eps": 0.0, "control": "untrained"}]
    nets = initial_networks(architecture, 1, variants, torch.Generator().manual_seed(6))
    torch.testing.assert_close(nets.weight.detach().norm(dim=-1), torch.ones(3, 2 * D))
    dictionary = torch.linalg.qr(torch.randn(1, D, D, generator=torch.Generator().manual_seed(7)
                                             ))[0]
    layer_trained = place_ideal(nets, variants, dictionary)
    start = nets.weight.detach().clone()
    generator = torch.Generator().manual_seed(8)
    z = torch.randn(1, 100, D, generator=generator)
    y = torch.sign(z[..., 0])

    def sample(gen):
        index = torch.randint(100, (1, BATCH), generator=gen)
        return (z[0, index[0]].expand(3, -1, -1),), y[0, index[0]].expand(3, -1)

    train_networks(nets, sample, SUPERVISED.loss, job_adversary(variants, 1), steps=10, lr=0.05,
                   generator=generator, log_every=10, trained=torch.tensor([1.0, 1.0, 0.0]),
                   layer_trained=layer_trained)
    weight = nets.weight.detach()
    assert torch.equal(weight[1:], start[1:])
    assert not torch.equal(weight[0], start[0])
    torch.testing.assert_close(weight[0].norm(dim=-1), torch.ones(2 * D), atol=1e-6, rtol=0)


# ---------------------------------------------------------------- (c) surrogate training attack


def smooth_gate_loss(nets, z, labels, temperature):
    """The logistic loss of the networks with the smoothed gate v sigmoid((|v| - e) / T)."""
    v = torch.bmm(z, nets.weight.transpose(1, 2))
    hidden = v * torch.sigmoid((v.abs() - nets.threshold) / temperature)
    margin = torch.bmm(hidden, nets.head.unsqueeze(-1)).squeeze(-1)
    return F.softplus(-labels * margin)


def test_fgm_through_the_smoothed_gate_raises_the_smoothed_loss_more():
    weight, head = stack(9, scale=0.15)  # rows of norm about 0.3: nodes near the threshold
    nets = TwoLayerNets(weight, head, "gate", 0.3)
    (z,), labels = sampler(10)(torch.Generator().manual_seed(11))
    moved = {surrogate: fgm_adversary(surrogate).adversarial_inputs(
        SUPERVISED.loss, nets, (z,), labels, None)[0] for surrogate in ("own", "smooth_0.1")}
    with torch.no_grad():
        losses = {name: smooth_gate_loss(nets, x, labels, 0.1)[1:].mean()
                  for name, x in {"clean": z, **moved}.items()}
    assert losses["smooth_0.1"] - losses["clean"] > losses["own"] - losses["clean"] > 0
    steps = (moved["smooth_0.1"] - z)[1:].norm(dim=-1)
    torch.testing.assert_close(steps, torch.full_like(steps, 0.3))  # the same l2 budget


def test_the_surrogate_attack_keeps_the_true_forward_pass():
    """PGD through the surrogate judges nothing by it: a clean network is untouched, and the
    training loss is the true networks' (both runs start alike and differ only in their attack)."""
    weight, head = stack()
    runs = {}
    for surrogate in ("own", "smooth_0.1"):
        nets = TwoLayerNets(weight, head, "gate", 0.3)
        adversary = fgm_adversary(surrogate)
        adversary.steps = 3
        train_networks(nets, sampler(), SUPERVISED.loss, adversary, steps=5, lr=0.05,
                       generator=torch.Generator().manual_seed(5), log_every=5)
        runs[surrogate] = nets.weight.detach()
    assert torch.equal(runs["own"][0], runs["smooth_0.1"][0])  # budget 0: no attack
    assert not torch.equal(runs["own"][1:], runs["smooth_0.1"][1:])


# ---------------------------------------------------------------- (d) the defaults


def paper_forward(weight, head, activation, z):
    """The branch point's forward pass, written out: hardshrink at the dtype's number below e
    (gate), relu(v - e), softshrink."""
    v = torch.bmm(z, weight.transpose(1, 2))
    edge = torch.tensor(0.3, dtype=v.dtype)
    hidden = {"gate": lambda: F.hardshrink(v, torch.nextafter(edge, torch.zeros_like(edge)).item()),
              "relu": lambda: F.relu(v - 0.3), "symmetric_relu": lambda: F.softshrink(v, 0.3),
              "tanh": lambda: torch.tanh(v), "softplus": lambda: F.softplus(v)}[activation]()
    return torch.bmm(hidden, head.unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_the_defaults_compute_the_paper_network(activation):
    weight, head = stack()
    z = torch.randn(N, 50, D, generator=torch.Generator().manual_seed(12))
    implicit = TwoLayerNets(weight, head, activation, 0.3)
    explicit = TwoLayerNets(weight, head, activation, 0.3, threshold_mode="absolute",
                            unit_rows=False)
    assert torch.equal(implicit(z), explicit(z))
    assert torch.equal(implicit(z), paper_forward(weight, head, activation, z))
    assert torch.equal(implicit.weight, weight)  # no projection without unit_rows


class PaperNets(nn.Module):
    """The branch point's networks: parameters in TwoLayerNets' order, its forward pass."""

    def __init__(self, weight, head):
        super().__init__()
        self.weight, self.head = nn.Parameter(weight.clone()), nn.Parameter(head.clone())

    def forward(self, z):
        return paper_forward(self.weight, self.head, "gate", z)


def paper_training(weight, head, steps):
    """The branch point's train_networks with its FGM adversary, written out: Adam on the summed
    per-network mean loss of inputs moved by eps times the l2-normalised own input gradient."""
    nets, sample = PaperNets(weight, head), sampler()
    optimizer, generator = Adam(nets.parameters(), lr=0.05), torch.Generator().manual_seed(5)
    budget = fgm_adversary().eps_l2[:, None, None]
    for _ in range(steps):
        (z,), labels = sample(generator)
        pair_mask = torch.ones_like(labels)
        (grad,) = input_gradients(lambda x, y=labels: SUPERVISED.loss(nets, x, y), (z,))
        z = z + (0 + budget * pair_mask[..., None] * steepest_step(grad, "l2", 2))
        losses = SUPERVISED.loss(nets, z, labels).mean(dim=1)
        optimizer.zero_grad()
        losses.sum().backward()
        optimizer.step()
    return nets.weight.detach(), nets.head.detach()


def test_default_training_is_the_paper_training_bit_for_bit():
    weight, head = stack()
    expected = paper_training(weight, head, 20)
    for options in ({}, {"threshold_mode": "absolute", "unit_rows": False}):
        nets = TwoLayerNets(weight, head, "gate", 0.3, **options)
        train(nets)
        assert torch.equal(nets.weight.detach(), expected[0])
        assert torch.equal(nets.head.detach(), expected[1])
