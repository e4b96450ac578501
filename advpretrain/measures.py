"""Feature purification measures of the hidden nodes: C = W M, purity, and their summaries."""

from __future__ import annotations

import pandas as pd
import torch


def feature_coefficients(weight: torch.Tensor, dictionary: torch.Tensor) -> torch.Tensor:
    """C = W M: C[n, h, j] = <w_h, M_j>, how much node h of network n reads feature j."""
    return weight @ dictionary


def node_measures(coefficients: torch.Tensor, dead_relative_norm: float
                  ) -> dict[str, torch.Tensor]:
    """Per-node purity, participation ratio, feature count and dead flag, each (N, H).

    purity = max_j |C_hj| / ||C_h||  (1 = one feature; 1/sqrt(d) = an even mix of all d)
    participation ratio = (sum C^2)^2 / sum C^4  (effective number of features)
    feature count = features with |C_hj| at least half the node's largest
    dead = norm below ``dead_relative_norm`` times the network's median node norm
    """
    magnitude = coefficients.abs()
    squares = coefficients**2
    norm = squares.sum(-1).sqrt()
    largest = magnitude.max(-1).values
    safe_norm = norm.clamp_min(1e-12)
    return {
        "purity": largest / safe_norm,
        "participation_ratio": squares.sum(-1) ** 2 / (squares**2).sum(-1).clamp_min(1e-24),
        "feature_count": (magnitude >= 0.5 * largest[..., None]).sum(-1).to(coefficients.dtype),
        "norm": norm,
        "dead": norm < dead_relative_norm * norm.median(dim=-1, keepdim=True).values,
    }


def summarise_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """One row per network and measure: the mean over live nodes, and the dead-node share."""
    keys = [c for c in ("task", "activation", "variant", "train_norm", "train_eps", "seed")
            if c in nodes.columns]
    live = nodes[~nodes["dead"]]
    summary = live.groupby(keys)[["purity", "participation_ratio", "feature_count"]].mean()
    summary["dead_share"] = nodes.groupby(keys)["dead"].mean()
    return summary.reset_index().melt(id_vars=keys, var_name="measure", value_name="value")
