"""The learning tasks on sparse-coding data: which arrays they read and which loss they minimise.

- ``supervised``: logistic loss on Y f(Z), Y = sign(beta^T X) (the ``pretrain_*`` arrays);
- ``contrastive``: logistic loss on Y s(Z, Z'), Y = +1 for similar and -1 for dissimilar pairs
  (the ``pairs_*`` arrays);
- ``downstream``: the supervised loss on Y' = sign(gamma^T X) (the ``downstream_*`` arrays).
"""

from __future__ import annotations

import torch

from advpretrain.model.networks import TwoLayerNets, logistic_loss

PAIR_TYPES = {"similar": 1.0, "dissimilar": -1.0}  # contrastive label of each pair type


class Supervised:
    """Logistic loss on Y f(Z); inputs (Z,)."""

    prefix = "pretrain"

    def inputs(self, data: dict, split: str) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """(inputs, labels) of ``split`` ("train" or "test"), per seed: shapes (S, n, ...)."""
        return (data[f"{self.prefix}_{split}_z"],), data[f"{self.prefix}_{split}_y"]

    def latents(self, data: dict, split: str) -> tuple[torch.Tensor, ...]:
        """The latent X of each input of ``split``, per seed: shapes (S, n, d)."""
        return (data[f"{self.prefix}_{split}_x"],)

    @staticmethod
    def margin(nets: TwoLayerNets, z: torch.Tensor) -> torch.Tensor:
        return nets(z)

    def loss(self, nets: TwoLayerNets, *inputs_and_labels: torch.Tensor) -> torch.Tensor:
        """Per-sample losses (N, B) of ``nets`` at ``inputs``; the labels come last."""
        *inputs, labels = inputs_and_labels
        return logistic_loss(labels * self.margin(nets, *inputs))


class Contrastive(Supervised):
    """Logistic loss on Y s(Z, Z'); inputs (Z, Z')."""

    prefix = "pairs"

    def inputs(self, data: dict, split: str) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        return ((data[f"pairs_{split}_z1"], data[f"pairs_{split}_z2"]), data[f"pairs_{split}_y"])

    def latents(self, data: dict, split: str) -> tuple[torch.Tensor, ...]:
        return data[f"pairs_{split}_x1"], data[f"pairs_{split}_x2"]

    @staticmethod
    def margin(nets: TwoLayerNets, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nets.score(z1, z2)


class Downstream(Supervised):
    """The downstream task: logistic loss on Y' f(Z) with Y' = sign(gamma^T X)."""

    prefix = "downstream"


TASKS = {"supervised": Supervised(), "contrastive": Contrastive(), "downstream": Downstream()}


def split_by_pair_type(values: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean of per-pair values (N, B) over the similar and over the dissimilar pairs.

    Returns {"similar": (N,), "dissimilar": (N,)}; a network without pairs of a type gets NaN.
    """
    split = {}
    for name, sign in PAIR_TYPES.items():
        mask = (labels == sign).to(values.dtype)
        count = mask.sum(-1)
        split[name] = torch.where(count > 0, (values * mask).sum(-1) / count.clamp_min(1),
                                  torch.full_like(count, float("nan")))
    return split
