"""The sparse-coding data model of the paper.

Latent X in R^d is sparse (each coordinate active with probability s/d); the observation is
Z = M X + xi with an orthogonal dictionary M whose columns are the features. Supervised labels
are Y = sign(beta^T X); contrastive pairs are similar (same X, Y=+1) or dissimilar (Y=-1).
"""

from dataclasses import dataclass

import numpy as np
import torch

from advpretrain.core import fileio


@dataclass(frozen=True)
class DataModel:
    d: int
    s: float
    sigma: float
    magnitudes: str = "sign"  # "sign": R_j in {-1,+1}; "uniform": sign times U[0.5, 1.5]


def orthogonal_dictionary(d: int, rng: np.random.Generator) -> np.ndarray:
    """QR of a Gaussian matrix with the signs fixed so the result is Haar-distributed."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def sample_latent(model: DataModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """n sparse latents; rows that came out all zero are redrawn."""
    latent = np.zeros((n, model.d))
    todo = np.arange(n)
    while todo.size:
        active = rng.random((todo.size, model.d)) < model.s / model.d
        values = rng.choice([-1.0, 1.0], size=(todo.size, model.d))
        if model.magnitudes == "uniform":
            values = values * rng.uniform(0.5, 1.5, size=(todo.size, model.d))
        latent[todo] = active * values
        todo = todo[~latent[todo].any(axis=1)]
    return latent


def observe(model: DataModel, dictionary: np.ndarray, latent: np.ndarray, rng) -> np.ndarray:
    """Z = M X + xi, one row per sample."""
    noise = model.sigma * rng.standard_normal(latent.shape)
    return latent @ dictionary.T + noise


def labelled_sample(model, dictionary, direction, n, rng):
    """(X, Z, Y) with Y = sign(direction^T X); samples on the decision boundary are redrawn."""
    latent = sample_latent(model, n, rng)
    margin = latent @ direction
    while np.any(margin == 0):
        ties = margin == 0
        latent[ties] = sample_latent(model, int(ties.sum()), rng)
        margin = latent @ direction
    return latent, observe(model, dictionary, latent, rng), np.sign(margin)


def contrastive_pairs(model, dictionary, n, rng, similar_share=1.0):
    """n pairs: with probability 1/2 similar (Y=+1), else dissimilar (Y=-1, independent latents).

    A similar pair shares its latent; with ``similar_share`` < 1 each coordinate of the second
    latent is kept from the first with that probability and drawn afresh otherwise.
    """
    first = sample_latent(model, n, rng)
    fresh = sample_latent(model, n, rng)
    similar = rng.random(n) < 0.5
    keep = rng.random((n, model.d)) < similar_share
    shared = np.where(keep, first, fresh)
    empty = ~shared.any(axis=1)
    shared[empty] = first[empty]  # a similar partner must carry at least one feature
    second = np.where(similar[:, None], shared, fresh)
    labels = np.where(similar, 1.0, -1.0)
    return (first, second,
            observe(model, dictionary, first, rng), observe(model, dictionary, second, rng), labels)


def make_dataset(model: DataModel, sizes: dict, rng: np.random.Generator, similar_share=1.0):
    """Every array one seed needs: dictionary, label directions, pre-training, downstream, pairs."""
    dictionary = orthogonal_dictionary(model.d, rng)
    beta = rng.standard_normal(model.d)
    gamma = rng.standard_normal(model.d)
    arrays = {"dictionary": dictionary, "beta": beta, "gamma": gamma}
    for split in ("train", "test"):
        for task, direction in (("pretrain", beta), ("downstream", gamma)):
            latent, observed, labels = labelled_sample(
                model, dictionary, direction, sizes[f"{task}_{split}"], rng)
            arrays[f"{task}_{split}_x"] = latent
            arrays[f"{task}_{split}_z"] = observed
            arrays[f"{task}_{split}_y"] = labels
        x1, x2, z1, z2, labels = contrastive_pairs(
            model, dictionary, sizes[f"pairs_{split}"], rng, similar_share)
        arrays.update({f"pairs_{split}_x1": x1, f"pairs_{split}_x2": x2,
                       f"pairs_{split}_z1": z1, f"pairs_{split}_z2": z2,
                       f"pairs_{split}_y": labels})
    return {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def load_data(paths: list[str]) -> dict[str, torch.Tensor]:
    """Stack the per-seed data files into tensors of shape (S, n, ...)."""
    per_seed = [fileio.load_arrays(path) for path in paths]
    # Every name any seed has, from every seed: a file that lacks one is named by load_arrays.
    names = sorted(set().union(*per_seed))
    return fileio.Arrays(", ".join(map(str, paths)), {
        name: torch.from_numpy(np.stack([arrays[name] for arrays in per_seed])) for name in names})


def purified_layer(dictionary: torch.Tensor, hidden: int, scale: float = 1.0) -> torch.Tensor:
    """Perfectly purified layers (S, H, d): node h reads s_h M_j with j = h mod d and
    s_h = (-1)^(h // d)."""
    d = dictionary.shape[-1]
    nodes = torch.arange(hidden)
    signs = 1.0 - 2.0 * ((nodes // d) % 2).to(dictionary.dtype)
    # M's columns are the features; row h of W is column j(h) of M (transposed), signed.
    return scale * signs[None, :, None] * dictionary.transpose(1, 2)[:, nodes % d, :]
