"""Feature purification measures of the hidden nodes: C = W M, purity, firing, and summaries.

A node is *live* when it fires (its output is not zero) on at least ``live_rate`` of the test
inputs; ``settings.live_rate`` derives that from the data: a fraction of the rate s/d at which a
node reading a single feature fires. Purity and the other node measures are averaged over live
nodes only: a node that almost never fires says nothing about the representation, whatever its
weights read. A node is *pure* when it is live and its purity is at least ``pure_threshold``.

Beyond purity, mechanism measures ask why a purified layer can still carry a head that is not
robust: how far an input must move to open a node (``crossing_distance``), how much of a head's
weight sits on impure or unused nodes (``head_weights``), and what the attack's own breaking
points do to the nodes (``attack_mechanism``).
"""

from __future__ import annotations

import pandas as pd
import torch

from advpretrain.model.networks import TwoLayerNets, active

NODE_MEASURES = ["purity", "participation_ratio", "feature_count", "functional_purity"]
ROW_NORM_QUANTILES = {"row_norm_median": 0.5, "row_norm_p10": 0.1, "row_norm_p90": 0.9}
DUAL_ORDER = {"l2": 2, "linf": 1}  # the norm of w_h that bounds w_h . delta over a ball


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


def main_present(latents: torch.Tensor, main_feature: torch.Tensor) -> torch.Tensor:
    """(N, B, H): whether each node's main feature is present (X_j(h) != 0) in the latent X of
    each sample (``latents`` (N, B, d))."""
    index = main_feature[:, None, :].expand(-1, latents.shape[1], -1)
    return torch.gather(latents, -1, index) != 0


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
        has_main = main_present(x, main_feature)
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


@torch.no_grad()
def crossing_distance(nets: TwoLayerNets, norm: str = "l2") -> torch.Tensor:
    """Per node (N, H): how far, in ``norm``, an input with w_h . z = 0 must move to reach the
    node's threshold: the threshold over ||w_h|| in the dual norm (l2 for l2, l1 for l_inf), so
    e / ||w_h||_2 in l2 for the absolute threshold, e for the relative one, and 0 for the
    activations without a threshold (tanh, softplus). The gate's threshold keeps a silent node
    silent only against attacks smaller than this: learned rows of norm 1.6-3 bring e = 0.3 to
    0.1-0.2, within the claims' budget, whatever the node reads."""
    threshold = nets.node_threshold()
    if torch.is_tensor(threshold):
        threshold = threshold[:, 0]
    return threshold / torch.linalg.vector_norm(nets.weight, DUAL_ORDER[norm], dim=-1)


def head_weights(head: torch.Tensor, purity: torch.Tensor, live: torch.Tensor,
                 pure_threshold: float) -> dict[str, torch.Tensor]:
    """Shares (N,) of a head's weight sum_h |a_h| (``head`` (N, H)) on impure nodes (live, purity
    below ``pure_threshold``: ``head_weight_impure``) and on nodes that are not live
    (``head_weight_unused``); ``purity`` and ``live`` (N, H). A purified layer protects a head
    only through the pure nodes the head reads: weight on impure nodes reads mixtures an attack
    can shift, and weight on unused nodes, invisible to every live-node measure, is paid out
    when an attack lights them."""
    weight = head.detach().abs()
    total = weight.sum(-1)
    return {"head_weight_impure": (weight * (live & (purity < pure_threshold))).sum(-1) / total,
            "head_weight_unused": (weight * ~live).sum(-1) / total}


@torch.no_grad()
def attack_mechanism(nets: TwoLayerNets, clean: torch.Tensor, attacked: torch.Tensor,
                     latents: torch.Tensor, main_feature: torch.Tensor, broken: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
    """What an attack did to the nodes, as shares (N,) of the samples it broke (``broken``
    (N, B); NaN for a network without one), from the ``clean`` inputs z, the ``attacked``
    z + delta (N, B, d each) and the samples' ``latents`` X (N, B, d):

    ``lit_absent_share``: the attack lights up a node whose main feature (``main_feature``
    (N, H)) is absent from the sample (off at z, on at z + delta, X_j(h) = 0): it writes a
    feature the sample does not have, which no purity of the layer prevents once the budget
    exceeds the node's ``crossing_distance``;
    ``moved_present_share``: every node whose output the attack changes reads a feature present
    in the sample: the attack works by shifting the features the sample has.

    The two exclude each other but need not sum to 1: an attack may also change absent features'
    nodes without lighting one (turn one off, or shift one already on)."""
    before, after = nets.hidden(clean), nets.hidden(attacked)  # (N, B, H)
    absent = ~main_present(latents, main_feature)
    lit_absent = (~active(before) & active(after) & absent).any(-1)
    moved = before != after
    moved_present = moved.any(-1) & ~(moved & absent).any(-1)
    count = broken.sum(-1)

    def share(event):
        return torch.where(count > 0, (event & broken).sum(-1).to(clean.dtype)
                           / count.clamp_min(1), torch.nan)

    return {"lit_absent_share": share(lit_absent), "moved_present_share": share(moved_present)}


def summarise_nodes(nodes: pd.DataFrame, d: int, pure_threshold: float) -> pd.DataFrame:
    """One row per network and measure (long format): the means of ``NODE_MEASURES`` over live
    nodes, the mean purity over all H nodes (``purity_all``: dead nodes counted, so that no
    selection of nodes can raise it), the shares of live and of pure nodes (of all H nodes), and
    the feature coverage (the share of the d features that at least one pure node reads). Then,
    over live nodes, the median and 10th and 90th percentiles of the row norms ||w_h||
    (``ROW_NORM_QUANTILES``: the scale the absolute threshold is measured against), the median
    ``effective_threshold`` (the l2 ``crossing_distance``) and ``reachable_share``, the share
    whose threshold the reference attack can reach (column ``reachable``)."""
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
    live = nodes[nodes["live"]].groupby(keys)
    for name, quantile in ROW_NORM_QUANTILES.items():
        summary[name] = live["row_norm"].quantile(quantile).reindex(summary.index)
    summary["effective_threshold_median"] = live["effective_threshold"].median().reindex(
        summary.index)
    summary["reachable_share"] = live["reachable"].mean().reindex(summary.index)
    return summary.reset_index().melt(id_vars=keys, var_name="measure", value_name="value")
