"""Surrogate gradients, the worst case over an attack ensemble, and certified bounds."""

import math

import pytest
import torch
import torch.nn.functional as F

from advpretrain.attack.pgd import perturb
from advpretrain.core.activations import THRESHOLDED
from advpretrain.core.seeding import numpy_rng
from advpretrain.evaluation import adaptive, ensemble
from advpretrain.evaluation.adaptive import adaptive_pgd, step_sizes
from advpretrain.evaluation.bounds import (
    activation_image,
    certified,
    head_margin_bound,
    margin_lower_bound,
    movement_bound,
    pair_score_bound,
    preactivation_bounds,
    transfer_robust,
)
from advpretrain.evaluation.ensemble import ensemble_plan, ensemble_spec, lowest_margin, worst_case
from advpretrain.evaluation.grid import attacked_inputs
from advpretrain.evaluation.movement import movement_attack
from advpretrain.model.networks import ACTIVATIONS, TwoLayerNets
from advpretrain.model.sparse_coding import DataModel, labelled_sample, orthogonal_dictionary
from advpretrain.model.surrogates import (
    SurrogateNets,
    effective_surrogate,
    surrogate_activation,
)
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import Adversary, train_networks
from advpretrain.simulation.jobs import minibatch_sampler

SUPERVISED, CONTRASTIVE = TASKS["supervised"], TASKS["contrastive"]
THRESHOLD = 0.3
FAST = {"steps": 20, "restarts": 2, "surrogates": ["own", "ste", "smooth_0.05", "smooth_0.2"],
        "paper_pgd_steps": 10}
CHEAP = {**FAST, "steps": 10, "restarts": 1}  # where the attacks' strength does not matter


def accuracy(mask):
    return mask.float().mean(-1)


# ---------------------------------------------------------------- surrogates


def pre_activations():
    """Values on both sides of +-e, exactly at +-e and at 0, in float64."""
    spread = torch.linspace(-1.0, 1.0, 401, dtype=torch.float64)
    return torch.cat([spread, torch.tensor([THRESHOLD, -THRESHOLD, 0.0], dtype=torch.float64)])


SMOOTH_FORMULAS = {
    "gate": lambda v, e, t: v * torch.sigmoid((v.abs() - e) / t),
    "relu": lambda v, e, t: t * F.softplus((v - e) / t),
    "symmetric_relu": lambda v, e, t: t * F.softplus((v - e) / t) - t * F.softplus((-v - e) / t),
}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("surrogate", ["own", "ste", "smooth_0.05", "smooth_0.5"])
def test_surrogate_forward_is_the_true_activation(activation, surrogate):
    for dtype in (torch.float32, torch.float64):
        v = pre_activations().to(dtype)
        true = ACTIVATIONS[activation](v, THRESHOLD)
        assert torch.equal(surrogate_activation(activation, surrogate)(v, THRESHOLD), true)


def gradient(function, v):
    v = v.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(function(v).sum(), v)
    return grad


@pytest.mark.parametrize("activation", THRESHOLDED)
@pytest.mark.parametrize("temperature", [0.05, 0.2])
def test_smooth_gradient_is_the_smooth_functions(activation, temperature):
    v = pre_activations()
    got = gradient(lambda x: surrogate_activation(activation, f"smooth_{temperature}")(
        x, THRESHOLD), v)
    expected = gradient(lambda x: SMOOTH_FORMULAS[activation](x, THRESHOLD, temperature), v)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", THRESHOLDED)
def test_straight_through_and_own_gradients(activation):
    v = pre_activations()
    ste = gradient(lambda x: surrogate_activation(activation, "ste")(x, THRESHOLD), v)
    assert torch.equal(ste, torch.ones_like(v))
    own = gradient(lambda x: surrogate_activation(activation, "own")(x, THRESHOLD), v)
    if activation == "gate":  # the paper's gradient 1{|v| >= e}, the threshold itself included
        assert torch.equal(own, (v.abs() >= THRESHOLD).to(v.dtype))


def test_smooth_activations_have_no_other_surrogate():
    for activation in ("tanh", "softplus"):
        assert effective_surrogate(activation, THRESHOLD, "smooth_0.1") == "own"
        assert [a.name for a in ensemble_plan(FAST, activation, THRESHOLD)] == [
            "fgm", "pgd", "own"]
    assert effective_surrogate("gate", 0.0, "ste") == "own"  # the gate at e = 0 is the identity
    assert effective_surrogate("relu", 0.0, "ste") == "ste"  # relu still hides inactive nodes
    assert [a.name for a in ensemble_plan(FAST, "gate", THRESHOLD)] == [
        "fgm", "pgd", "own", "ste", "smooth_0.05", "smooth_0.2"]


@pytest.mark.parametrize("name", ["smooth_0", "smooth_-1", "smooth_x", "smooth_nan", "hard"])
def test_unknown_surrogates_are_refused(name):
    with pytest.raises(ValueError, match="unknown surrogate"):
        surrogate_activation("gate", name)
    with pytest.raises(ValueError, match="unknown surrogate"):
        ensemble_spec({"surrogates": ["ste", name]})


def test_ensemble_spec_keys_and_step_rules():
    with pytest.raises(ValueError, match="unknown ensemble keys"):
        ensemble_spec({"step": 10})
    assert ensemble_spec({"steps": 7})["restarts"] == ensemble.DEFAULT_ENSEMBLE["restarts"]
    assert step_sizes(8, "halving") == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    assert step_sizes(1, "halving") == [1.0]  # FGM
    assert step_sizes(10, "madry") == [0.25] * 10  # attacks.pgd_step_size


def small_nets(activation="gate", n=3, hidden=8, d=5, seed=0, score_scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(n, hidden, d, generator=generator) / d**0.5
    head = torch.randn(n, hidden, generator=generator) / hidden**0.5
    return TwoLayerNets(weight, head, activation, THRESHOLD, score_scale=score_scale)


def test_surrogate_view_shares_parameters_and_forward_values():
    nets = small_nets()
    z = torch.randn(3, 50, 5, generator=torch.Generator().manual_seed(1))
    view = SurrogateNets(nets, "smooth_0.1")
    assert view.weight is nets.weight and view.head is nets.head
    assert torch.equal(view(z), nets(z)) and torch.equal(view.score(z, z.flip(1)),
                                                           nets.score(z, z.flip(1)))
    own, smooth = (gradient(lambda x, m=m: m(x), z) for m in (nets, view))
    assert not torch.equal(own, smooth)  # the gradient is what changes


# ---------------------------------------------------------------- acceptance: gradient masking


@pytest.fixture(scope="module")
def trained():
    """Gate networks (d 20, H 40, e 0.3) on sparse-coding data: one clean, two FGM-l2 (eps 0.5)
    adversarially trained from different starts, with the workflow's training loop."""
    rng = numpy_rng(5)
    model = DataModel(d=20, s=3, sigma=0.05)
    dictionary = orthogonal_dictionary(20, rng)
    _, z, y = labelled_sample(model, dictionary, rng.standard_normal(20), 2600, rng)
    z, y = torch.tensor(z, dtype=torch.float32)[None], torch.tensor(y, dtype=torch.float32)[None]
    generator = torch.Generator().manual_seed(0)
    nets = TwoLayerNets(*TwoLayerNets.initial_parameters(3, 40, 20, 1.0, generator), "gate",
                        THRESHOLD)
    adversary = Adversary(eps_l2=torch.tensor([0.0, 0.5, 0.5]), eps_linf=torch.zeros(3))
    seeds = torch.zeros(3, dtype=torch.long)
    train_networks(nets, minibatch_sampler((z[:, :2000],), y[:, :2000], seeds, 128),
                   SUPERVISED.loss, adversary, steps=400, lr=0.01, generator=generator,
                   log_every=400)
    return nets, z[:, 2000:].expand(3, -1, -1), y[:, 2000:].expand(3, -1)


def test_the_ensemble_breaks_what_the_paper_attack_misses(trained):
    nets, z, y = trained
    found = worst_case(nets, SUPERVISED, (z,), y, 0.5, "l2", FAST, torch.Generator().manual_seed(1))
    paper, worst = accuracy(found.per_attack["pgd"]), accuracy(found.robust)
    safe = certified(nets, (z,), y, 0.5, "l2")
    print(f"eps 0.5 l2: paper PGD {paper.tolist()}, ensemble {worst.tolist()}, "
          f"certified {accuracy(safe).tolist()}")
    # The adversarially trained networks look robust to their own gradient only.
    assert (paper[1:] - worst[1:] > 0.15).all()
    assert (accuracy(safe) <= worst).all() and (worst <= paper).all()
    assert not (safe & ~found.robust).any(), "a certified sample was broken"
    for mask in found.per_attack.values():
        assert not (found.robust & ~mask).any()
    assert found.standalone == {"fgm", "pgd"}


def test_samples_proved_robust_are_not_attacked_again(trained):
    """``proved``: the adaptive attacks skip the samples a bound certifies (the paper's attacks
    still try them). Every sample marked proved: the adaptive attacks break nothing the paper's
    attacks left; the certified mask as proved: the same robust accuracy to within the random
    starts' noise, the certified samples still robust."""
    nets, z, y = trained
    everything = torch.ones_like(y, dtype=torch.bool)
    found = worst_case(nets, SUPERVISED, (z,), y, 0.3, "l2", CHEAP,
                       torch.Generator().manual_seed(4), proved=everything)
    paper = found.per_attack["fgm"] & found.per_attack["pgd"]
    assert torch.equal(found.robust, paper)
    safe = certified(nets, (z,), y, 0.1, "l2")
    assert accuracy(safe).min() > 0.3  # the bound proves a good share here
    skipped = worst_case(nets, SUPERVISED, (z,), y, 0.1, "l2", CHEAP,
                         torch.Generator().manual_seed(5), proved=safe)
    full = worst_case(nets, SUPERVISED, (z,), y, 0.1, "l2", CHEAP,
                      torch.Generator().manual_seed(5))
    assert (skipped.robust | ~safe).all()
    assert torch.allclose(accuracy(skipped.robust), accuracy(full.robust), atol=0.01)


def test_lowest_margin_keeps_lowering_after_the_first_break(trained):
    """``lowest_margin`` (the pair losses' worst case): every sample attacked to the last step,
    its lowest margin kept, in the ball and as the true networks give it; below the clean
    margin everywhere, and on the samples the ensemble breaks, lower than the first breaking
    point's margin."""
    nets, z, y = trained
    eps = 0.5
    lowest = lowest_margin(nets, SUPERVISED, (z,), y, eps, "l2", CHEAP,
                           torch.Generator().manual_seed(6))
    (inputs,) = lowest.inputs
    assert ((inputs - z).norm(dim=-1) <= eps + 1e-5).all()
    with torch.no_grad():
        torch.testing.assert_close(y * nets(inputs), lowest.margin)
        assert (lowest.margin <= y * nets(z) + 1e-6).all()
    first = worst_case(nets, SUPERVISED, (z,), y, eps, "l2", CHEAP,
                       torch.Generator().manual_seed(6)).result
    broken = ~first.robust
    assert lowest.margin[broken].mean() < first.margin[broken].mean() - 0.1
    assert torch.equal(lowest.robust, lowest.margin > 0)


def test_recorded_inputs_are_in_the_ball_and_give_the_recorded_margins(trained, monkeypatch):
    nets, z, y = trained
    monkeypatch.setattr(adaptive, "CACHE_ELEMENTS", 3 * 40 * 128)  # chunks of 128 samples
    eps = torch.tensor([0.0, 0.3, 0.6])
    for norm, scale in (("l2", 1.0), ("linf", 0.25)):
        found = worst_case(nets, SUPERVISED, (z,), y, eps * scale, norm, CHEAP,
                           torch.Generator().manual_seed(2))
        (inputs,) = found.result.inputs
        delta = inputs - z
        size = delta.norm(dim=-1) if norm == "l2" else delta.abs().amax(-1)
        assert (size <= eps[:, None] * scale + 1e-5).all()
        with torch.no_grad():
            torch.testing.assert_close(y * nets(inputs), found.result.margin)
        clean = y * nets(z).detach() > 0
        assert torch.equal(found.robust[0], clean[0])  # budget 0: clean accuracy
        assert (found.robust[1:] <= clean[1:]).all()


@pytest.mark.parametrize("norm, eps", [("l2", 0.3), ("linf", 0.08)])
def test_the_ensembles_fgm_is_the_papers(trained, norm, eps):
    nets, z, y = trained
    (moved,) = attacked_inputs(lambda x: SUPERVISED.loss(nets, x, y), (z,), eps, norm, "fgm", 1, 2)
    with torch.no_grad():
        paper = y * nets(moved) > 0
        clean = y * nets(z) > 0
    found = worst_case(nets, SUPERVISED, (z,), y, eps, norm, CHEAP)
    # The ensemble also counts the clean input, which breaks samples the networks get wrong.
    assert torch.equal(found.per_attack["fgm"], paper & clean)


def test_eps_zero_is_clean_and_a_huge_eps_breaks_everything(trained):
    nets, z, y = trained
    clean = y * nets(z).detach() > 0
    found = worst_case(nets, SUPERVISED, (z,), y, 0.0, "l2", FAST)
    for mask in [found.robust, *found.per_attack.values(), certified(nets, (z,), y, 0.0, "l2")]:
        assert torch.equal(mask, clean)
    scale = z.norm(dim=-1).mean()  # about sqrt(s) = 1.7
    for norm, eps in (("l2", 10 * scale), ("linf", 10 * scale / math.sqrt(20))):
        found = worst_case(nets, SUPERVISED, (z,), y, eps, norm, FAST,
                           torch.Generator().manual_seed(3))
        assert (accuracy(found.robust) <= 0.5).all()
        assert not certified(nets, (z,), y, eps, norm).any()


# ---------------------------------------------------------------- soundness of the bounds


def ball_samples(z, eps, norm, count, generator):
    """count random perturbations per sample inside the ball and count on its surface (l_inf:
    at its corners), as (N, B * count, d) inputs with the clean inputs repeated alongside."""
    n, b, d = z.shape
    repeated = z.repeat_interleave(count, dim=1)
    noise = torch.randn(n, b * count, d, generator=generator)
    if norm == "l2":
        surface = noise / noise.norm(dim=-1, keepdim=True)
        inside = surface * torch.rand(n, b * count, 1, generator=generator) ** (1 / d)
    else:
        surface, inside = noise.sign(), torch.rand(n, b * count, d, generator=generator) * 2 - 1
    return repeated, [repeated + eps * inside, repeated + eps * surface]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("norm, eps", [("l2", 0.4), ("linf", 0.15)])
def test_bounds_hold_on_random_and_attack_perturbations(activation, norm, eps):
    nets = small_nets(activation, score_scale=0.7)
    generator = torch.Generator().manual_seed(4)
    z1, z2 = (torch.randn(3, 40, 5, generator=generator) * 0.6 for _ in range(2))
    y = torch.randint(0, 2, (3, 40), generator=generator).float() * 2 - 1
    head = head_margin_bound(nets, z1, y, eps, norm)
    pair = pair_score_bound(nets, z1, z2, y, eps, norm)
    move = movement_bound(nets, z1, eps, norm)
    count = 30
    clean1, samples1 = ball_samples(z1, eps, norm, count, generator)
    _, samples2 = ball_samples(z2, eps, norm, count, generator)
    labels = y.repeat_interleave(count, dim=1)
    h0 = nets.hidden(clean1).detach()
    with torch.no_grad():
        for x1 in samples1:
            assert (labels * nets(x1) >= head.repeat_interleave(count, dim=1)).all()
            moved = (nets.hidden(x1) - h0).norm(dim=-1)
            assert (moved <= move.repeat_interleave(count, dim=1)).all()
            for x2 in samples2:
                score = labels * nets.score(x1, x2)
                assert (score >= pair.repeat_interleave(count, dim=1)).all()
    # The attacks' own perturbations, which seek the bounds' edges.
    for task, inputs, bound in ((SUPERVISED, (z1,), head), (CONTRASTIVE, (z1, z2), pair)):
        found = worst_case(nets, task, inputs, y, eps, norm, CHEAP,
                           torch.Generator().manual_seed(5))
        assert (found.result.margin >= bound).all()
        assert not (certified(nets, inputs, y, eps, norm) & ~found.robust).any()
    moved = movement_attack(nets, z1, eps, norm, CHEAP, torch.Generator().manual_seed(6))
    assert (moved.movement <= move).all()


def test_preactivation_interval_holds_the_networks_own_rounding():
    # Each node's extreme point in the ball (z + eps w_h / ||w_h||, or eps sign(w_h) for l_inf)
    # meets the exact interval's end; the float32 product rounds past it about half the time,
    # by up to ~1e-6, which at a gate's threshold is a jump of e: the interval must hold it.
    nets = small_nets(n=2, hidden=16, d=50)
    z = torch.randn(2, 64, 50, generator=torch.Generator().manual_seed(12))
    weight = nets.weight.detach()
    for norm, eps in (("l2", 0.4), ("linf", 0.05)):
        lower, upper = preactivation_bounds(nets, z, eps, norm)
        direction = weight / weight.norm(dim=-1, keepdim=True) if norm == "l2" else weight.sign()
        for sign in (1, -1):
            extreme = z[:, :, None, :] + sign * eps * direction[:, None]  # (N, B, node, d)
            v = torch.bmm(extreme.flatten(1, 2), weight.transpose(1, 2)).reshape(2, 64, 16, 16)
            own = torch.diagonal(v, dim1=2, dim2=3).double()  # node h at its own extreme
            assert ((lower <= own) & (own <= upper)).all()


@pytest.mark.parametrize("interval, image", [((-0.5, 0.1), (-0.5, 0.0)), ((0.2, 0.4), (0.0, 0.4)),
                                             ((0.31, 0.5), (0.31, 0.5)),
                                             ((-0.29, 0.29), (0.0, 0.0)),
                                             ((-0.3, 0.3), (-0.3, 0.3)),
                                             ((-0.7, -0.4), (-0.7, -0.4)),
                                             ((-0.6, 0.8), (-0.6, 0.8))])
def test_gate_image_of_an_interval_is_exact(interval, image):
    # The gate jumps (no values in (0, e)), yet it never decreases: its ends bound its image.
    lower, upper = (torch.tensor([value], dtype=torch.float64) for value in interval)
    low, high = activation_image(lower, upper, "gate", THRESHOLD)
    assert (low.item(), high.item()) == image
    # Brute force: the gate's values on a fine grid of the interval (ends included).
    values = ACTIVATIONS["gate"](torch.linspace(*interval, 10001, dtype=torch.float64), THRESHOLD)
    assert (values.min().item(), values.max().item()) == image


# ---------------------------------------------------------------- a hand-made contrastive case


def linear_nets(d=4):
    """h(Z) = Z (gate with threshold 0 and W = I), s(Z, Z') = Z^T Z'."""
    return TwoLayerNets(torch.eye(d)[None], torch.zeros(1, d), "gate", 0.0, score_scale=1.0)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pair_bounds_and_attacks_on_the_identity(norm):
    # A similar pair (e1, e1) and a dissimilar one (e1, -e1): both have margin y s = 1.
    # Worst case over both balls: the members shrink along e1, (1 - eps)^2 (for eps <= 1/2 in
    # l2, where tilting them apart does not pay); in l_inf the free coordinates add
    # -eps^2 each, (1 - eps)^2 - 3 eps^2. The box bound is (1 - eps)^2 - 3 eps^2 in both norms:
    # per node [1 - eps, 1 + eps] x [1 - eps, 1 + eps] for e1 and [-eps, eps]^2 for the others
    # (exact for l_inf, where the ball is the box).
    eps = 0.25
    e = torch.eye(4)
    z1, z2 = e[[0, 0]][None], torch.stack([e[0], -e[0]])[None]
    y = torch.tensor([[1.0, -1.0]])
    nets = linear_nets()
    box = (1 - eps) ** 2 - 3 * eps**2
    torch.testing.assert_close(pair_score_bound(nets, z1, z2, y, eps, norm).float(),
                               torch.full((1, 2), box), atol=1e-5, rtol=0)
    attacked = (1 - eps) ** 2 if norm == "l2" else box
    found = worst_case(nets, CONTRASTIVE, (z1, z2), y, eps, norm, FAST,
                       torch.Generator().manual_seed(7))
    torch.testing.assert_close(found.result.margin, torch.full((1, 2), attacked), atol=1e-3,
                               rtol=0)
    for member, clean in zip(found.result.inputs, (z1, z2)):  # each member in its own ball
        delta = member - clean
        assert ((delta.norm(dim=-1) if norm == "l2" else delta.abs().amax(-1)) <= eps + 1e-6).all()
    assert found.robust.all() and certified(nets, (z1, z2), y, eps, norm).all()
    # Movement: h moves exactly as the input, by eps (l2) or eps sqrt(d) (l_inf corners); the
    # certified bound is the box's diagonal, eps sqrt(d) (up to rounding) in both norms.
    moved = movement_attack(nets, z1, eps, norm, FAST, torch.Generator().manual_seed(8))
    reach = eps if norm == "l2" else 2 * eps
    torch.testing.assert_close(moved.movement, torch.full((1, 2), reach), atol=1e-4, rtol=0)
    torch.testing.assert_close(movement_bound(nets, z1, eps, norm).float(),
                               torch.full((1, 2), 2 * eps), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- movement and transfer


def test_movement_attack_beats_fgm_and_stays_below_its_bound(trained):
    nets, z, y = trained
    eps, norm = 0.5, "l2"
    (fgm,) = perturb(lambda x: SUPERVISED.loss(nets, x, y), (z,), eps, norm, sample_ndim=2)
    with torch.no_grad():
        h0 = nets.hidden(z)
        fgm_movement = (nets.hidden(fgm) - h0).norm(dim=-1)
    alone = movement_attack(nets, z, eps, norm, FAST, torch.Generator().manual_seed(9))
    assert (alone.movement.mean(-1) > fgm_movement.mean(-1)).all()
    seeded = movement_attack(nets, z, eps, norm, FAST, torch.Generator().manual_seed(9),
                             starts=[fgm])
    assert (seeded.movement >= fgm_movement).all()  # the FGM input is one of its starts
    bound = movement_bound(nets, z, eps, norm)
    assert (seeded.movement <= bound).all() and (alone.movement <= bound).all()
    with torch.no_grad():
        torch.testing.assert_close((nets.hidden(seeded.inputs) - h0).norm(dim=-1),
                                   seeded.movement)
    assert ((seeded.flip_share >= 0) & (seeded.flip_share <= 1)).all()
    assert (seeded.flip_share.mean(-1) > 0).all()  # moving h far means crossing thresholds


def test_transfer_criterion_on_hand_values():
    robust = transfer_robust(torch.tensor([[1.0, 1.0, -1.0]]), torch.tensor([2.0]),
                             torch.tensor([[0.4, 0.5, 0.0]]))
    assert robust.tolist() == [[True, False, False]]


@pytest.mark.parametrize("norm, eps", [("l2", 0.05), ("l2", 0.2), ("linf", 0.02)])
def test_transfer_criterion_with_the_certified_movement_is_certified(trained, norm, eps):
    # Theorem: h(z + delta) and h0 = h(z) lie in the box [lo, hi], so |h_i - h0_i| <= m_i with
    # m_i = max(hi_i - h0_i, h0_i - lo_i) and M = ||m||_2 the certified movement. The box bound
    # is the minimum of y a^T h over the box, and for every h in it
    #   y a^T h = y a^T h0 + y a^T (h - h0) >= y a^T h0 - ||a||_2 ||h - h0||_2
    #           >= y a^T h0 - ||a||_2 M            (Cauchy-Schwarz, then |h_i - h0_i| <= m_i).
    # So the criterion's robust samples (y a^T h0 > ||a||_2 M) have a positive box bound: its
    # accuracy is at most the certified one (the converse fails: the box is per-coordinate).
    nets, z, y = trained
    with torch.no_grad():
        margins = y * nets(z)
    norms = nets.head.detach().norm(dim=-1)
    movement = movement_bound(nets, z, eps, norm)
    bound = margin_lower_bound(nets, (z,), y, eps, norm)
    slack = 1e-4 * (1 + margins.abs().double())  # rounding of the float32 margins and bounds
    assert (bound >= margins.double() - norms[:, None].double() * movement - slack).all()
    nern = transfer_robust(margins.double(), norms.double(), movement)
    safe = certified(nets, (z,), y, eps, norm)
    assert not (nern & ~safe).any()
    assert (accuracy(nern) <= accuracy(safe)).all()
    assert accuracy(safe)[0] > 0  # the small budget certifies something


def test_adaptive_pgd_continues_an_earlier_record(trained):
    nets, z, y = trained
    first = adaptive_pgd(nets, SUPERVISED, (z,), y, 0.5, "l2", steps=10, surrogate="own",
                         generator=torch.Generator().manual_seed(10))
    broken = ~first.robust
    later = adaptive_pgd(nets, SUPERVISED, (z,), y, 0.5, "l2", steps=10, surrogate="smooth_0.2",
                         generator=torch.Generator().manual_seed(11), initial=first)
    assert torch.equal(later.margin[broken], first.margin[broken])  # kept, not attacked again
    assert torch.equal(later.inputs[0][broken], first.inputs[0][broken])
    assert (later.margin <= first.margin).all() and (~later.robust).sum() > broken.sum()
