"""Encoders for the real images and the heads around them.

* ``ResNet18Encoder``: CIFAR ResNet-18 (3x3 stem, no max-pool), configurable width;
* ``SmallCNNEncoder``: four 3x3 convolutions sized for 8x8 inputs (the digits);
* ``DualBatchNorm``: ACL's dual BatchNorm, a clean and an adversarial branch with their own
  statistics and affine parameters; ``use_branch`` picks the branch every one of them runs;
* ``Classifier`` (encoder + linear layer), ``ProjectionHead`` (ACL's: linear, BatchNorm, ReLU,
  linear, BatchNorm) and ``ContrastiveModel``.

Models take images in [0, 1] and normalise inside, so attacks and AutoAttack work in pixel space.
The layer shapes come from ``advpretrain.images.architecture`` (torch-free), which the cost model
counts FLOPs from.
"""

from contextlib import contextmanager

import torch
from torch import nn

from advpretrain.images.architecture import CNN_POOL_AFTER, feature_dim
from advpretrain.images.datasets import spec

BRANCHES = ("clean", "adversarial")


class DualBatchNorm(nn.Module):
    """Two BatchNorms of the same shape, ``clean`` and ``adversarial`` (ACL's dual BN); the one
    named by ``branch`` runs, so each keeps its own running statistics."""

    def __init__(self, norm_class, features):
        super().__init__()
        self.clean = norm_class(features)
        self.adversarial = norm_class(features)
        self.branch = "clean"

    def forward(self, x):
        return self.adversarial(x) if self.branch == "adversarial" else self.clean(x)


def _norm(norm_class, features, dual):
    return DualBatchNorm(norm_class, features) if dual else norm_class(features)


def set_branch(module: nn.Module, branch: str) -> None:
    """Route every DualBatchNorm of ``module`` through ``branch``."""
    if branch not in BRANCHES:
        raise ValueError(f"unknown BatchNorm branch {branch!r}; choose from {BRANCHES}")
    for layer in module.modules():
        if isinstance(layer, DualBatchNorm):
            layer.branch = branch


@contextmanager
def use_branch(module: nn.Module, branch: str):
    """``set_branch`` for the duration, back to the clean branch after."""
    set_branch(module, branch)
    try:
        yield module
    finally:
        set_branch(module, "clean")


def single_branch_state(state: dict, branch: str) -> dict:
    """A dual-BatchNorm state dict as the state dict of the same model with plain BatchNorms,
    keeping ``branch`` (RobustSSL's SLF evaluates ACL's adversarial branch)."""
    marker = {name: f".{name}." for name in BRANCHES}
    kept = {}
    for key, value in state.items():
        if marker[branch] in key:
            kept[key.replace(marker[branch], ".", 1)] = value
        elif not any(m in key for m in marker.values()):
            kept[key] = value
    return kept


class _Normalise(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images):
        return (images - self.mean) / self.std


class BasicBlock(nn.Module):
    def __init__(self, in_channels, channels, stride, dual):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = _norm(nn.BatchNorm2d, channels, dual)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = _norm(nn.BatchNorm2d, channels, dual)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                          _norm(nn.BatchNorm2d, channels, dual))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18Encoder(nn.Module):
    """Images in [0, 1] -> penultimate features (8 * width, after ReLU and global pooling)."""

    def __init__(self, width=64, channels=3, mean=(0.0,) * 3, std=(1.0,) * 3, dual_bn=False):
        super().__init__()
        self.normalise = _Normalise(mean, std)
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1, bias=False),
                                  _norm(nn.BatchNorm2d, width, dual_bn), nn.ReLU())
        layers, in_channels = [], width
        for multiple, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            out = width * multiple
            layers += [BasicBlock(in_channels, out, stride, dual_bn),
                       BasicBlock(out, out, 1, dual_bn)]
            in_channels = out
        self.layers = nn.Sequential(*layers)
        self.feature_dim = in_channels

    def forward(self, images):
        x = self.layers(self.stem(self.normalise(images)))
        # A plain mean, not adaptive_avg_pool2d: its CUDA backward has no deterministic kernel.
        return x.mean(dim=(2, 3))


class MaxPool2x2(nn.MaxPool2d):
    """``nn.MaxPool2d(2)``, faster on the CPU where no gradient flows: the maximum of each
    window's four strided slices, the same values (a maximum does no arithmetic; NaN where torch
    has NaN; only a window holding both +0 and -0 may keep the other zero, which the next
    convolution cannot tell apart). torch's CPU kernel also fills an int64 index tensor and is
    about 7x slower on the digits' (135, 12, 8, 8) batches, and AutoAttack's Square runs 5,000
    forward passes without gradients per task (docs/performance.md). With a gradient (whose
    routing to each window's first maximum must not change), on a GPU or another memory layout
    it is ``nn.MaxPool2d`` itself."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x):
        if (x.device.type != "cpu" or (torch.is_grad_enabled() and x.requires_grad)
                or not x.is_contiguous() or x.shape[-1] % 2 or x.shape[-2] % 2):
            return super().forward(x)
        return torch.maximum(torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
                             torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


class SmallCNNEncoder(nn.Module):
    """For 8x8 images: conv(width), conv(width), 2x2 max-pool, conv(2 width), conv(2 width), each
    3x3 with BatchNorm and ReLU, then global mean pooling: 2 * width features."""

    def __init__(self, width=16, channels=1, mean=(0.0,), std=(1.0,), dual_bn=False):
        super().__init__()
        self.normalise = _Normalise(mean, std)
        blocks, in_channels = [], channels
        for index, out in enumerate((width, width, 2 * width, 2 * width)):
            blocks += [nn.Conv2d(in_channels, out, 3, 1, 1, bias=False),
                       _norm(nn.BatchNorm2d, out, dual_bn), nn.ReLU()]
            if index == CNN_POOL_AFTER:
                blocks.append(MaxPool2x2())
            in_channels = out
        self.layers = nn.Sequential(*blocks)
        self.feature_dim = in_channels

    def forward(self, images):
        return self.layers(self.normalise(images)).mean(dim=(2, 3))


ENCODERS = {"resnet18": ResNet18Encoder, "cnn": SmallCNNEncoder}


def build_encoder(model: dict, dataset: str, dual_bn: bool = False) -> nn.Module:
    """The encoder of a ``model`` setting ({"arch", "width"}) for ``dataset``'s images."""
    facts = spec(dataset)
    encoder = ENCODERS[model["arch"]](model["width"], facts.channels, facts.mean, facts.std,
                                      dual_bn)
    assert encoder.feature_dim == feature_dim(model["arch"], model["width"])
    return encoder


class Classifier(nn.Module):
    """Encoder followed by a linear layer: supervised pre-training and the downstream probes."""

    def __init__(self, encoder, num_classes):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, num_classes)

    def forward(self, images):
        return self.head(self.encoder(images))


class ProjectionHead(nn.Module):
    """ACL's projection head (models/resnet_multi_bn.py, proj_head): linear, BatchNorm, ReLU,
    linear without bias, BatchNorm; dual BatchNorms with a dual-BN encoder."""

    def __init__(self, dim, projection_dim, dual_bn=False):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.bn1 = _norm(nn.BatchNorm1d, dim, dual_bn)
        self.fc2 = nn.Linear(dim, projection_dim, bias=False)
        self.bn2 = _norm(nn.BatchNorm1d, projection_dim, dual_bn)

    def forward(self, features):
        return self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(features)))))


class ContrastiveModel(nn.Module):
    """Encoder followed by the projection head; the loss sees the projection."""

    def __init__(self, encoder, projection_dim, dual_bn=False):
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.feature_dim, projection_dim, dual_bn)

    def forward(self, images):
        return self.projector(self.encoder(images))
