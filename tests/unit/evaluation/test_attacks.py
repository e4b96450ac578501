import pytest
import torch

from advpretrain.evaluation.core import perturb


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
