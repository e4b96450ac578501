"""CIFAR ResNet-18 (3x3 stem, no max-pool) with a configurable width, and the heads around it.

Models take images in [0, 1] and normalise inside, so attacks and AutoAttack work in pixel space.
"""

import torch
from torch import nn
from torch.nn import functional as F

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
NUM_CLASSES = 10


class BasicBlock(nn.Module):
    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18Encoder(nn.Module):
    """Images in [0, 1] -> penultimate features (8 * width, after ReLU and global pooling)."""

    def __init__(self, width=64):
        super().__init__()
        self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR_STD).view(1, 3, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        layers, in_channels = [], width
        for multiple, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            channels = width * multiple
            layers += [BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1)]
            in_channels = channels
        self.layers = nn.Sequential(*layers)
        self.feature_dim = in_channels

    def forward(self, images):
        x = self.layers(self.stem((images - self.mean) / self.std))
        # A plain mean, not adaptive_avg_pool2d: its CUDA backward has no deterministic kernel.
        return x.mean(dim=(2, 3))


class Classifier(nn.Module):
    """Encoder followed by a linear layer: supervised pre-training and the downstream probe."""

    def __init__(self, encoder, num_classes=NUM_CLASSES):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, num_classes)

    def forward(self, images):
        return self.head(self.encoder(images))


class ContrastiveModel(nn.Module):
    """Encoder followed by the SimCLR projection MLP; the loss sees the projection."""

    def __init__(self, encoder, projection_dim):
        super().__init__()
        self.encoder = encoder
        dim = encoder.feature_dim
        self.projector = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(),
                                       nn.Linear(dim, projection_dim))

    def forward(self, images):
        return self.projector(self.encoder(images))
