"""Contrastive stages (claims C3, C4): the loss of similar vs dissimilar pairs, clean and attacked.

The contrastive networks are trained and evaluated by the stages ``pretrain`` and
``evaluate_pretrained`` with
the contrastive task; this module adds what is specific to pairs: the loss and accuracy split
into similar (Y=+1) and dissimilar (Y=-1) pairs over the eps grid after training
(``pair_loss.csv``) and at fixed FGM budgets during training (``pair_loss_training.csv``, from
the training log). The pair-attack study's table is ``pair_attack_study``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.ensemble import lowest_margin
from advpretrain.model.networks import logistic_loss
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS, split_by_pair_type
from advpretrain.simulation.jobs import attack_frame, load_networks, test_inputs


def loss_increase(frame: pd.DataFrame, by: tuple = ()) -> pd.DataFrame:
    """``loss_increase`` = loss(eps) - loss(0) of the same network, pair type and norm."""
    keys = [c for c in ("task", "activation", "variant", "seed", *by, "norm", "pair_type")
            if c in frame.columns]
    clean = frame[frame["eps"] == 0].drop_duplicates(keys).set_index(keys)["loss"]
    frame = frame.join(clean.rename("clean_loss"), on=keys)
    return frame.assign(loss_increase=frame["loss"] - frame["clean_loss"]).drop(
        columns="clean_loss")


def evaluate_pair_loss(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """pair_loss.csv (after training, eps grid) and pair_loss_training.csv (from the log).

    pair_loss.csv: task, activation, variant, train_norm, train_eps, seed, attack, norm, eps,
    pair_type, accuracy, loss (eps 0: the clean loss), loss_increase = loss - loss at eps 0;
    the paper's attacks over the eps grid and the attack ensemble (``worst_case_frame``) at the
    budgets of ``settings["ensemble"]``, whose rows also carry accuracy_ties_half (a pair scored
    exactly 0 counts half, ``ties_half``).
    """
    nets, stored = load_networks(inputs["model"], settings["model"])
    variants, n_seeds = plain(settings["variants"]), stored["n_seeds"]
    labels = {"task": settings["task"], "activation": stored["architecture"]["activation"]}
    seed = derive_seed(settings["base_seed"], "pair_loss", settings["task"], labels["activation"])
    data, generator = load_data(inputs["data"]), torch_generator(seed)
    frame = attack_frame(nets, TASKS["contrastive"], data, variants, n_seeds,
                         settings["evaluation"], generator, labels, by_pair_type=True)
    worst = worst_case_frame(nets, data, variants, n_seeds, settings["ensemble"], generator,
                             labels)
    fileio.write_csv(outputs["pair_loss"], loss_increase(pd.concat([frame, worst],
                                                                   ignore_index=True)))
    fileio.write_csv(outputs["pair_loss_training"],
                     training_frame(pd.read_csv(inputs["log_csv"]), variants, n_seeds, labels))
    return {"seeds": {"attack_seed": seed}}


def worst_case_frame(nets, data: dict, variants: list[dict], n_seeds: int, ensemble: Mapping,
                     generator, labels: dict) -> pd.DataFrame:
    """The pair losses under the attack ensemble (attack "worst_case"): per pair, the highest
    logistic loss over the paper's attacks and adaptive PGD through every surrogate of
    ``ensemble`` (``evaluation.ensemble.lowest_margin``), on every test pair, at each budget of
    ``ensemble["eps_grid"]``. The paper's own gradient vanishes where the gate zeroes a
    dissimilar pair's score; the surrogates' does not. Mean loss and accuracy per pair type."""
    task = TASKS["contrastive"]
    inputs, targets = test_inputs(task, data, len(variants) * n_seeds, n_seeds)
    spec = {key: ensemble[key] for key in ("steps", "restarts", "surrogates")}
    frames = []
    for norm, grid in ensemble["eps_grid"].items():
        for eps in [0.0, *grid]:  # from the clean pairs, like the paper's attacks' rows
            found = lowest_margin(nets, task, inputs, targets, eps, norm, spec, generator)
            loss = logistic_loss(found.margin)
            accuracy = split_by_pair_type(found.robust.to(loss.dtype), targets)
            tied_half = split_by_pair_type(ties_half(found.margin), targets)
            for pair_type, mean_loss in split_by_pair_type(loss, targets).items():
                frames.append(label_columns(variants, n_seeds, **labels).assign(
                    attack="worst_case", norm=norm, eps=float(eps), pair_type=pair_type,
                    accuracy=accuracy[pair_type].numpy(), loss=mean_loss.numpy(),
                    accuracy_ties_half=tied_half[pair_type].numpy()))
    return pd.concat(frames, ignore_index=True)


def ties_half(margin):
    """Per pair: 1 where the pair's margin is positive, 1/2 where it is exactly 0 (a score of
    0, where no gate fires on both members: a tie, neither right nor wrong), else 0. The
    perfectly purified layer scores most dissimilar pairs exactly 0, so counting ties as wrong
    would fail the theory's own answer (docs/claims_protocol.md, C4)."""
    return (margin > 0).to(margin.dtype) + 0.5 * (margin == 0).to(margin.dtype)


def training_frame(log: pd.DataFrame, variants: list[dict], n_seeds: int, fixed: dict
                   ) -> pd.DataFrame:
    """The pair-loss rows of a training log, labelled like the other CSVs, with loss_increase."""
    log = log[log["kind"] == "pair_loss"]
    labels = label_columns(variants, n_seeds, **fixed)
    frame = labels.merge(log.drop(columns="kind").rename(columns={"value": "loss"}),
                         on=["variant", "seed"], validate="one_to_many")
    frame = loss_increase(frame.assign(attack="fgm"), by=("step",))
    columns = [*labels.columns, "step", "attack", "norm", "eps", "pair_type", "loss",
               "loss_increase"]
    return frame[columns].sort_values(["variant", "seed", "norm", "pair_type", "step", "eps"],
                                      kind="stable").reset_index(drop=True)
