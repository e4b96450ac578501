"""Real-image training pieces on CPU: models, dual BatchNorm, augmentations, losses, optimisers,
model selection, GPU-lean attack steps, and the training jobs' reliability (resume after a kill,
non-finite losses, checkpoints of another config, the CPU refusal)."""

import copy
import subprocess
import sys

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from cifar_archive import make_arrays, tiny_config, write_cifar_archive
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from advpretrain.attack.pgd import frozen, linf_pgd
from advpretrain.core.canonical import fingerprint
from advpretrain.core.errors import NonFiniteLoss, StaleModel, UserError
from advpretrain.core.fileio import load_torch
from advpretrain.images import linear as image_linear
from advpretrain.images import train as image_train
from advpretrain.images.augment import crop_flip, simclr_view
from advpretrain.images.losses import contrastive_logits, nt_xent
from advpretrain.images.models import (
    Classifier,
    ContrastiveModel,
    DualBatchNorm,
    MaxPool2x2,
    ResNet18Encoder,
    SmallCNNEncoder,
    set_branch,
    single_branch_state,
    use_branch,
)
from advpretrain.images.optim import LARS, FiniteGuard, schedule_factor
from advpretrain.images.runtime import configure
from advpretrain.workflow import params as settings
from advpretrain.workflow.config import ConfigError, validate_config

torch.set_num_threads(1)
SHIFT = {"shift": 4, "flip": True}
VIEWS = {"crop_scale": [0.1, 1.0], "flip": True, "jitter": [0.4, 0.4, 0.4, 0.1],
         "jitter_prob": 0.8, "grayscale_prob": 0.2}


def test_encoder_shapes():
    encoder = ResNet18Encoder(width=4)
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, 32)
    assert Classifier(encoder, 10)(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # The stem keeps 32x32 (3x3 conv, no max-pool); four stages end at 4x4.
    assert encoder.layers(encoder.stem(torch.rand(1, 3, 32, 32))).shape == (1, 32, 4, 4)
    small = SmallCNNEncoder(width=8, channels=1)
    assert small(torch.rand(3, 1, 8, 8)).shape == (3, 16)
    assert ContrastiveModel(small, 5)(torch.rand(4, 1, 8, 8)).shape == (4, 5)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_small_cnn_pool_gives_torch_max_pool_bytes(requires_grad):
    """The fast path without gradients, nn.MaxPool2d with them: on what the encoder pools (a
    ReLU's output of BatchNormed values: many zeros, no -0) with many ties, the same bytes, NaN
    where torch's kernel has it, and with gradients the same input gradient."""
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(135, 12, 8, 8, generator=generator).round(decimals=1)
    images = torch.where(values > 0, values, 0.0)
    images[0, 0, 0, 1] = images[1, 2, 3, 3] = float("nan")
    ours, reference = images.clone().requires_grad_(requires_grad), images.clone()
    reference.requires_grad_(requires_grad)
    pooled, expected = MaxPool2x2()(ours), nn.MaxPool2d(2)(reference)
    assert pooled.stride() == expected.stride()
    assert torch.equal(pooled.isnan(), expected.isnan())
    assert torch.equal(pooled.nan_to_num().view(torch.int32),
                       expected.nan_to_num().view(torch.int32))  # bytes: signed zeros too
    if requires_grad:
        weights = torch.randn(expected.shape, generator=generator)
        (pooled.nan_to_num() * weights).sum().backward()
        (expected.nan_to_num() * weights).sum().backward()
        assert torch.equal(ours.grad, reference.grad)


def test_deterministic_mode_without_compile_does_not_import_inductor():
    """torch.use_deterministic_algorithms imports torch._inductor (seconds of start-up per
    image job) for a flag only torch.compile reads; without compile the stage skips it."""
    code = ("import sys, torch; from types import SimpleNamespace as N; "
            "from advpretrain.images.runtime import configure; "
            "configure(N(device='cpu', deterministic=True, compile=False, channels_last=False)); "
            "assert torch.are_deterministic_algorithms_enabled(); "
            "assert 'torch._inductor' not in sys.modules, 'inductor imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dual_batchnorm_keeps_separate_statistics():
    torch.manual_seed(0)
    model = ContrastiveModel(SmallCNNEncoder(width=4, channels=1, dual_bn=True), 6, dual_bn=True)
    norms = [m for m in model.modules() if isinstance(m, DualBatchNorm)]
    assert len(norms) == 6  # four convolutions and the projection head's two BatchNorms
    model.train()
    attacked, clean = torch.rand(16, 1, 8, 8) + 3.0, torch.rand(16, 1, 8, 8)
    with use_branch(model, "adversarial"):
        model(attacked)  # only the adversarial branch sees these
    model(clean)
    first = norms[0]
    assert first.branch == "clean"
    conv = model.encoder.layers[0]
    with torch.no_grad():  # running mean after one batch: momentum 0.1 times the batch mean
        for branch, images in ((first.adversarial, attacked), (first.clean, clean)):
            batch_mean = conv(model.encoder.normalise(images)).mean(dim=(0, 2, 3))
            assert torch.allclose(branch.running_mean, 0.1 * batch_mean, atol=1e-6)
    assert first.clean.num_batches_tracked == first.adversarial.num_batches_tracked == 1
    # The adversarial branch alone, as a plain-BatchNorm encoder (what SLF evaluates).
    state = single_branch_state(model.encoder.state_dict(), "adversarial")
    plain = SmallCNNEncoder(width=4, channels=1)
    plain.load_state_dict(state)
    images = torch.rand(5, 1, 8, 8)
    set_branch(model, "adversarial")
    model.eval()
    plain.eval()
    assert torch.allclose(plain(images), model.encoder(images))


def test_crop_flip_is_a_padded_crop():
    images = torch.rand(64, 3, 32, 32)
    out = crop_flip(images, torch.Generator().manual_seed(0), SHIFT)
    padded = F.pad(images, (4,) * 4)
    for image, original in zip(out, padded):
        crops = [original[:, y:y + 32, x:x + 32] for y in range(9) for x in range(9)]
        assert any(torch.equal(image, c) or torch.equal(image, c.flip(-1)) for c in crops)
    digits = torch.rand(32, 1, 8, 8)
    shifted = crop_flip(digits, torch.Generator().manual_seed(0), {"shift": 1, "flip": False})
    padded = F.pad(digits, (1,) * 4)
    for image, original in zip(shifted, padded):  # no flips when flip is off
        assert any(torch.equal(image, original[:, y:y + 8, x:x + 8])
                   for y in range(3) for x in range(3))


def test_simclr_views_are_random_valid_images():
    for images in (torch.rand(16, 3, 32, 32), torch.rand(16, 1, 8, 8)):
        first = simclr_view(images, torch.Generator().manual_seed(1), VIEWS)
        again = simclr_view(images, torch.Generator().manual_seed(1), VIEWS)
        other = simclr_view(images, torch.Generator().manual_seed(2), VIEWS)
        assert first.shape == images.shape and first.min() >= 0 and first.max() <= 1
        assert torch.equal(first, again) and not torch.equal(first, other)


def test_nt_xent_rewards_matching_pairs():
    z = torch.randn(8, 16)
    matched = nt_xent(*contrastive_logits(z, z + 0.01 * torch.randn(8, 16), 0.1))
    shuffled = nt_xent(*contrastive_logits(z, torch.randn(8, 16), 0.1))
    assert matched.shape == (8,) and matched.mean() < 0.1 < shuffled.mean()


def test_schedules_warm_up_and_decay():
    cosine = schedule_factor({"name": "cosine", "warmup_epochs": 2}, total_steps=100,
                             steps_per_epoch=10)
    assert cosine(0) == pytest.approx(0.05) and cosine(19) == pytest.approx(1.0)
    assert cosine(20) == pytest.approx(1.0) and cosine(99) < 0.01
    step = schedule_factor({"name": "step", "warmup_epochs": 0, "milestones": [0.4, 0.8],
                            "gamma": 0.1}, total_steps=25, steps_per_epoch=1)
    assert [step(e) for e in (9, 10, 19, 20)] == pytest.approx([1, 0.1, 0.1, 0.01])


def test_lars_scales_each_step_by_the_trust_ratio():
    weight = torch.nn.Parameter(torch.full((4,), 2.0))
    optimizer = LARS([weight], lr=1.0, momentum=0.0, weight_decay=0.0, eta=0.001)
    weight.grad = torch.full((4,), 100.0)
    optimizer.step()
    # ratio = eta * ||w|| / ||g|| = 0.001 * 4 / 200: the step is 2e-5 * g = 0.002 per entry.
    assert torch.allclose(weight, torch.full((4,), 2.0 - 0.002))


def test_selection_keeps_the_best_robust_epoch_of_a_scripted_history():
    # Robust overfitting as Rice et al. saw it: validation PGD accuracy peaks, then falls.
    history = [(1, 0.30), (2, 0.41), (3, 0.47), (4, 0.52), (5, 0.49), (6, 0.46), (7, 0.44)]
    module = torch.nn.Linear(1, 1)
    selection = image_train.Selection("val_pgd_accuracy")
    for epoch, robust in history:
        with torch.no_grad():
            module.weight.fill_(epoch)
        selection.update(epoch, {"val_accuracy": 0.8, "val_pgd_accuracy": robust}, module)
    summary = selection.summary()
    assert summary["selected_epoch"] == 4 and selection.weights["weight"].item() == 4
    assert summary["best"]["val_pgd_accuracy"] == 0.52 and summary["last"]["epoch"] == 7
    restored = image_train.Selection("val_pgd_accuracy")
    restored.load_state_dict(copy.deepcopy(selection.state_dict()))
    restored.update(8, {"val_accuracy": 0.8, "val_pgd_accuracy": 0.52}, module)  # a tie
    assert restored.epoch == 4  # ties keep the earlier epoch


class _ConvBackwardMasks(TorchDispatchMode):
    """Records the output mask of every convolution backward: (input, weight, bias) grads."""

    def __init__(self):
        super().__init__()
        self.masks = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution_backward.default:
            self.masks.append(tuple(args[-1]))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_attack_steps_compute_no_weight_gradient(compiled):
    torch.manual_seed(0)
    model = Classifier(SmallCNNEncoder(width=4, channels=1), 10).eval()
    calls = []
    for param in model.parameters():
        param.register_hook(lambda grad: calls.append(grad.shape))
    # aot_eager: AOTAutograd's joint graph and partition (where a compiled backward decides
    # which gradients to compute) run op by op, so the dispatch mode sees them.
    forward = torch.compile(model, backend="aot_eager") if compiled else model
    images, labels = torch.rand(6, 1, 8, 8), torch.randint(0, 10, (6,))
    recorder = _ConvBackwardMasks()
    with frozen(model), recorder:
        linf_pgd(lambda x: F.cross_entropy(forward(x), labels, reduction="none"), (images,),
                 0.1, 0.05, 2, torch.Generator().manual_seed(0))
    assert recorder.masks and all(not mask[1] and not mask[2] for mask in recorder.masks)
    assert not calls and all(p.grad is None and p.requires_grad for p in model.parameters())
    # A training step after the attack still computes weight gradients (frozen is undone).
    with _ConvBackwardMasks() as training:
        F.cross_entropy(forward(images), labels).backward()
    assert any(mask[1] for mask in training.masks) and calls


def test_pgd_stays_in_the_ball_and_beats_a_clean_pass():
    torch.manual_seed(0)
    model = Classifier(SmallCNNEncoder(width=4, channels=1), 10).eval()
    images, labels = torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,))
    with frozen(model):
        (moved,) = linf_pgd(lambda x: F.cross_entropy(model(x), labels, reduction="none"),
                            (images,), 0.1, 0.025, 10, torch.Generator().manual_seed(0))
    assert (moved - images).abs().max() <= 0.1 + 1e-6 and moved.min() >= 0 and moved.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(model(moved), labels) > F.cross_entropy(model(images), labels)


def test_finite_guard_names_the_step_without_syncing_every_step():
    guard = FiniteGuard(torch.device("cpu"), every=3)
    guard.add(torch.ones(4), epoch=1)
    guard.add(torch.tensor([1.0, float("nan"), float("inf"), 2.0]), epoch=1)  # step 2: no check
    with pytest.raises(NonFiniteLoss, match="step 2 of epoch 1 \\(2 samples\\)"):
        guard.add(torch.ones(4), epoch=1)  # step 3: the periodic check


def test_semantic_config_errors_name_the_key(tmp_path):
    config = tiny_config(tmp_path)
    config["images"]["cifar10"]["linear"]["schedule"]["milestones"] = [0.8, 0.4]
    with pytest.raises(ConfigError, match="config key images.cifar10.linear.schedule.milestones"):
        validate_config(config)
    config = tiny_config(tmp_path)
    del config["images"]["digits"]["supervised"]["schedule"]["name"]
    with pytest.raises(ConfigError, match="config key images.digits.supervised.schedule"):
        validate_config(config)
    config = tiny_config(tmp_path)
    config["images"]["digits"]["downstream"]["parity"] = [0, 2, 0, 2, 0, 2, 0, 2, 0, 2]
    with pytest.raises(ConfigError, match="images.digits.downstream.parity"):
        validate_config(config)
    config = tiny_config(tmp_path)
    config["images"]["digits"]["evaluation"]["eps_grid"] = [1, 3]
    with pytest.raises(ConfigError, match="lacks the reference eps"):
        validate_config(config)


@pytest.fixture(scope="module")
def cifar_arrays(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    config = tiny_config(folder)
    write_cifar_archive(config["images"]["cifar10"]["data"]["root"])
    make_arrays(config, folder / "cifar10.npz")
    return config, folder / "cifar10.npz"


def _pretrain(config, data, folder, variant, seed=0):
    paths = [folder / name for name in ("encoder.pt", "log.csv", "resume.pt")]
    return paths, image_train.images_pretrain(
        settings.images_pretrain(config, "cifar10", variant, seed), {"data": str(data)},
        {"encoder": str(paths[0]), "log_csv": str(paths[1])},
        settings.images_options(config, "cifar10"), settings.untracked(path=str(paths[2])))


def test_resume_after_kill_matches_uninterrupted(cifar_arrays, tmp_path, monkeypatch):
    config, data = cifar_arrays
    config = copy.deepcopy(config)
    config["images"]["cifar10"]["contrastive"]["epochs"]["adversarial"] = 2
    straight, _ = _pretrain(config, data, tmp_path / "straight", "contrastive_adversarial")

    real_step = image_train.FiniteGuard.add

    def killed_in_epoch_2(self, losses, epoch):
        if epoch == 2:
            raise KeyboardInterrupt("killed")
        real_step(self, losses, epoch)

    monkeypatch.setattr(image_train.FiniteGuard, "add", killed_in_epoch_2)
    folder = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _pretrain(config, data, folder, "contrastive_adversarial")
    assert (folder / "resume.pt").exists() and not (folder / "encoder.pt").exists()
    monkeypatch.setattr(image_train.FiniteGuard, "add", real_step)
    resumed, _ = _pretrain(config, data, folder, "contrastive_adversarial")
    assert not (folder / "resume.pt").exists()
    straight_state, resumed_state = (load_torch(path[0])["state"] for path in (straight, resumed))
    assert any(".adversarial." in key for key in straight_state)  # ACL's dual BatchNorm
    for a, b in zip(straight_state.values(), resumed_state.values()):
        assert torch.equal(a, b)
    assert pd.read_csv(straight[1]).equals(pd.read_csv(resumed[1]))


def test_supervised_selection_is_reported(cifar_arrays, tmp_path):
    config, data = cifar_arrays
    config = copy.deepcopy(config)
    config["images"]["cifar10"]["supervised"]["epochs"]["adversarial"] = 2
    paths, extra = _pretrain(config, data, tmp_path, "supervised_adversarial")
    selection = extra["selection"]
    assert selection["criterion"] == "val_pgd_accuracy" and selection["last"]["epoch"] == 2
    assert load_torch(paths[0])["epoch"] == selection["selected_epoch"]
    log = pd.read_csv(paths[1])
    assert list(log["epoch"]) == [1, 2] and log["val_pgd_accuracy"].notna().all()


def test_clean_and_adversarial_variants_share_initialisation_and_data(cifar_arrays):
    config, _ = cifar_arrays
    seeds = {variant: image_train.job_seeds(settings.images_pretrain(config, "cifar10",
                                                                     variant, 0))
             for variant in ("supervised_clean", "supervised_adversarial")}
    clean, adversarial = seeds.values()
    assert clean["init"] == adversarial["init"] and clean["data"] == adversarial["data"]
    assert clean["attack"] != adversarial["attack"]
    other_seed = image_train.job_seeds(settings.images_pretrain(config, "cifar10",
                                                                "supervised_clean", 1))
    assert other_seed["init"] != clean["init"]


def test_non_finite_loss_fails_without_output(cifar_arrays, tmp_path, monkeypatch):
    config, data = cifar_arrays
    monkeypatch.setattr(image_train, "cross_entropy",
                        lambda logits, labels: logits.float().sum(1) * float("nan"))
    with pytest.raises(NonFiniteLoss, match="step 1 of epoch 1 \\(16 samples\\)"):
        _pretrain(config, data, tmp_path, "supervised_clean")
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.csv"))


def test_checkpoint_of_another_config_is_refused(cifar_arrays, tmp_path):
    config, data = cifar_arrays
    encoder_path = _pretrain(config, data, tmp_path, "contrastive_clean")[0][0]
    other = copy.deepcopy(config)
    other["images"]["cifar10"]["contrastive"]["temperature"] = 0.2
    runtime = configure(settings.images_options(other, "cifar10"))
    image_linear.load_encoder(encoder_path, fingerprint(settings.images_pretrain(
        config, "cifar10", "contrastive_clean", 0)), runtime)
    with pytest.raises(StaleModel, match="other settings"):
        image_linear.load_encoder(encoder_path, fingerprint(settings.images_pretrain(
            other, "cifar10", "contrastive_clean", 0)), runtime)


def test_paper_scale_training_refuses_to_start_on_a_cpu(cifar_arrays, tmp_path):
    config, data = cifar_arrays
    config = copy.deepcopy(config)
    config["images"]["cifar10"]["model"]["width"] = 64
    config["images"]["cifar10"]["supervised"]["epochs"]["adversarial"] = 200
    paper = {"train": 49000, "val": 1000}
    with pytest.raises(UserError, match=r"refusing to pre-train cifar10 supervised_adversarial "
                       r"\(seed 0\) on the CPU: .* days .* GPU-hours .*cpu_max_hours"):
        image_train.refuse_on_cpu(settings.images_pretrain(config, "cifar10",
                                                           "supervised_adversarial", 0),
                                  paper, 2)
    image_train.refuse_on_cpu(settings.images_pretrain(config, "cifar10",
                                                       "supervised_adversarial", 0),
                              paper, 1e9)  # forced
