"""Feature purification measures of the hidden nodes: C = W M, purity, firing, and summaries.

A node is *live* when it fires (its output is not zero) on at least ``live_rate`` of the test
inputs; ``settings.live_rate`` derives that from the data: a fraction of the rate s/d at which a
node reading a single feature fires. Purity and the other node measures are averaged over live
nodes only: a node that almost never fires says nothing about the representation, whatever its
weights read. A node is *pure* when it is live and its purity is at least ``pure_threshold``.
"""

from __future__ import annotations

import pandas as pd
import torch

from advpretrain.model.networks import TwoLayerNets, active

NODE_MEASURES = ["purity", "participation_ratio", "feature_count", "functional_purity"]


def feature_coefficients(weight: torch.Tensor, dictionary: torch.Tensor) -> torch.Tensor:
    """C = W M: C[n, h, j] = <w_h, M_j>, how much node h of network n reads feature j."""
    return weight @ dictionary


def node_measures(coefficients: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-node purity, participation ratio, feature count, norm and main feature, each (N, H).

    purity = max_j |C_hj| / ||C_h||  (1 = one feature; 1/sqrt(d) = an even mix of all d)
    participation ratio = (sum C^2)^2 / sum C^4  (effective number of features)
    feature count = features with |C_hj| at least half the node's largest
    """
    magnitude = coefficients.abs()
    squares = coefficients**2
    norm = squares.sum(-1).sqrt()
    largest = magnitude.max(-1)
    return {
        "purity": largest.values / norm.clamp_min(1e-12),
        "participation_ratio": squares.sum(-1) ** 2 / (squares**2).sum(-1).clamp_min(1e-24),
        "feature_count": (magnitude >= 0.5 * largest.values[..., None]).sum(-1).to(
            coefficients.dtype),
        "norm": norm,
        "main_feature": largest.indices,
    }


@torch.no_grad()
def functional_purity(nets: TwoLayerNets, inputs: tuple[torch.Tensor, ...],
                      latents: tuple[torch.Tensor, ...], main_feature: torch.Tensor
                      ) -> torch.Tensor:
    """Per node (N, H): the share of its firings in which its main feature is present in the
    latent X (X_j != 0, j = ``main_feature``), over ``inputs`` (N, B, d each) and their latents
    (N, B, d each); NaN for a node that never fires. Weight purity says what a node reads, this
    says what makes it fire: a node can read one feature mostly and still fire on others."""
    fired = present = 0
    for z, x in zip(inputs, latents):
        fires = active(nets.hidden(z))  # (N, B, H)
        index = main_feature[:, None, :].expand(-1, x.shape[1], -1)
        has_main = torch.gather(x, -1, index) != 0  # (N, B, H): X_j(h) of each sample
        fired = fired + fires.sum(1)
        present = present + (fires & has_main).sum(1)
    return torch.where(fired > 0, present / fired.clamp_min(1), torch.nan)


@torch.no_grad()
def firing_rates(nets: TwoLayerNets, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Share of the inputs (N, B, d each; all members of a pair pooled) on which each node
    fires, (N, H)."""
    return torch.cat([active(nets.hidden(z)) for z in inputs], dim=1).to(
        inputs[0].dtype).mean(1)


def mean_live_purity(coefficients: torch.Tensor, rates: torch.Tensor, live_rate: float
                     ) -> torch.Tensor:
    """Mean purity over each network's live nodes, (N,); NaN for a network without one."""
    live = (rates >= live_rate).to(coefficients.dtype)
    purity = node_measures(coefficients)["purity"]
    return (purity * live).sum(-1) / live.sum(-1)


def summarise_nodes(nodes: pd.DataFrame, d: int, pure_threshold: float) -> pd.DataFrame:
    """One row per network and measure (long format): the means of ``NODE_MEASURES`` over live
    nodes, the mean purity over all H nodes (``purity_all``: dead nodes counted, so that no
    selection of nodes can raise it), the shares of live and of pure nodes (of all H nodes), and
    the feature coverage (the share of the d features that at least one pure node reads)."""
    keys = [c for c in ("task", "activation", "variant", "train_norm", "train_eps", "seed")
            if c in nodes.columns]
    nodes = nodes.assign(pure=nodes["live"] & (nodes["purity"] >= pure_threshold))
    grouped = nodes.groupby(keys)
    summary = nodes[nodes["live"]].groupby(keys)[NODE_MEASURES].mean().reindex(
        grouped.size().index)
    summary["purity_all"] = grouped["purity"].mean()
    summary["live_share"] = grouped["live"].mean()
    summary["pure_share"] = grouped["pure"].mean()
    summary["coverage"] = nodes[nodes["pure"]].groupby(keys)["main_feature"].nunique().reindex(
        summary.index, fill_value=0) / d
    return summary.reset_index().melt(id_vars=keys, var_name="measure", value_name="value")
