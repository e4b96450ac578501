"""Evaluation on CPU with test-made images: the reference AutoAttack (pyautoattack) with its
per-attack breakdown and AA <= PGD, our PGD against torchattacks, the purification measure, and
external checkpoints (pyautoattack's own CIFAR-10 ResNet-18, dual-BN name mapping)."""

import importlib.util
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import pyautoattack
import pytest
import torch
import torch.nn.functional as F
import torchattacks
from cifar_archive import make_arrays, tiny_config, write_cifar_archive
from torch import nn

from advpretrain.attack.pgd import frozen, linf_pgd
from advpretrain.images import evaluate as image_evaluate
from advpretrain.images import external
from advpretrain.images.evaluate import autoattack, autoattack_plan, unit_purification
from advpretrain.images.models import Classifier, ResNet18Encoder, SmallCNNEncoder
from advpretrain.images.runtime import configure
from advpretrain.workflow import params as settings

torch.set_num_threads(1)
EXAMPLES = Path(pyautoattack.__file__).parent / "examples"


def _trained_digit_model():
    """A small CNN fitted for a few steps on the real digits (so that it has robust points)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images[:400], dtype=torch.float32)[:, None] / 16
    labels = torch.tensor(digits.target[:400])
    torch.manual_seed(0)
    model = Classifier(SmallCNNEncoder(width=8, channels=1), 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval().requires_grad_(False)
    return model, images[:48], labels[:48]


@pytest.fixture(scope="module")
def digit_model():
    return _trained_digit_model()


def shorten_square(monkeypatch, queries=50):
    """pyautoattack's standard version with Square at ``queries`` queries instead of 5000."""
    real = pyautoattack.AutoAttack._set_version

    def set_version(self, version="standard"):
        real(self, version)
        self.square.n_queries = queries
    monkeypatch.setattr(pyautoattack.AutoAttack, "_set_version", set_version)


@pytest.fixture
def fast_square(monkeypatch):
    """Square with 50 queries instead of 5000: the example checkpoint is a full ResNet-18 on the
    CPU (the standard attack configuration is exercised above on a small model)."""
    shorten_square(monkeypatch)


def test_autoattack_runs_with_its_breakdown_and_beats_pgd(digit_model):
    model, images, labels = digit_model
    eps = 1 / 16  # a budget at which two thirds of the points stay robust: every attack runs
    robust, after = autoattack(model, images, labels, eps, 10, 48, seed=0, device="cpu")
    assert list(after) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    values = list(after.values())
    assert all(a >= b for a, b in zip(values, values[1:]))  # each attack only removes points
    assert values[-1] == pytest.approx(float(robust.float().mean()))
    with torch.no_grad():
        clean = float((model(images).argmax(1) == labels).float().mean())
    assert clean > 0.5 and values[0] <= clean and values[-1] > 0.3
    with frozen(model):
        (moved,) = linf_pgd(lambda x: F.cross_entropy(model(x), labels, reduction="none"),
                            (images,), eps, eps / 4, 20, torch.Generator().manual_seed(0))
        pgd = float((model(moved).argmax(1) == labels).float().mean())
    assert values[-1] <= pgd  # AutoAttack is at least as strong as PGD-20


def test_autoattack_matches_one_standard_run(digit_model, monkeypatch):
    """Running the attacks one by one gives what pyautoattack's own standard run gives (same
    order, batches and seeds; Square shortened for speed, on both sides: ours through
    ``square_queries``, the reference through its version settings)."""
    model, images, labels = digit_model
    head = nn.Linear(16, 4)  # the digits 0-3 only: 3 targets, quicker than 9
    head.load_state_dict({"weight": model.head.weight[:4], "bias": model.head.bias[:4]})
    model = nn.Sequential(model.encoder, head).eval().requires_grad_(False)
    images, labels = images[labels < 4], labels[labels < 4]
    robust, _ = autoattack(model, images, labels, 1 / 16, 4, 8, seed=3, device="cpu",
                           square_queries=50)
    shorten_square(monkeypatch)
    adversary = pyautoattack.AutoAttack(model, norm="Linf", eps=1 / 16, version="standard",
                                        seed=3, device="cpu")
    adversary.apgd_targeted.n_target_classes = adversary.fab.n_target_classes = 3
    _, predicted = adversary.run_standard_evaluation(images, labels, batch_size=8)
    assert torch.equal(robust, predicted == labels) and robust.any()


def test_binary_tasks_run_the_attacks_defined_for_them(digit_model):
    model, images, labels = digit_model
    assert autoattack_plan(2) == ("apgd-ce", "fab-t", "square")
    torch.manual_seed(0)
    parity = nn.Sequential(model.encoder, nn.Linear(16, 2)).eval().requires_grad_(False)
    robust, after = autoattack(parity, images, labels % 2, 2 / 16, 2, 48, seed=0, device="cpu")
    assert list(after) == ["apgd-ce", "fab-t", "square"] and robust.dtype == torch.bool


def test_our_pgd_agrees_with_torchattacks(digit_model):
    """Same attack (no random start, same step rule): the same adversarial images."""
    model, images, labels = digit_model
    reference = torchattacks.PGD(model, eps=2 / 16, alpha=0.5 / 16, steps=5, random_start=False)
    expected = reference(images, labels)
    generator = torch.Generator().manual_seed(0)
    with frozen(model):
        (ours,) = linf_pgd(lambda x: F.cross_entropy(model(x), labels, reduction="sum"),
                           (images,), 2 / 16, 0.5 / 16, 5, generator)
    # Ours starts at a random point of the ball; from the clean point it matches torchattacks.
    with frozen(model):
        (from_clean,) = linf_pgd(lambda x: F.cross_entropy(model(x), labels, reduction="none"),
                                 (images,), 2 / 16, 0.5 / 16, 5, generator, random_start=False)
    assert torch.allclose(from_clean, expected, atol=1e-6)
    assert not torch.equal(ours, from_clean)


def test_participation_ratio_counts_driving_classes():
    means = torch.zeros(10, 4)
    means[3, 0] = 2.0            # one class
    means[:4, 1] = 1.0           # four classes equally
    means[:, 2] = 5.0            # the same for all classes: no class drives it (dead)
    means[:, 3] = torch.arange(10.0)
    units = unit_purification(means)
    assert units["participation_ratio"][0] == pytest.approx(1.0)
    assert units["participation_ratio"][1] == pytest.approx(4.0)
    assert bool(units["dead"][2]) and not units["dead"][:2].any()
    assert units["top_class"][0] == 3


def _pyautoattack_example_model():
    """pyautoattack's example ResNet-18 (examples/resnet.py) with model_test.pt loaded."""
    spec = importlib.util.spec_from_file_location("aa_example_resnet", EXAMPLES / "resnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.ResNet18()
    model.load_state_dict(torch.load(EXAMPLES / "model_test.pt", map_location="cpu",
                                     weights_only=True))
    return model.eval()


def test_pyautoattack_example_checkpoint_maps_onto_our_encoder():
    runtime = configure(settings.untracked(device="cpu", channels_last=False, compile=False,
                                           deterministic=True))
    encoder, found = external.load_external(EXAMPLES / "model_test.pt", "adversarial",
                                            "cifar10", runtime)
    assert found["format"] == "ResNet-18 state dict" and found["normalisation"] == "none"
    assert found["dropped"] == ["linear.bias", "linear.weight"] and not found["dual_bn"]
    reference = _pyautoattack_example_model()
    images = torch.rand(4, 3, 32, 32)
    head = reference.linear
    with torch.no_grad():
        assert torch.allclose(head(encoder(images)), reference(images), atol=1e-4)


def test_dual_bn_checkpoints_map_by_name():
    """ACL's layout (bn_list.0 / bn_list.1, downsample.conv / .bn, normalize, a projection fc)
    and RobustSSL's older one (bn1 / bn1_adv): the chosen branch is what gets loaded."""
    torch.manual_seed(0)
    ours = ResNet18Encoder(width=2)
    state = ours.state_dict()

    def acl_name(key, index):
        key = key.replace("stem.0.", "conv1.").replace("stem.1.", f"bn1.bn_list.{index}.")
        for n in range(8):
            key = key.replace(f"layers.{n}.", f"layer{n // 2 + 1}.{n % 2}.")
        key = key.replace("shortcut.0.", "downsample.conv.")
        key = key.replace("shortcut.1.", f"downsample.bn.bn_list.{index}.")
        for bn in ("bn1", "bn2"):
            key = key.replace(f".{bn}.", f".{bn}.bn_list.{index}.")
        return key.replace("normalise.", "normalize.")

    checkpoint = OrderedDict()
    for key, value in state.items():
        if "normalise" in key:
            checkpoint[acl_name(key, 0)] = value.flatten()
            continue
        checkpoint[acl_name(key, 0)] = value
        is_bn = ("bn" in acl_name(key, 1)) and value.dtype.is_floating_point
        checkpoint[acl_name(key, 1)] = value + 1 if is_bn else value
    checkpoint["fc.fc1.weight"] = torch.zeros(3, 3)
    for branch, shift in (("clean", 0), ("adversarial", 1)):
        mapped, found = external.map_resnet18(dict(checkpoint), branch)
        assert found["dual_bn"] and found["branch"] == branch
        assert found["normalisation"] == "checkpoint" and found["dropped"] == ["fc.fc1.weight"]
        assert torch.equal(mapped["stem.1.weight"], state["stem.1.weight"] + shift)
        assert torch.equal(mapped["layers.2.shortcut.1.running_var"],
                           state["layers.2.shortcut.1.running_var"] + shift)
        ResNet18Encoder(width=2).load_state_dict(mapped)
    # RobustSSL's older layout: bn1 (clean) beside bn1_adv (adversarial).
    adv = {"layer1.0.bn1.weight": torch.zeros(2), "layer1.0.bn1_adv.weight": torch.ones(2)}
    assert torch.equal(external.map_resnet18(adv, "adversarial")[0]["layers.0.bn1.weight"],
                       torch.ones(2))
    assert torch.equal(external.map_resnet18(adv, "clean")[0]["layers.0.bn1.weight"],
                       torch.zeros(2))


def test_external_checkpoint_evaluates_end_to_end(tmp_path, fast_square):
    config = tiny_config(tmp_path)
    write_cifar_archive(config["images"]["cifar10"]["data"]["root"])
    make_arrays(config, tmp_path / "cifar10.npz")
    section = config["images"]["cifar10"]
    section["linear"]["epochs"] = 1
    section["evaluation"].update(autoattack_images=4, eps_grid=[8])
    outputs = {name: str(tmp_path / f"{name}.{suffix}") for name, suffix in (
        ("heads", "pt"), ("log_csv", "csv"), ("metrics", "csv"), ("robustness", "csv"),
        ("purification", "csv"))}
    extra = external.images_external(
        settings.images_external(config, "cifar10", "model_test"),
        {"data": str(tmp_path / "cifar10.npz"), "checkpoint": str(EXAMPLES / "model_test.pt")},
        outputs, settings.images_options(config, "cifar10"),
        settings.untracked(path=str(tmp_path / "resume.pt")))
    metrics = pd.read_csv(outputs["metrics"])
    assert list(metrics["downstream_task"]) == ["classes", "vehicles"]
    assert (metrics["checkpoint"] == "model_test").all()
    assert (metrics["autoattack_accuracy"] <= metrics["autoattack_pgd_accuracy"]).all()
    assert metrics["units"].eq(512).all() and extra["checkpoint"]["width"] == 64
    assert not (tmp_path / "resume.pt").exists()


def test_autoattack_above_pgd_fails_the_job():
    """AA above PGD on the same images means a broken attack: the stage refuses to report."""
    image_evaluate.check_autoattack("classes", 0.4, 0.4, 100, 20)
    with pytest.raises(image_evaluate.AutoAttackBroken, match="exceeds PGD-20 accuracy 0.5000"):
        image_evaluate.check_autoattack("classes", 0.51, 0.5, 100, 20)
