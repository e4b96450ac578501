"""Batched data augmentation in torch, on whatever device the images live (no CPU round trip).

Geometric augmentations are one affine resampling per batch (``grid_sample``); colour ones are
per-sample arithmetic. Every random draw comes from the caller's generator, so runs repeat. The
strengths come from the data set's ``augment`` settings: a random shift (crop of the zero-padded
image) and flip for supervised training and the linear heads; SimCLR's views (random resized
crop, flip, colour jitter, grayscale) for contrastive training. On one-channel images saturation,
hue and grayscale do nothing.
"""

import math

import torch
from torch.nn import functional as F

CROP_RATIO = (3 / 4, 4 / 3)  # aspect ratios of the random resized crop (torchvision's default)
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


def crop_flip(images, generator, augment):
    """Random crop of the image zero-padded by ``augment["shift"]`` pixels, and a horizontal flip
    with probability 1/2 if ``augment["flip"]``. Whole-pixel shifts with nearest sampling
    reproduce the padded crop exactly."""
    n, _, height, width = images.shape
    device, pad = images.device, augment["shift"]
    shift = torch.randint(-pad, pad + 1, (2, n), generator=generator, device=device)
    ones = torch.ones(n, device=device, dtype=images.dtype)
    flip = _coin(n, 0.5 if augment["flip"] else 0.0, generator, device)
    return _resample(images, ones, ones, 2 * shift[0] / width, 2 * shift[1] / height, flip,
                     mode="nearest")


def _random_resized_crop_flip(images, generator, scale, flip):
    n, device = images.shape[0], images.device
    area = _uniform(n, *scale, generator, device)
    log_ratio = _uniform(n, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), generator, device)
    ratio = torch.exp(log_ratio)
    # Box sides as fractions of the image; clamped to fit (torchvision retries, we clamp).
    side_x = torch.sqrt(area * ratio).clamp(max=1.0)
    side_y = torch.sqrt(area / ratio).clamp(max=1.0)
    shift_x = (1 - side_x) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    shift_y = (1 - side_y) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    flips = _coin(n, 0.5 if flip else 0.0, generator, device)
    # Bicubic as ACL's transforms.RandomResizedCrop(interpolation=3); it can overshoot [0, 1].
    return _resample(images, side_x.to(images.dtype), side_y.to(images.dtype), shift_x, shift_y,
                     flips, mode="bicubic").clamp(0, 1)


def _gray(images):
    if images.shape[1] == 1:
        return images
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


def _colour_jitter(images, generator, strengths):
    n, device = images.shape[0], images.device
    brightness, contrast, saturation, hue = strengths
    view = (n, 1, 1, 1)

    def factor(strength):
        return _uniform(n, 1 - strength, 1 + strength, generator, device).view(view)

    images = (images * factor(brightness)).clamp(0, 1)
    mean = _gray(images).mean(dim=(2, 3), keepdim=True)
    images = ((images - mean) * factor(contrast) + mean).clamp(0, 1)
    if images.shape[1] == 3:
        gray = _gray(images)
        images = ((images - gray) * factor(saturation) + gray).clamp(0, 1)
        angle = _uniform(n, -hue, hue, generator, device) * 2 * math.pi
        images = _rotate_hue(images, angle).clamp(0, 1)
    return images


def simclr_view(images, generator, augment):
    """One SimCLR view per image: random resized crop (area ``crop_scale``), flip, colour jitter
    (``jitter`` strengths, with probability ``jitter_prob``), grayscale (``grayscale_prob``)."""
    n, device = images.shape[0], images.device
    images = _random_resized_crop_flip(images, generator, augment["crop_scale"], augment["flip"])
    jittered = _colour_jitter(images, generator, augment["jitter"])
    jitter = _coin(n, augment["jitter_prob"], generator, device).view(n, 1, 1, 1)
    images = torch.where(jitter, jittered, images)
    gray = _gray(images).expand_as(images)
    return torch.where(_coin(n, augment["grayscale_prob"], generator, device).view(n, 1, 1, 1),
                       gray, images)
