"""CIFAR-10 pieces on CPU: model, augmentations, losses, purification, and the training jobs'
reliability (resume after a kill, non-finite losses, checkpoints of another config)."""

import copy

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from test_cifar_data import make_arrays, tiny_config, write_cifar_archive

from advpretrain import settings
from advpretrain.canonical import fingerprint
from advpretrain.images import train as cifar_train
from advpretrain.images.augment import PAD, crop_flip, simclr_view
from advpretrain.images.evaluate import unit_purification
from advpretrain.images.losses import contrastive_logits, nt_xent
from advpretrain.images.models import Classifier, ResNet18Encoder
from advpretrain.images.runtime import configure
from advpretrain.config import ConfigError, validate_config
from advpretrain.errors import NonFiniteLoss, StaleModel
from advpretrain.fileio import load_torch

torch.set_num_threads(1)


def test_resnet18_shapes():
    encoder = ResNet18Encoder(width=4)
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, 32)
    assert Classifier(encoder)(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # The stem keeps 32x32 (3x3 conv, no max-pool); four stages end at 4x4.
    assert encoder.layers(encoder.stem(torch.rand(1, 3, 32, 32))).shape == (1, 32, 4, 4)


def test_crop_flip_is_a_padded_crop():
    images = torch.rand(64, 3, 32, 32)
    out = crop_flip(images, torch.Generator().manual_seed(0))
    padded = F.pad(images, (PAD,) * 4)
    for image, original in zip(out, padded):
        crops = [original[:, y:y + 32, x:x + 32] for y in range(2 * PAD + 1)
                 for x in range(2 * PAD + 1)]
        assert any(torch.equal(image, c) or torch.equal(image, c.flip(-1)) for c in crops)


def test_simclr_views_are_random_valid_images():
    images = torch.rand(16, 3, 32, 32)
    first = simclr_view(images, torch.Generator().manual_seed(1))
    again = simclr_view(images, torch.Generator().manual_seed(1))
    other = simclr_view(images, torch.Generator().manual_seed(2))
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_nt_xent_rewards_matching_pairs():
    z = torch.randn(8, 16)
    matched = nt_xent(*contrastive_logits(z, z + 0.01 * torch.randn(8, 16), 0.1))
    shuffled = nt_xent(*contrastive_logits(z, torch.randn(8, 16), 0.1))
    assert matched.shape == (8,) and matched.mean() < 0.1 < shuffled.mean()


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


def test_semantic_config_errors_name_the_key(tmp_path):
    config = tiny_config(tmp_path)
    config["cifar"]["linear"]["milestones"] = [0.8, 0.4]
    with pytest.raises(ConfigError, match="config key cifar.linear.milestones"):
        validate_config(config)
    config = tiny_config(tmp_path)
    del config["cifar"]["supervised"]["gamma"]
    with pytest.raises(ConfigError, match="config key cifar.supervised"):
        validate_config(config)


@pytest.fixture(scope="module")
def cifar_arrays(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    config = tiny_config(folder)
    write_cifar_archive(config["cifar"]["data"]["root"])
    make_arrays(config, folder / "cifar10.npz")
    return config, folder / "cifar10.npz"


def _pretrain(config, data, folder, variant):
    paths = [folder / name for name in ("encoder.pt", "log.csv", "resume.pt")]
    cifar_train.pretrain(settings.cifar_pretrain(config, variant), {"data": str(data)},
                         {"encoder": str(paths[0]), "log_csv": str(paths[1])},
                         settings.cifar_options(config), settings.untracked(path=str(paths[2])))
    return paths


def test_resume_after_kill_matches_uninterrupted(cifar_arrays, tmp_path, monkeypatch):
    config, data = cifar_arrays
    config = copy.deepcopy(config)
    config["cifar"]["supervised"]["epochs"] = 2
    straight = _pretrain(config, data, tmp_path / "straight", "supervised_adversarial")

    real_step = cifar_train._descend

    def killed_in_epoch_2(loss, optimizer, scheduler, where):
        if where.endswith("epoch 2"):
            raise KeyboardInterrupt("killed")
        real_step(loss, optimizer, scheduler, where)

    monkeypatch.setattr(cifar_train, "_descend", killed_in_epoch_2)
    folder = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _pretrain(config, data, folder, "supervised_adversarial")
    assert (folder / "resume.pt").exists() and not (folder / "encoder.pt").exists()
    monkeypatch.setattr(cifar_train, "_descend", real_step)
    resumed = _pretrain(config, data, folder, "supervised_adversarial")
    assert not (folder / "resume.pt").exists()
    straight_state, resumed_state = (load_torch(path[0])["state"] for path in (straight, resumed))
    for a, b in zip(straight_state.values(), resumed_state.values()):
        assert torch.equal(a, b)
    assert pd.read_csv(straight[1]).equals(pd.read_csv(resumed[1]))


def test_non_finite_loss_fails_without_output(cifar_arrays, tmp_path, monkeypatch):
    config, data = cifar_arrays
    monkeypatch.setattr(cifar_train, "cross_entropy",
                        lambda logits, labels: torch.full((len(labels),), float("nan")))
    with pytest.raises(NonFiniteLoss, match="step 1 of epoch 1 for samples"):
        _pretrain(config, data, tmp_path, "supervised_clean")
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.csv"))


def test_checkpoint_of_another_config_is_refused(cifar_arrays, tmp_path):
    config, data = cifar_arrays
    encoder_path = _pretrain(config, data, tmp_path, "contrastive_clean")[0]
    other = copy.deepcopy(config)
    other["cifar"]["contrastive"]["temperature"] = 0.2
    runtime = configure(settings.cifar_options(other))
    cifar_train.load_encoder(encoder_path, fingerprint(settings.cifar_pretrain(
        config, "contrastive_clean")), runtime)
    with pytest.raises(StaleModel, match="other settings"):
        cifar_train.load_encoder(encoder_path, fingerprint(settings.cifar_pretrain(
            other, "contrastive_clean")), runtime)
