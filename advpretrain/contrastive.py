"""Contrastive half of the theory (claims C3, C4): pair-split losses, their CSVs and figures.

The contrastive networks are trained and evaluated by the shared code (``simulation.pretrain`` and
``simulation.evaluate_pretrained`` with a contrastive task); this module adds what is specific to
pairs: the clean and attacked loss split into similar (Y=+1) and dissimilar (Y=-1) pairs, over an
eps grid after training and at fixed FGM budgets during training, and the pair-attack study
(beyond the paper, its open question 3): training attacks on the similar pairs only or on the
dissimilar pairs only. Its figures are in ``contrastive_figures`` (this module is imported by
the contrastive pre-training jobs, which need no plotting library).
"""

import numpy as np
import pandas as pd
import torch

from . import fileio
from .measures import attacked_inputs
from .seeding import derive_seed, torch_generator
from .simulation import (PAIR_ATTACK_TASKS, TASKS, job_variants, label_columns, load_data,
                         load_networks, per_network)

PAIR_TYPES = {"similar": 1.0, "dissimilar": -1.0}
ATTACKED_PAIRS = ["none", "all", "similar", "dissimilar"]  # the pair-attack study's x axis
NODE_MEASURES = ["purity", "participation_ratio", "feature_count", "dead_share"]


def _read(paths):
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


# ---------------------------------------------------------------- the pair-split measure

def split_by_pair_type(values, labels):
    """Mean of per-pair values (N, B) over the similar (Y=+1) and the dissimilar (Y=-1) pairs.

    Returns {"similar": (N,), "dissimilar": (N,)}; a network without pairs of a type gets NaN.
    """
    split = {}
    for name, sign in PAIR_TYPES.items():
        mask = (labels == sign).to(values.dtype)
        count = mask.sum(-1)
        split[name] = torch.where(count > 0, (values * mask).sum(-1) / count.clamp_min(1),
                                  torch.full_like(count, float("nan")))
    return split


def pair_loss_grid(task, nets, inputs, labels, eps_grid, attacks, pgd_steps, generator):
    """Loss and accuracy of every network on similar and dissimilar pairs, per attack and eps.

    Each pair gets its own attack on both members (the attack ascends the sum of per-pair
    losses), so splitting afterwards equals attacking each pair type on its own. eps = 0 is the
    clean loss. Yields dict rows with per-network tensors ``loss`` and ``accuracy`` (N,).
    """
    for attack in attacks:
        for norm, grid in eps_grid.items():
            for eps in grid:
                adversarial = attacked_inputs(lambda *x: task.loss(nets, *x, labels), inputs,
                                              eps, norm, attack, pgd_steps, 2, generator)
                with torch.no_grad():
                    losses = task.loss(nets, *adversarial, labels)
                    correct = (task.margin(nets, *adversarial) * labels > 0).to(losses.dtype)
                loss, accuracy = split_by_pair_type(losses, labels), split_by_pair_type(
                    correct, labels)
                for pair_type in PAIR_TYPES:
                    yield {"attack": attack, "norm": norm, "eps": float(eps),
                           "pair_type": pair_type, "loss": loss[pair_type],
                           "accuracy": accuracy[pair_type]}


def pair_loss_rows(nets, task, inputs, labels, track_eps):
    """Training-log rows: clean and FGM-attacked loss per pair type at each tracked budget.

    track_eps: {norm: eps}. Each norm gets an eps-0 row (the clean loss) and its attacked row.
    """
    clean = split_by_pair_type(task.loss(nets, *inputs, labels), labels)
    rows = []
    for norm, eps in track_eps.items():
        adversarial = attacked_inputs(lambda *x: task.loss(nets, *x, labels), inputs, eps, norm,
                                      "fgm", 1, 2)
        attacked = split_by_pair_type(task.loss(nets, *adversarial, labels), labels)
        for pair_type in PAIR_TYPES:
            for budget, losses in ((0.0, clean), (float(eps), attacked)):
                rows.append({"kind": "pair_loss", "pair_type": pair_type, "norm": norm,
                             "eps": budget, "values": losses[pair_type].tolist()})
    return rows


def loss_increase(frame, by=()):
    """``loss_increase`` = loss(eps) - loss(0) of the same network, pair type and norm."""
    keys = [c for c in ("task", "activation", "variant", "seed", *by, "norm", "pair_type")
            if c in frame.columns]
    clean = frame[frame["eps"] == 0].drop_duplicates(keys).set_index(keys)["loss"]
    frame = frame.join(clean.rename("clean_loss"), on=keys)
    return frame.assign(loss_increase=frame["loss"] - frame["clean_loss"]).drop(
        columns="clean_loss")


# ---------------------------------------------------------------- workflow stages

def evaluate_pair_loss(config, data_paths, model_path, log_path, task_name, activation,
                       outputs, meta_path):
    """pair_loss.csv (after training, eps grid) and pair_loss_training.csv (from the training log).

    pair_loss.csv: task, activation, variant, train_norm, train_eps, seed, attack, norm, eps,
    pair_type, loss, accuracy (eps 0: the clean loss), loss_increase = loss - loss at eps 0.
    """
    sim = config["simulation"]
    evaluation = sim["evaluation"]
    variants = job_variants(config, task_name, activation)
    nets, stored = load_networks(model_path, config, variants)
    n_seeds = stored["n_seeds"]
    data = load_data(data_paths)
    task = TASKS[task_name]
    seed_of_network = torch.arange(len(variants) * n_seeds) % n_seeds
    inputs, labels = task.inputs(data, "test")
    inputs, labels = per_network(inputs, seed_of_network), labels[seed_of_network]
    seed = derive_seed(config["base_seed"], "pair_loss", task_name, activation)
    fixed = {"task": task_name, "activation": activation}
    base = label_columns(variants, n_seeds, **fixed)
    frames = []
    for row in pair_loss_grid(task, nets, inputs, labels, evaluation["eps_grid"],
                              evaluation["attacks"], evaluation["pgd_steps"],
                              torch_generator(seed)):
        frame = base.copy()
        for key in ("attack", "norm", "eps", "pair_type"):
            frame[key] = row[key]
        frame["loss"] = row["loss"].numpy()
        frame["accuracy"] = row["accuracy"].numpy()
        frames.append(frame)
    fileio.write_csv(outputs["pair_loss"], loss_increase(pd.concat(frames, ignore_index=True)))
    fileio.write_csv(outputs["pair_loss_training"],
                     training_frame(pd.read_csv(log_path), variants, n_seeds, fixed))
    fileio.write_json(meta_path, fileio.provenance(
        {"attack_seed": seed}, {"evaluation": evaluation, "contrastive": sim["contrastive"]},
        list(outputs.values())))


def training_frame(log, variants, n_seeds, fixed):
    """The pair-loss rows of a training log, labelled like the other CSVs, with loss_increase."""
    log = log[log["kind"] == "pair_loss"]
    labels = label_columns(variants, n_seeds, **fixed)
    frame = labels.merge(log.drop(columns="kind").rename(columns={"value": "loss"}),
                         on=["variant", "seed"], validate="one_to_many")
    frame = frame.assign(attack="fgm")
    frame = loss_increase(frame, by=("step",))
    columns = [*labels.columns, "step", "attack", "norm", "eps", "pair_type", "loss",
               "loss_increase"]
    return frame[columns].sort_values(["variant", "seed", "norm", "pair_type", "step", "eps"],
                                      kind="stable").reset_index(drop=True)


def attacked_pairs(frame):
    """Which pairs the training attack hit: none (clean), all, similar or dissimilar."""
    study = frame["task"].map(PAIR_ATTACK_TASKS)
    main = np.where(frame["train_eps"] > 0, "all", "none")
    return study.fillna(pd.Series(main, index=frame.index))


def pair_attack_study(config, summary_paths, pair_loss_paths, activation, out_csv, meta_path):
    """One tidy CSV of the pair-attack study: node measures, clean loss and loss increase under
    the reference attack per pair type, for clean training, attacks on all pairs, on the similar
    pairs only and on the dissimilar pairs only (same initialisation and minibatches)."""
    sim = config["simulation"]
    reference = sim["evaluation"]["reference_attack"]
    keep = {"clean", *sim["contrastive"]["pair_attack_study"]}
    summary = _read(summary_paths)
    summary = summary[summary["measure"].isin(NODE_MEASURES)]
    pairs = _read(pair_loss_paths)
    keys = ["task", "activation", "variant", "train_norm", "train_eps", "seed"]
    attacked = pairs[(pairs["attack"] == reference["attack"])
                     & (pairs["norm"] == reference["norm"])
                     & np.isclose(pairs["eps"], reference["eps"])]
    attacked = attacked.assign(measure="loss_increase_" + attacked["pair_type"],
                               value=attacked["loss_increase"])
    clean = pairs[pairs["eps"] == 0].drop_duplicates([*keys, "pair_type"])
    clean = clean.assign(measure="clean_loss_" + clean["pair_type"], value=clean["loss"])
    frame = pd.concat([summary, attacked[[*keys, "measure", "value"]],
                       clean[[*keys, "measure", "value"]]], ignore_index=True)
    frame = frame[frame["variant"].isin(keep) & (frame["activation"] == activation)]
    frame.insert(2, "attacked_pairs", attacked_pairs(frame).to_numpy())
    fileio.write_csv(out_csv, frame.reset_index(drop=True))
    fileio.write_json(meta_path, fileio.provenance(
        {}, {"reference_attack": reference, "contrastive": sim["contrastive"]}, [out_csv]))
