"""Clean downstream heads (claim C5): a new head, trained CLEAN, on each frozen hidden layer, for
the stages ``downstream``, ``downstream_baselines``, ``downstream_blend`` and ``threshold_study``,
with Nern et al.'s transfer bound for each head (``transfer_frame``).

The downstream task is Y' = sign(gamma^T X) with gamma independent of the pre-training beta and
fewer training samples (``model.tasks.Downstream``). Every network of a pre-training job gets its
own
head, all trained at once (``model.training.train_networks`` with zero attack budgets); the hidden
layer W is a buffer, so the head is the only trainable parameter.

Baselines (``downstream_baselines``), on the same downstream data and grid (the untrained layer,
the pre-trained networks' common starting point, is the ``untrained`` control variant of every
pre-training job, so its heads come from ``downstream``):
- ``purified``: a perfectly purified layer built from the seed's dictionary M: node h reads
  s_h M_j(h) with j(h) = h mod d and s_h = +1 for the first d nodes, -1 for the next d, and so on
  (every feature covered; both signs when H >= 2d), rows of norm ``purified_scale``;
- ``end_to_end``: W and head trained together on the downstream data with the attack of the
  pre-training variant ``end_to_end.variant``, from the same initialisation.

Study (a) (``downstream_blend``): each node of the clean pre-trained layer is moved toward its own
main feature, w_h(t) = (1 - t) w_h + t ||w_h|| s_h M_j(h) (j(h) = argmax_j |C_hj|, s_h its sign),
so t sweeps the degree of purification from the clean layer (t = 0) to purity 1 (t = 1).

Every output row carries the network's ``mean_purity`` (mean over live nodes) so the studies can
plot robustness against purification from the CSV alone, and the head's ``head_weight_impure``
and ``head_weight_unused`` (``model.measures.head_weights``): how much of a head that is not
robust rests on nodes purification did not reach.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from advpretrain.core.seeding import torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.bounds import movement_bound, transfer_robust
from advpretrain.evaluation.movement import movement_attack
from advpretrain.model.measures import (
    feature_coefficients,
    firing_rates,
    head_weights,
    mean_live_purity,
    node_measures,
)
from advpretrain.model.networks import TwoLayerNets, seed_of_network
from advpretrain.model.tasks import TASKS
from advpretrain.model.training import train_networks
from advpretrain.simulation.jobs import (
    attack_frame,
    job_adversary,
    minibatch_sampler,
    movement_spec,
    test_inputs,
)

DOWNSTREAM = TASKS["downstream"]
NO_TRAINING = {"norm": "none", "eps": 0.0}  # label columns of layers that had no attack


class FrozenHiddenNets(TwoLayerNets):
    """Two-layer networks whose hidden layer W is a fixed buffer: only the head ``a`` trains."""

    def __init__(self, weight: torch.Tensor, **activation):
        super().__init__(weight, torch.zeros(weight.shape[:2], dtype=weight.dtype), **activation)
        del self.weight
        self.register_buffer("weight", weight.detach().clone())


def train_heads(weight: torch.Tensor, activation: Mapping, heads: Mapping, data: dict,
                generator: torch.Generator, label: str) -> FrozenHiddenNets:
    """Clean training of a fresh (zero) head on each frozen layer (N, H, d), N = V * S."""
    n_seeds = data["downstream_train_y"].shape[0]
    nets = FrozenHiddenNets(weight, **activation)
    inputs, labels = DOWNSTREAM.inputs(data, "train")
    clean = job_adversary([{"norm": "l2", "eps": 0.0}], len(weight))
    train_networks(nets, minibatch_sampler(inputs, labels, seed_of_network(len(weight), n_seeds),
                                           heads["batch"]),
                   DOWNSTREAM.loss, clean, steps=heads["steps"], lr=heads["lr"],
                   generator=generator, label=label, log_every=heads["log_every"])
    return nets


def evaluate_heads(nets: TwoLayerNets, data: dict, variants: list[dict], n_seeds: int,
                   evaluation: Mapping, seed: int, labels: dict) -> pd.DataFrame:
    """Downstream test robustness grid of every network, plus its hidden layer's mean purity
    over the nodes live on the downstream test inputs and its head's weight on the impure and
    on the unused ones."""
    frame = attack_frame(nets, DOWNSTREAM, data, variants, n_seeds, evaluation,
                         torch_generator(seed), labels)
    inputs, _ = test_inputs(DOWNSTREAM, data, len(nets.weight), n_seeds)
    dictionary = data["dictionary"][seed_of_network(len(nets.weight), n_seeds)]
    with torch.no_grad():
        coefficients = feature_coefficients(nets.weight, dictionary)
        rates = firing_rates(nets, inputs)
        purity = mean_live_purity(coefficients, rates, evaluation["live_rate"])
    frame["mean_purity"] = per_row(frame, purity, variants, n_seeds)
    weights = head_weights(nets.head, node_measures(coefficients)["purity"],
                           rates >= evaluation["live_rate"], evaluation["pure_threshold"])
    for name, values in weights.items():
        frame[name] = per_row(frame, values, variants, n_seeds)
    return frame


def per_row(frame: pd.DataFrame, values: torch.Tensor, variants: list[dict], n_seeds: int):
    """Spread per-network values (N,) onto the rows of a labelled frame."""
    position = {v["variant"]: i for i, v in enumerate(variants)}
    network = frame["variant"].map(position).to_numpy() * n_seeds + frame["seed"].to_numpy()
    return values.numpy()[network]


def blended_layer(weight: torch.Tensor, dictionary: torch.Tensor, t: float) -> torch.Tensor:
    """Each node moved toward its own main feature: (1 - t) w_h + t ||w_h|| s_h M_j(h)."""
    coefficients = feature_coefficients(weight, dictionary)  # (N, H, d)
    main = coefficients.abs().argmax(-1)  # (N, H)
    sign = torch.sign(torch.gather(coefficients, -1, main[..., None]))  # (N, H, 1)
    features = torch.gather(dictionary.transpose(1, 2), 1,
                            main[..., None].expand(-1, -1, dictionary.shape[1]))  # (N, H, d)
    target = weight.norm(dim=-1, keepdim=True) * sign * features
    return (1 - t) * weight + t * target


def transfer_frame(heads, data: dict, variants: list[dict], n_seeds: int, transfer: Mapping,
                   generator: torch.Generator, measured: pd.DataFrame, labels: dict
                   ) -> pd.DataFrame:
    """Nern et al.'s criterion for every downstream head at ``transfer``'s norm and eps: the
    share of test samples it declares robust with the attacked and with the certified movement,
    beside the measured worst-case and certified accuracy (from ``measured``, the heads'
    attack frame)."""
    task = TASKS["downstream"]
    inputs, targets = test_inputs(task, data, len(heads.weight), n_seeds)
    z, targets = inputs[0][:, :transfer["samples"]], targets[:, :transfer["samples"]]
    norm, eps = transfer["norm"], transfer["eps"]
    with torch.no_grad():
        margins = targets * heads(z)
    head_norms = heads.head.detach().norm(dim=-1)
    moved = movement_attack(heads, z, eps, norm, movement_spec(transfer), generator).movement
    bound = movement_bound(heads, z, eps, norm)
    frame = label_columns(variants, n_seeds, **labels).assign(
        norm=norm, eps=float(eps), head_norm=head_norms.numpy(),
        movement=moved.mean(-1).numpy(), movement_bound=bound.float().mean(-1).numpy(),
        transfer_attacked=transfer_robust(margins, head_norms, moved).float().mean(-1).numpy(),
        transfer_certified=transfer_robust(margins.double(), head_norms.double(), bound
                                           ).float().mean(-1).numpy())
    at_reference = measured[(measured["norm"] == norm) & (measured["eps"] == float(eps))
                            & measured["attack"].isin(["worst_case", "certified"])]
    wide = at_reference.pivot_table(index=["variant", "seed"], columns="attack",
                                    values="accuracy").add_prefix("measured_").reset_index()
    return frame.merge(wide, on=["variant", "seed"], how="left")
