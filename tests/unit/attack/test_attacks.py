import pytest
import torch

from advpretrain.attack.pgd import perturb, random_perturbation


def quadratic_loss(x):
    """Per-sample loss with a known gradient direction (x itself)."""
    return (x**2).sum(-1)


@pytest.fixture
def points():
    return torch.randn(4, 6, 10, generator=torch.Generator().manual_seed(0))


def test_fgm_l2_moves_exactly_eps_along_the_gradient(points):
    (moved,) = perturb(quadratic_loss, (points,), 0.5, "l2", sample_ndim=2)
    delta = moved - points
    torch.testing.assert_close(delta.norm(dim=-1), torch.full((4, 6), 0.5))
    torch.testing.assert_close(delta, 0.5 * points / points.norm(dim=-1, keepdim=True))


def test_fgm_linf_moves_eps_in_every_coordinate(points):
    (moved,) = perturb(quadratic_loss, (points,), 0.1, "linf", sample_ndim=2)
    torch.testing.assert_close((moved - points).abs(), torch.full_like(points, 0.1))
    torch.testing.assert_close(moved - points, 0.1 * points.sign())


def test_per_network_budgets(points):
    eps = torch.tensor([0.0, 0.1, 0.2, 0.3])[:, None, None]
    (moved,) = perturb(quadratic_loss, (points,), eps, "l2", sample_ndim=2)
    torch.testing.assert_close((moved - points).norm(dim=-1), eps[..., 0].expand(4, 6))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_stays_in_the_ball_and_the_bounds(norm):
    images = torch.rand(5, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    (moved,) = perturb(lambda x: -(x - 0.3).pow(2).flatten(1).sum(1), (images,), 0.2, norm,
                       steps=7, step_size=0.08, random_start=True, bounds=(0.0, 1.0),
                       generator=torch.Generator().manual_seed(2))
    delta = (moved - images).flatten(1)
    size = delta.norm(dim=1) if norm == "l2" else delta.abs().max(dim=1).values
    assert (size <= 0.2 + 1e-6).all()
    assert moved.min() >= 0 and moved.max() <= 1


def test_pair_inputs_are_perturbed_jointly(points):
    moved = perturb(lambda a, b: (a * b).sum(-1), (points, points.flip(0)), 0.3, "l2",
                    sample_ndim=2)
    for original, new in zip((points, points.flip(0)), moved):
        torch.testing.assert_close((new - original).norm(dim=-1), torch.full((4, 6), 0.3))


def test_unknown_norm_is_refused(points):
    with pytest.raises(ValueError, match="unknown attack norm"):
        perturb(quadratic_loss, (points,), 0.1, "l1")


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_the_default_random_start_draws_what_it_always_drew(norm):
    """The default start: the cube sample, for l2 normalised per sample and scaled by a radius
    uniform in [0, eps], from the same random numbers; ``uniform_ball`` changes only l2."""
    images = torch.rand(5, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(3)
    expected = torch.rand(images.shape, generator=generator) * 2 - 1
    if norm == "l2":
        expected = expected / expected.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
        expected = expected * torch.rand(5, 1, 1, 1, generator=generator) * 0.2
    else:
        expected = expected * 0.2
    drawn = random_perturbation(images, 0.2, norm, 1, torch.Generator().manual_seed(3))
    assert torch.equal(drawn, expected)
    ball = random_perturbation(images, 0.2, norm, 1, torch.Generator().manual_seed(3),
                               uniform_ball=True)
    assert torch.equal(ball, drawn) == (norm == "linf")
    size = ball.flatten(1).norm(dim=1) if norm == "l2" else ball.abs().flatten(1).amax(1)
    assert (size <= 0.2 + 1e-6).all()
