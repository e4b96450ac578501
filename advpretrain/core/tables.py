"""Helpers for the tidy CSV tables every stage writes and the figures and claims read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

# Values of the tables' columns that figures order by (torch-free: the tasks need torch).
PAIR_TYPE_ORDER = ["similar", "dissimilar"]  # pair_type; as model.tasks.PAIR_TYPES
ATTACKED_PAIRS = ["none", "all", "similar", "dissimilar"]  # attacked_pairs: the pair-attack study


def read_csvs(paths: Iterable[str]) -> pd.DataFrame | None:
    """The CSVs concatenated, or None when there are none."""
    frames = [pd.read_csv(path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else None


def at_attack(frame: pd.DataFrame, attack: Mapping) -> pd.DataFrame:
    """Rows of an attack table at one attack: {"attack", "norm", "eps"}."""
    return frame[(frame["attack"] == attack["attack"]) & (frame["norm"] == attack["norm"])
                 & np.isclose(frame["eps"], attack["eps"])]


def attack_label(attack: Mapping) -> str:
    """e.g. "pgd l2 eps=0.5"."""
    return f"{attack['attack']} {attack['norm']} eps={attack['eps']:g}"


def label_columns(variants: list[Mapping], n_seeds: int, **fixed) -> pd.DataFrame:
    """(variant, train_norm, train_eps, seed) of each network of a variant-major stack, plus
    ``fixed`` columns."""
    return pd.DataFrame({
        **fixed,
        "variant": [v["variant"] for v in variants for _ in range(n_seeds)],
        "train_norm": [v["norm"] for v in variants for _ in range(n_seeds)],
        "train_eps": [v["eps"] for v in variants for _ in range(n_seeds)],
        "seed": [s for _ in variants for s in range(n_seeds)],
    })
