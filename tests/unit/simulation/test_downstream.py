"""Downstream baselines and a tiny clean head-training run."""


import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO

from advpretrain.core.seeding import numpy_rng, torch_generator
from advpretrain.model.measures import feature_coefficients, node_measures
from advpretrain.model.sparse_coding import DataModel, make_dataset, purified_layer
from advpretrain.simulation import heads as ds
from advpretrain.workflow import params as settings
from advpretrain.workflow.config import validate_config


@pytest.fixture()
def config():
    return validate_config(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))


def tiny_data(config, n_seeds=2):
    sim = config["simulation"]
    data = sim["data"]
    model = DataModel(d=data["d"], s=data["s"], sigma=data["sigma"])
    per_seed = [make_dataset(model, data["sizes"], numpy_rng(seed)) for seed in range(n_seeds)]
    return {name: torch.from_numpy(np.stack([arrays[name] for arrays in per_seed]))
            for name in per_seed[0]}


def test_purified_layer_has_purity_one_and_covers_every_feature(config):
    data = tiny_data(config)
    d, hidden = data["dictionary"].shape[-1], 2 * data["dictionary"].shape[-1] + 3
    weight = purified_layer(data["dictionary"], hidden, scale=1.5)
    coefficients = feature_coefficients(weight, data["dictionary"])
    measures = node_measures(coefficients)
    assert torch.allclose(measures["purity"], torch.ones_like(measures["purity"]), atol=1e-5)
    assert torch.allclose(weight.norm(dim=-1), torch.full(weight.shape[:2], 1.5), atol=1e-5)
    main = coefficients.abs().argmax(-1)
    sign = torch.sign(torch.gather(coefficients, -1, main[..., None]))[..., 0]
    for s in range(weight.shape[0]):
        assert set(main[s].tolist()) == set(range(d))
        assert {(j, int(g)) for j, g in zip(main[s].tolist(), sign[s].tolist())} >= {
            (j, g) for j in range(d) for g in (1, -1)}  # both signs of every feature


def test_blend_interpolates_from_the_layer_to_its_purified_version(config):
    data = tiny_data(config)
    weight = torch.randn(2, 7, data["dictionary"].shape[-1], generator=torch_generator(0))
    assert torch.allclose(ds.blended_layer(weight, data["dictionary"], 0.0), weight)
    pure = ds.blended_layer(weight, data["dictionary"], 1.0)
    purity = node_measures(feature_coefficients(pure, data["dictionary"]))["purity"]
    assert torch.allclose(purity, torch.ones_like(purity), atol=1e-5)
    assert torch.allclose(pure.norm(dim=-1), weight.norm(dim=-1), atol=1e-5)

    def mean_purity(layer):
        return node_measures(feature_coefficients(layer, data["dictionary"]))["purity"].mean(-1)

    half = mean_purity(ds.blended_layer(weight, data["dictionary"], 0.5))
    assert (mean_purity(weight) < half).all()


def test_frozen_nets_train_only_the_head(config):
    data = tiny_data(config)
    stage = settings.downstream_baselines(config, "gate")
    weight = purified_layer(data["dictionary"], stage["architecture"]["hidden"])
    nets = ds.train_heads(weight, {"activation": "gate", "threshold": 0.3}, stage["heads"], data,
                          torch_generator(1), "test heads")
    assert [name for name, _ in nets.named_parameters()] == ["head"]
    assert torch.equal(nets.weight, weight)  # W untouched
    frame = ds.evaluate_heads(nets, data, [{"variant": "purified", **ds.NO_TRAINING}], 2,
                              stage["evaluation"], seed=3,
                              labels={"task": "baseline", "activation": "gate"})
    clean = frame[frame["eps"] == 0]
    assert (clean["accuracy"] > 0.8).all(), clean  # the purified layer makes Y' linear
    assert np.allclose(frame["mean_purity"], 1.0, atol=1e-5)
    assert np.allclose(frame["head_weight_impure"], 0.0)  # every node pure
    assert frame["head_weight_unused"].between(0, 1).all()
    assert set(frame["seed"]) == {0, 1}
    assert {"worst_case", "certified", *stage["evaluation"]["attacks"]} <= set(frame["attack"])


def test_random_baseline_is_the_pretraining_initialisation(config, tmp_path):
    """The baseline's random layer and the supervised pre-training job start from the same W."""
    from advpretrain.simulation import jobs as simulation
    from advpretrain.simulation.pretrain import pretrain
    from advpretrain.simulation.sparse_coding_data import sparse_coding_data

    config["simulation"]["training"]["steps"] = 1
    config["simulation"]["training"]["lr"] = 1e-30  # one step that cannot move W
    paths = []
    for seed in range(config["simulation"]["seeds"]):
        paths.append(str(tmp_path / f"seed{seed}.npz"))
        sparse_coding_data(settings.sparse_coding_data(config, seed), {}, {"data": paths[-1]})
    outputs = {"model": str(tmp_path / "m.pt"), "log_csv": str(tmp_path / "log.csv")}
    pretrain(settings.pretrain(config, "supervised", "gate"), {"data": paths}, outputs)
    pretrained, _ = simulation.load_networks(outputs["model"], _fingerprint(config))
    stage = settings.downstream_baselines(config, "gate")
    from advpretrain.core.seeding import derive_seed
    initial = simulation.initial_networks(
        stage["architecture"], len(paths), [{}],
        torch_generator(derive_seed(config["base_seed"], "pretrain", "supervised", "gate")))
    torch.testing.assert_close(pretrained.weight[: len(paths)], initial.weight)


def _fingerprint(config):
    from advpretrain.core.canonical import fingerprint
    return fingerprint(settings.pretrain(config, "supervised", "gate"))


def test_per_row_spreads_network_values():
    variants = [{"variant": "a"}, {"variant": "b"}]
    frame = pd.DataFrame({"variant": ["a", "b", "b", "a"], "seed": [1, 0, 1, 0]})
    values = torch.tensor([10.0, 11.0, 20.0, 21.0])  # variant-major: a0 a1 b0 b1
    assert ds.per_row(frame, values, variants, 2).tolist() == [11.0, 20.0, 21.0, 10.0]


def test_the_ideal_control_keeps_its_purified_layer_while_its_head_trains(config):
    """The known answer of every claim (variant ideal, "control: ideal"): its networks start at
    the purified layer of their seed's dictionary and keep it, bit for bit, through training,
    while their head trains and the other variants' layers move."""
    from advpretrain.model.tasks import TASKS
    from advpretrain.model.training import train_networks
    from advpretrain.simulation.jobs import (
        initial_networks,
        job_adversary,
        minibatch_sampler,
        place_ideal,
    )

    data = tiny_data(config)
    architecture = settings.pretrain(config, "supervised", "gate")["architecture"]
    variants = [{"variant": "clean", "norm": "l2", "eps": 0.0},
                {"variant": "ideal", "norm": "l2", "eps": 0.0, "control": "ideal"}]
    nets = initial_networks(architecture, 2, variants, torch_generator(0))
    start = nets.weight.detach().clone()
    layer_trained = place_ideal(nets, variants, data["dictionary"])
    ideal = purified_layer(data["dictionary"], architecture["hidden"])
    assert layer_trained.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert torch.equal(nets.weight.detach()[2:], ideal)
    head = nets.head.detach().clone()
    task = TASKS["supervised"]
    inputs, labels = task.inputs(data, "train")
    train_networks(nets, minibatch_sampler(inputs, labels, torch.tensor([0, 1, 0, 1]), 32),
                   task.loss, job_adversary(variants, 2), steps=20, lr=0.01,
                   generator=torch_generator(1), layer_trained=layer_trained)
    assert torch.equal(nets.weight.detach()[2:], ideal)  # frozen
    assert not torch.equal(nets.weight.detach()[:2], start[:2])  # the clean layer moved
    assert not torch.equal(nets.head.detach()[2:], head[2:])  # the ideal's head trained
