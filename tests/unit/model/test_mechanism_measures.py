"""Mechanism measures (issue 31): row norms and effective thresholds, the head's weight on impure
and unused nodes, and what the attack's breaking points do to the nodes, on planted layers."""

import math

import pytest
import torch

from advpretrain.evaluation.adaptive import AttackResult
from advpretrain.evaluation.ensemble import WorstCase
from advpretrain.model.measures import (
    attack_mechanism,
    crossing_distance,
    head_weights,
    summarise_nodes,
)
from advpretrain.model.networks import TwoLayerNets
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.evaluate_pretrained import broken_mechanism, evaluate_nodes

VARIANTS = [{"variant": "planted", "norm": "l2", "eps": 0.0}]
LABELS = {"task": "supervised", "activation": "gate"}


def planted_summary(threshold_mode: str, reference: dict):
    """Node h of a gate layer reads coordinate h with norm h + 1 (d = 5, the dictionary the
    identity), on inputs that open every node; the stage's per-node frame and its summary."""
    norms = torch.arange(1.0, 6.0)
    nets = TwoLayerNets(torch.diag(norms)[None], torch.zeros(1, 5), "gate", 0.3,
                        threshold_mode=threshold_mode)
    z = torch.ones(1, 4, 5)
    nodes, _, _ = evaluate_nodes(nets, torch.eye(5)[None], (z,), (z,), VARIANTS, 1, 0.5,
                                 reference, LABELS)
    return nodes, summarise_nodes(nodes, 5, 0.9).set_index("measure")["value"]


def test_row_norms_and_effective_thresholds_of_an_absolute_threshold():
    nodes, summary = planted_summary("absolute", {"norm": "l2", "eps": 0.12})
    assert nodes["live"].all()
    assert nodes["row_norm"].tolist() == pytest.approx([1, 2, 3, 4, 5])
    assert nodes["effective_threshold"].tolist() == pytest.approx([0.3 / k for k in range(1, 6)])
    assert summary["row_norm_median"] == pytest.approx(3.0)
    assert summary["row_norm_p10"] == pytest.approx(1.4)  # linear between the sorted norms
    assert summary["row_norm_p90"] == pytest.approx(4.6)
    assert summary["effective_threshold_median"] == pytest.approx(0.1)
    assert summary["reachable_share"] == pytest.approx(3 / 5)  # 0.3 / ||w|| <= 0.12 from 3 on


def test_a_relative_threshold_is_its_own_effective_threshold():
    nodes, summary = planted_summary("relative", {"norm": "l2", "eps": 0.25})
    assert nodes["live"].all()  # v = ||w_h|| reaches e ||w_h||
    assert nodes["effective_threshold"].tolist() == pytest.approx([0.3] * 5)
    assert summary["row_norm_median"] == pytest.approx(3.0)
    assert summary["reachable_share"] == 0.0
    _, summary = planted_summary("relative", {"norm": "l2", "eps": 0.31})
    assert summary["reachable_share"] == 1.0


def test_an_l_inf_budget_reaches_as_far_as_the_rows_l1_norm_allows():
    row = torch.tensor([[[0.6, 0.8, 0.0]]])  # ||w||_2 = 1, ||w||_1 = 1.4
    nets = TwoLayerNets(row, torch.zeros(1, 1), "gate", 0.3)
    assert crossing_distance(nets, "linf").item() == pytest.approx(0.3 / 1.4)
    assert crossing_distance(nets).item() == pytest.approx(0.3)


def test_head_weight_on_impure_and_unused_nodes():
    purity = torch.tensor([[1.0, 0.5, 1.0, 0.2]])
    live = torch.tensor([[True, True, False, False]])
    only_unused = head_weights(torch.tensor([[0.0, 0.0, -2.0, 0.0]]), purity, live, 0.9)
    assert only_unused["head_weight_unused"].item() == 1.0
    assert only_unused["head_weight_impure"].item() == 0.0
    mixed = head_weights(torch.tensor([[1.0, -2.0, 0.5, 0.5]]), purity, live, 0.9)
    assert mixed["head_weight_impure"].item() == pytest.approx(0.5)  # node 1 only: live, impure
    assert mixed["head_weight_unused"].item() == pytest.approx(0.25)  # nodes 2 and 3


def purified_nets():
    """A perfectly purified gate layer on the identity dictionary: node j reads feature j."""
    return TwoLayerNets(torch.eye(3)[None], torch.ones(1, 3), "gate", 0.3)


def test_lighting_an_absent_feature_versus_moving_a_present_one():
    nets, main = purified_nets(), torch.arange(3)[None]
    x = torch.tensor([[[1.0, 0.0, 0.0]] * 3])  # feature 0 present, 1 and 2 absent
    z = x.clone()
    z[0, 2, 1] = 0.35  # noise already opens node 1 of sample 2
    delta = torch.tensor([[[0.0, 0.4, 0.0],  # opens node 1, whose feature is absent
                           [-0.5, 0.0, 0.0],  # shifts node 0, whose feature is present
                           [0.0, 0.1, 0.0]]])  # shifts node 1, open already: neither
    broken = torch.ones(1, 3, dtype=torch.bool)
    shares = attack_mechanism(nets, z, z + delta, x, main, broken)
    assert shares["lit_absent_share"].item() == pytest.approx(1 / 3)
    assert shares["moved_present_share"].item() == pytest.approx(1 / 3)
    for sample, lit, moved in ((0, 1.0, 0.0), (1, 0.0, 1.0), (2, 0.0, 0.0)):
        only = torch.zeros_like(broken)
        only[0, sample] = True
        shares = attack_mechanism(nets, z, z + delta, x, main, only)
        assert (shares["lit_absent_share"].item(), shares["moved_present_share"].item()) == (
            lit, moved)
    none = attack_mechanism(nets, z, z + delta, x, main, torch.zeros_like(broken))
    assert math.isnan(none["lit_absent_share"].item())


def test_the_stage_counts_only_samples_correct_unperturbed():
    """A sample the networks get wrong unperturbed is broken without an attack: it counts
    neither way."""
    nets = purified_nets()
    x = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    targets = torch.tensor([[1.0, -1.0]])  # the head sums the open nodes: sample 1 is wrong
    attacked = x + torch.tensor([[[0.0, 0.4, 0.0], [0.0, 0.4, 0.0]]])
    found = WorstCase(AttackResult(torch.tensor([[-1.0, -1.0]]), (attacked,)), {}, frozenset())
    shares = broken_mechanism(nets, TASKS["supervised"], (x,), targets, (x,),
                              torch.arange(3)[None], found)
    assert shares["lit_absent_share"].item() == 1.0  # sample 0 alone
