"""Attack sanity on small trained models: ordering, monotonicity, eps = 0, torchattacks."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advpretrain.attack.pgd import perturb
from advpretrain.core.seeding import numpy_rng
from advpretrain.evaluation.grid import attack_grid
from advpretrain.model.networks import TwoLayerNets, logistic_loss
from advpretrain.model.sparse_coding import DataModel, labelled_sample, orthogonal_dictionary


@pytest.fixture(scope="module")
def trained_nets():
    """Three networks trained on sparse-coding data (clean Adam, 300 steps)."""
    rng = numpy_rng(11)
    model = DataModel(d=20, s=2, sigma=0.05)
    dictionary = orthogonal_dictionary(20, rng)
    beta = rng.standard_normal(20)
    _, z, y = labelled_sample(model, dictionary, beta, 3000, rng)
    z = torch.tensor(z, dtype=torch.float32).expand(3, -1, -1)
    y = torch.tensor(y, dtype=torch.float32).expand(3, -1)
    generator = torch.Generator().manual_seed(0)
    nets = TwoLayerNets(*TwoLayerNets.initial_parameters(3, 32, 20, 1.0, generator), "gate", 0.3)
    optimizer = torch.optim.Adam(nets.parameters(), lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        logistic_loss(y[:, :2000] * nets(z[:, :2000])).mean(-1).sum().backward()
        optimizer.step()
    return nets, z[:, 2000:], y[:, 2000:]


@pytest.mark.parametrize("norm, grid", [("l2", [0.0, 0.1, 0.2, 0.4, 0.8]),
                                        ("linf", [0.0, 0.02, 0.05, 0.1, 0.2])])
def test_pgd_below_fgm_below_clean_and_monotone(trained_nets, norm, grid):
    nets, z, y = trained_nets
    rows = list(attack_grid(lambda x, labels: logistic_loss(labels * nets(x)), nets,
                            (z,), y, {norm: grid}, ["fgm", "pgd"], 10,
                            torch.Generator().manual_seed(1)))
    accuracy = {(r["attack"], r["eps"]): r["correct"].mean(-1) for r in rows}
    clean = accuracy[("fgm", 0.0)]
    assert clean.min() > 0.8, "the fixture networks should have learned the task"
    torch.testing.assert_close(accuracy[("pgd", 0.0)], clean)  # eps = 0 is clean accuracy
    for eps in grid:
        assert (accuracy[("pgd", eps)] <= accuracy[("fgm", eps)] + 0.01).all()
        assert (accuracy[("fgm", eps)] <= clean + 1e-6).all()
    for attack in ("fgm", "pgd"):
        curve = torch.stack([accuracy[(attack, eps)] for eps in grid])
        assert (curve[1:] <= curve[:-1] + 0.01).all(), f"{attack} accuracy rose with eps"


class Classifier(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 3))
        for parameter in self.parameters():
            with torch.no_grad():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)

    def forward(self, x):
        return self.layers(x)


def test_our_pgd_agrees_with_torchattacks():
    torchattacks = pytest.importorskip("torchattacks")
    generator = torch.Generator().manual_seed(3)
    centres = 0.5 + 0.08 * torch.randn(3, 3, 4, 4, generator=generator)
    labels = torch.randint(3, (1500,), generator=generator)
    images = (centres[labels] + 0.1 * torch.randn(1500, 3, 4, 4, generator=generator)).clamp(0, 1)
    model = Classifier(generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval()
    eps, alpha, steps = 8 / 255, 2 / 255, 10

    (ours,) = perturb(lambda x: F.cross_entropy(model(x), labels, reduction="none"), (images,),
                      eps, "linf", steps=steps, step_size=alpha, random_start=True,
                      bounds=(0.0, 1.0), generator=torch.Generator().manual_seed(4))
    torch.manual_seed(4)
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)(
        images, labels)
    with torch.no_grad():
        clean = (model(images).argmax(1) == labels).float().mean().item()
        ours_acc = (model(ours).argmax(1) == labels).float().mean().item()
        theirs_acc = (model(theirs).argmax(1) == labels).float().mean().item()
    assert ours_acc < clean - 0.02, "the attack should bite on this model"
    assert abs(ours_acc - theirs_acc) <= 0.01, (clean, ours_acc, theirs_acc)
    assert (ours - images).abs().max() <= eps + 1e-6 and ours.min() >= 0 and ours.max() <= 1
