import math

import pandas as pd
import pytest
import torch

from advpretrain.model.measures import (
    feature_coefficients,
    firing_rates,
    mean_live_purity,
    node_measures,
    summarise_nodes,
)
from advpretrain.model.networks import TwoLayerNets


def test_pure_node_scores_one_and_even_mix_one_over_sqrt_d():
    d = 16
    dictionary = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(0)))[0]
    pure = 2.5 * dictionary[:, 3]  # reads feature 3 only
    mix = dictionary.sum(dim=1)  # equal weight on all d features
    weight = torch.stack([pure, mix])[None]  # (1 network, 2 nodes, d)
    measures = node_measures(feature_coefficients(weight, dictionary))
    assert measures["purity"][0, 0].item() == pytest.approx(1.0, abs=1e-5)
    assert measures["purity"][0, 1].item() == pytest.approx(1 / math.sqrt(d), abs=1e-5)
    assert measures["participation_ratio"][0, 0].item() == pytest.approx(1.0, abs=1e-4)
    assert measures["participation_ratio"][0, 1].item() == pytest.approx(d, rel=1e-4)
    assert measures["feature_count"][0].tolist() == [1.0, d]
    assert measures["main_feature"][0, 0].item() == 3


def test_firing_rate_counts_inputs_where_the_gate_is_open():
    weight = torch.eye(2)[None]  # node j reads coordinate j
    nets = TwoLayerNets(weight, torch.zeros(1, 2), "gate", 0.3)
    z = torch.tensor([[[1.0, 0.0], [0.5, 0.1], [0.2, 0.0], [0.0, 0.0]]])
    assert firing_rates(nets, (z,)).tolist() == [[0.5, 0.0]]
    # A pair's two members are pooled: 8 inputs.
    assert firing_rates(nets, (z, z.flip(-1))).tolist() == [[0.25, 0.25]]
    coefficients = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    assert mean_live_purity(coefficients, torch.tensor([[0.5, 0.0]]), 0.1).item() == 1.0


def test_summary_counts_live_and_pure_nodes_and_covered_features():
    nodes = pd.DataFrame({
        "variant": "v", "seed": 0, "node": range(5),
        "purity": [0.95, 0.97, 0.5, 0.99, 0.2],
        "participation_ratio": 1.0, "feature_count": 1.0,
        "functional_purity": [0.9, 0.7, 0.2, 0.0, 0.0],
        "main_feature": [0, 0, 1, 2, 3],
        "live": [True, True, True, False, False],
        "row_norm": [1.0, 2.0, 3.0, 9.0, 9.0],
        "effective_threshold": [0.3, 0.15, 0.1, 0.03, 0.03],
        "reachable": [False, False, True, True, True]})
    summary = summarise_nodes(nodes, d=4, pure_threshold=0.9).set_index("measure")["value"]
    assert summary["purity"] == pytest.approx((0.95 + 0.97 + 0.5) / 3)  # live nodes only
    assert summary["purity_all"] == pytest.approx((0.95 + 0.97 + 0.5 + 0.99 + 0.2) / 5)
    assert summary["functional_purity"] == pytest.approx((0.9 + 0.7 + 0.2) / 3)
    assert summary["live_share"] == pytest.approx(3 / 5)
    assert summary["pure_share"] == pytest.approx(2 / 5)  # node 3 is pure but not live
    assert summary["coverage"] == pytest.approx(1 / 4)  # both pure live nodes read feature 0
    assert summary["row_norm_median"] == 2.0  # live nodes only, so are the rest
    assert summary["effective_threshold_median"] == pytest.approx(0.15)
    assert summary["reachable_share"] == pytest.approx(1 / 3)
