"""Contrastive half (C3, C4): pair construction, the similar / dissimilar loss split, variants."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.sparse_coding import DataModel, contrastive_pairs, orthogonal_dictionary
from advpretrain.model.tasks import TASKS, split_by_pair_type
from advpretrain.simulation.evaluate_pair_loss import loss_increase, training_frame
from advpretrain.simulation.jobs import attack_frame, job_adversary
from advpretrain.simulation.pretrain import pair_loss_rows, training_log_frame
from advpretrain.workflow import params as settings

MODEL = DataModel(d=20, s=3, sigma=0.05)
N_PAIRS = 4000


def make_pairs(similar_share, seed=0):
    rng = np.random.default_rng(seed)
    dictionary = orthogonal_dictionary(MODEL.d, rng)
    x1, x2, z1, z2, y = contrastive_pairs(MODEL, dictionary, N_PAIRS, rng, similar_share)
    return dictionary, x1, x2, z1, z2, y


# ---------------------------------------------------------------- pair construction

def test_labels_are_balanced_plus_minus_one():
    *_, y = make_pairs(1.0)
    assert set(np.unique(y)) == {-1.0, 1.0}
    share = (y > 0).mean()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / N_PAIRS)  # 4 sd of a fair coin


def test_similar_pairs_share_their_latent_with_independent_noise():
    dictionary, x1, x2, z1, z2, y = make_pairs(1.0)
    similar = y > 0
    np.testing.assert_array_equal(x1[similar], x2[similar])
    # Z = M X + xi: the members differ by noise alone, independent draws of N(0, sigma^2).
    difference = z1[similar] - z2[similar]
    assert difference.std() == pytest.approx(MODEL.sigma * math.sqrt(2), rel=0.05)
    assert np.abs(z1 - x1 @ dictionary.T).max() < 6 * MODEL.sigma


def test_dissimilar_pairs_have_independent_latents():
    _, x1, x2, _, _, y = make_pairs(1.0)
    dissimilar = y < 0
    a, b = x1[dissimilar], x2[dissimilar]
    assert (a == b).all(axis=1).mean() < 0.01  # identical latents only by chance
    # Independent coordinates: the product of two draws has mean 0 and variance (s/d)^2.
    products = (a * b).ravel()
    p = MODEL.s / MODEL.d
    assert abs(products.mean()) < 4 * p / math.sqrt(products.size)
    # Active coordinates coincide at the independent rate p^2 (not more, as for shared latents).
    both_active = ((a != 0) & (b != 0)).mean()
    assert both_active == pytest.approx(((a != 0).mean()) * ((b != 0).mean()), rel=0.15)


def test_partly_shared_latents_keep_about_that_share():
    share = 0.5
    _, x1, x2, _, _, y = make_pairs(share)
    similar = y > 0
    a, b = x1[similar], x2[similar]
    assert (b != 0).any(axis=1).all()  # a similar partner always carries a feature
    assert 0.05 < (a == b).all(axis=1).mean() < 0.9  # some pairs differ, some agree fully
    # Each active coordinate of the first latent is kept with probability `share`, else redrawn
    # (and then agrees by chance when the fresh coordinate is active with the same sign).
    active = a != 0
    kept = (a == b)[active].mean()
    chance = MODEL.s / MODEL.d / 2
    assert kept == pytest.approx(share + (1 - share) * chance, abs=0.04)
    # Dissimilar pairs are unaffected by the option.
    assert (x1[~similar] == x2[~similar]).all(axis=1).mean() < 0.01


# ---------------------------------------------------------------- split loss measure

def softplus(t):
    return math.log1p(math.exp(t))


def linear_nets(d=4):
    """h(Z) = Z (gate with threshold 0 and W = I), s(Z, Z') = Z^T Z'."""
    return TwoLayerNets(torch.eye(d)[None], torch.zeros(1, d), "gate", 0.0, score_scale=1.0)


def hand_made_pairs():
    """Two similar pairs (e1, e1), (e2, e2) and two dissimilar ones (e1, e2), (e3, e4)."""
    e = torch.eye(4)
    z1 = torch.stack([e[0], e[1], e[0], e[2]])[None]
    z2 = torch.stack([e[0], e[1], e[1], e[3]])[None]
    return (z1, z2), torch.tensor([[1.0, 1.0, -1.0, -1.0]])


def test_split_by_pair_type_averages_each_type():
    values = torch.tensor([[1.0, 3.0, 10.0, 20.0], [0.0, 2.0, 4.0, 6.0]])
    labels = torch.tensor([[1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, -1.0]])
    split = split_by_pair_type(values, labels)
    torch.testing.assert_close(split["similar"], torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(split["dissimilar"], torch.tensor([15.0, 4.0]))
    assert torch.isnan(split_by_pair_type(values[:1], torch.ones(1, 4))["dissimilar"]).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pair_loss_grid_on_a_hand_made_case(norm):
    # Clean: similar s = 1, dissimilar s = 0. FGM with budget eps on both members (one-hot
    # inputs: the l2 and l_inf steps coincide): a similar pair shrinks to (1 - eps) e_i, so
    # s = (1 - eps)^2; a dissimilar pair (e_i, e_j) becomes (e_i + eps e_j, e_j + eps e_i),
    # s = 2 eps.
    eps = 0.5
    (z1, z2), labels = hand_made_pairs()
    data = {"pairs_test_z1": z1, "pairs_test_z2": z2, "pairs_test_y": labels}
    evaluation = {"eps_grid": {norm: [0.0, eps]}, "attacks": ["fgm"], "pgd_steps": 1}
    frame = attack_frame(linear_nets(), TASKS["contrastive"], data,
                         [{"variant": "clean", "norm": "l2", "eps": 0.0}], 1, evaluation,
                         torch.Generator(), {}, by_pair_type=True)
    got = {(r.eps, r.pair_type): (r.loss, r.accuracy) for r in frame.itertuples()}
    expected = {(0.0, "similar"): (softplus(-1.0), 1.0),
                (0.0, "dissimilar"): (math.log(2.0), 0.0),  # s = 0: margin 0 is not correct
                (eps, "similar"): (softplus(-(1 - eps) ** 2), 1.0),
                (eps, "dissimilar"): (softplus(2 * eps), 0.0)}
    assert got.keys() == expected.keys()
    for key, (loss, accuracy) in expected.items():
        assert got[key][0] == pytest.approx(loss, rel=1e-5), key
        assert got[key][1] == accuracy, key


def test_logged_pair_losses_and_their_increase():
    inputs, labels = hand_made_pairs()
    with torch.no_grad():  # the training callback runs without gradients; the attack still works
        rows = pair_loss_rows(linear_nets(), TASKS["contrastive"], inputs, labels, {"l2": 0.5})
    variants = [{"variant": "clean", "norm": "l2", "eps": 0.0}]
    log = training_log_frame([{"step": 10, **row} for row in rows], variants, n_seeds=1)
    frame = training_frame(log.assign(kind="pair_loss"), variants, 1,
                           {"task": "contrastive", "activation": "gate"})
    increase = frame[frame["eps"] > 0].set_index("pair_type")["loss_increase"]
    assert increase["similar"] == pytest.approx(softplus(-0.25) - softplus(-1.0), rel=1e-5)
    assert increase["dissimilar"] == pytest.approx(softplus(1.0) - math.log(2.0), rel=1e-5)
    assert (frame.loc[frame["eps"] == 0, "loss_increase"] == 0).all()


def test_loss_increase_is_per_network_and_norm():
    frame = pd.DataFrame({"variant": "v", "seed": [0, 0, 1, 1], "norm": "l2",
                          "pair_type": "similar", "eps": [0.0, 0.5, 0.0, 0.5],
                          "loss": [1.0, 1.5, 2.0, 4.0]})
    assert loss_increase(frame)["loss_increase"].tolist() == [0.0, 0.5, 0.0, 2.0]


# ---------------------------------------------------------------- variants and jobs

def test_contrastive_jobs_take_their_variants_and_pair_options(test_config):
    section = test_config["simulation"]["contrastive"]
    sim = test_config["simulation"]
    main = settings.job_variants(sim, "contrastive", "gate")
    assert [v["variant"] for v in main] == sorted(section["variants"])
    adversary = job_adversary(main, 2)
    assert (adversary.pairs, adversary.members) == ("all", section["members"])
    for task, pairs in settings.PAIR_ATTACK_TASKS.items():
        study = settings.job_variants(sim, task, "gate")
        assert [v["variant"] for v in study] == section["pair_attack_study"]
        assert job_adversary(study, 2).pairs == pairs
    supervised = settings.job_variants(sim, "supervised", "gate")
    assert "pairs" not in supervised[0]
    with pytest.raises(ValueError, match="must share 'pairs'"):
        job_adversary([{**main[0], "pairs": "similar"}, main[1]], 2)
