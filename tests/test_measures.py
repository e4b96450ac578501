import math

import pytest
import torch

from advpretrain.measures import feature_coefficients, node_measures


def test_pure_node_scores_one_and_even_mix_one_over_sqrt_d():
    d = 16
    dictionary = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(0)))[0]
    pure = 2.5 * dictionary[:, 3]  # reads feature 3 only
    mix = dictionary.sum(dim=1)  # equal weight on all d features
    weight = torch.stack([pure, mix])[None]  # (1 network, 2 nodes, d)
    measures = node_measures(feature_coefficients(weight, dictionary), dead_relative_norm=0.05)
    assert measures["purity"][0, 0].item() == pytest.approx(1.0, abs=1e-5)
    assert measures["purity"][0, 1].item() == pytest.approx(1 / math.sqrt(d), abs=1e-5)
    assert measures["participation_ratio"][0, 0].item() == pytest.approx(1.0, abs=1e-4)
    assert measures["participation_ratio"][0, 1].item() == pytest.approx(d, rel=1e-4)
    assert measures["feature_count"][0].tolist() == [1.0, d]


def test_dead_nodes_are_flagged():
    coefficients = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1e-4, 0.0]]])
    measures = node_measures(coefficients, dead_relative_norm=0.05)
    assert measures["dead"][0].tolist() == [False, False, True]
