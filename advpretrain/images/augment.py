"""Batched data augmentation in torch, on whatever device the images live (no CPU round trip).

Geometric augmentations are one affine resampling per batch (``grid_sample``); colour ones are
per-sample arithmetic. Every random draw comes from the caller's generator, so runs repeat.
"""

import math

import torch
from torch.nn import functional as F

# SimCLR's CIFAR-10 recipe (Chen et al. 2020): crop scale, jitter strengths and probabilities.
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
JITTER_PROB = 0.8
GRAYSCALE_PROB = 0.2
PAD = 4  # supervised random crop: shift by up to 4 pixels with zero padding
_LUMA = (0.299, 0.587, 0.114)


def _uniform(n, low, high, generator, device):
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _coin(n, prob, generator, device):
    return torch.rand(n, generator=generator, device=device) < prob


def _resample(images, scale_x, scale_y, shift_x, shift_y, flip, mode):
    """Sample each image on its own axis-aligned box (normalised coordinates), mirrored if flip."""
    n = images.shape[0]
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = torch.where(flip, -scale_x, scale_x)
    theta[:, 0, 2] = shift_x
    theta[:, 1, 1] = scale_y
    theta[:, 1, 2] = shift_y
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def crop_flip(images, generator):
    """Standard supervised CIFAR augmentation: random 4-pixel-padded crop and horizontal flip.

    Whole-pixel shifts with nearest sampling reproduce the padded crop exactly.
    """
    n, _, height, width = images.shape
    device = images.device
    shift = torch.randint(-PAD, PAD + 1, (2, n), generator=generator, device=device)
    ones = torch.ones(n, device=device, dtype=images.dtype)
    return _resample(images, ones, ones, 2 * shift[0] / width, 2 * shift[1] / height,
                     _coin(n, 0.5, generator, device), mode="nearest")


def _random_resized_crop_flip(images, generator):
    n, device = images.shape[0], images.device
    area = _uniform(n, *CROP_SCALE, generator, device)
    log_ratio = _uniform(n, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), generator, device)
    ratio = torch.exp(log_ratio)
    # Box sides as fractions of the image; clamped to fit (torchvision retries, we clamp).
    side_x = torch.sqrt(area * ratio).clamp(max=1.0)
    side_y = torch.sqrt(area / ratio).clamp(max=1.0)
    shift_x = (1 - side_x) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    shift_y = (1 - side_y) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    return _resample(images, side_x.to(images.dtype), side_y.to(images.dtype), shift_x, shift_y,
                     _coin(n, 0.5, generator, device), mode="bilinear")


def _gray(images):
    luma = torch.tensor(_LUMA, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * luma).sum(dim=1, keepdim=True)


def _rotate_hue(images, angle):
    """Hue shift as a rotation of the chroma plane in YIQ space (a linear stand-in for HSV)."""
    rgb_to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                               [0.211, -0.523, 0.312]], device=images.device, dtype=images.dtype)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(len(angle), 3, 3, device=images.device, dtype=images.dtype)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    transform = torch.linalg.inv(rgb_to_yiq) @ rotation @ rgb_to_yiq
    return torch.einsum("nij,njhw->nihw", transform, images)


def _colour_jitter(images, generator):
    n, device = images.shape[0], images.device
    view = (n, 1, 1, 1)

    def factor(strength):
        return _uniform(n, 1 - strength, 1 + strength, generator, device).view(view)

    images = (images * factor(JITTER["brightness"])).clamp(0, 1)
    mean = _gray(images).mean(dim=(2, 3), keepdim=True)
    images = ((images - mean) * factor(JITTER["contrast"]) + mean).clamp(0, 1)
    gray = _gray(images)
    images = ((images - gray) * factor(JITTER["saturation"]) + gray).clamp(0, 1)
    angle = _uniform(n, -JITTER["hue"], JITTER["hue"], generator, device) * 2 * math.pi
    return _rotate_hue(images, angle).clamp(0, 1)


def simclr_view(images, generator):
    """One SimCLR view per image: resized crop, flip, colour jitter (p 0.8), grayscale (p 0.2)."""
    n, device = images.shape[0], images.device
    images = _random_resized_crop_flip(images, generator)
    jittered = _colour_jitter(images, generator)
    jitter = _coin(n, JITTER_PROB, generator, device).view(n, 1, 1, 1)
    images = torch.where(jitter, jittered, images)
    gray = _gray(images).expand_as(images)
    return torch.where(_coin(n, GRAYSCALE_PROB, generator, device).view(n, 1, 1, 1), gray, images)
