"""The cost model (FLOPs against torch's counter, the generated docs table, the 30-minute budget
profile) and the switch that turns a data set's branch on (GPU visibility)."""

import os
import stat

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from advpretrain.images import cost, cost_table
from advpretrain.images.datasets import split_sizes
from advpretrain.images.models import Classifier, ContrastiveModel, build_encoder
from advpretrain.workflow import image_branch as gpus
from advpretrain.workflow import params as settings


@pytest.mark.parametrize("dataset, model", [("cifar10", {"arch": "resnet18", "width": 64}),
                                            ("digits", {"arch": "cnn", "width": 16})])
def test_forward_flops_match_torch_flop_counter(dataset, model):
    encoder = build_encoder(model, dataset)
    size, channels = (32, 3) if dataset == "cifar10" else (8, 1)
    images = torch.rand(2, channels, size, size)
    for network, expected in ((Classifier(encoder, 10), cost.forward_flops(model, dataset, 10)),
                              (ContrastiveModel(encoder, 128),
                               cost.forward_flops(model, dataset, projection_dim=128))):
        with FlopCounterMode(display=False) as counter:
            network.eval()(images)
        assert counter.get_total_flops() == 2 * expected
    if dataset == "cifar10":  # the well-known figure: 0.56 GMAC per 32x32 image
        assert cost.forward_flops(model, dataset) == pytest.approx(1.11e9, rel=0.01)


def test_docs_cost_table_is_generated_from_the_config():
    assert cost_table.write_cost_table(["--check"]) == 0, \
        "run `make docs` and commit docs/cifar10.md"


def test_gpu_budget_profile_fits_thirty_minutes_on_an_h100():
    budget = cost_table.merged(cost_table.PROFILES["GPU budget"])
    rows = cost_table.jobs(budget, "cifar10")
    total = sum(row["gpu_seconds"] * row["jobs"] for row in rows)
    assert budget["images"]["cifar10"]["seeds"] == 1 and total <= 30 * 60
    epochs = {(r["variant"]): r["what"] for r in rows if r["rule"] == "images_pretrain"}
    assert len(set(epochs.values())) > 1  # per-variant epochs
    limits = budget["images"]["cifar10"]["resources"]["runtime_minutes"]
    for row in rows:  # every job fits its own time limit with room to spare
        assert row["gpu_seconds"] < 0.5 * 60 * limits[row["rule"].removeprefix("images_")]


def test_paper_profile_costs_what_the_docs_say():
    paper = cost_table.merged(cost_table.PROFILES["paper"])
    section = paper["images"]["cifar10"]
    sizes = split_sizes("cifar10", section["data"])
    pgd_at = settings.images_pretrain(paper, "cifar10", "supervised_adversarial", 0)
    f = cost.forward_flops(section["model"], "cifar10", 10)
    n = sizes["train"] // 128 * 128
    # 200 epochs x (3 + 2 x 10 PGD steps) forward passes, plus PGD-10 validation every epoch.
    expected = 200 * n * 23 * f + 200 * sizes["val"] * 22 * f
    assert cost.pretrain_flops(pgd_at, sizes) == pytest.approx(expected)
    text = cost_table.describe(paper, "cifar10")
    assert "images_pretrain" in text and "GPU-h" in text and "total" in text


def _fake_nvidia_smi(folder, output, code=0):
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.parametrize("listing, code, hidden, expected", [
    ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\n", 0, None, True),
    ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\n", 0, "", False),
    ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\n", 0, "-1", False),
    ("No devices were found\\n", 6, None, False),
])
def test_auto_turns_a_branch_on_where_a_gpu_is_visible(tmp_path, monkeypatch, listing, code,
                                                       hidden, expected):
    monkeypatch.setenv("PATH", f"{_fake_nvidia_smi(tmp_path, listing, code)}:{os.environ['PATH']}")
    if hidden is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
    gpus.visible_gpus.cache_clear()
    try:
        assert gpus.branch_enabled({"enabled": "auto"}) is expected
        assert gpus.branch_enabled({"enabled": True}) and not gpus.branch_enabled(
            {"enabled": False})
    finally:
        gpus.visible_gpus.cache_clear()
