"""Pre-training: every variant and seed of one task and activation at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.canonical import fingerprint, plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.evaluation.grid import attacked_inputs
from advpretrain.model.networks import per_network, seed_of_network
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import PAIR_TYPES, TASKS, split_by_pair_type
from advpretrain.model.training import train_networks
from advpretrain.simulation.jobs import (
    activation_of,
    initial_networks,
    job_adversary,
    minibatch_sampler,
    place_ideal,
    trained_mask,
)


def pretrain(settings: Mapping, inputs: Mapping, outputs: Mapping, resume=None) -> dict:
    """Train every variant and seed of one task and activation at once (``outputs``: model,
    log_csv); ``resume`` (path, every): where and how often the resume state is kept."""
    task = TASKS[settings["objective"]]
    variants, n_seeds = plain(settings["variants"]), settings["n_seeds"]
    seeds = seed_of_network(n_seeds * len(variants), n_seeds)
    seed = derive_seed(settings["base_seed"], "pretrain", settings["seed_task"],
                       settings["architecture"]["activation"])
    twin_seed = derive_seed(settings["base_seed"], "pretrain_twin", settings["seed_task"],
                            settings["architecture"]["activation"])
    generator = torch_generator(seed)
    architecture = plain(settings["architecture"])
    nets = initial_networks(architecture, n_seeds, variants, generator,
                            torch_generator(twin_seed))

    data = load_data(inputs["data"])
    layer_trained = place_ideal(nets, variants, data["dictionary"])
    train_inputs, train_labels = task.inputs(data, "train")
    test_inputs, test_labels = task.inputs(data, "test")
    test_inputs, test_labels = per_network(test_inputs, seeds), test_labels[seeds]
    track_eps = settings["track_eps"] if "track_eps" in settings else None

    def test_measures(step, nets):
        losses = task.loss(nets, *test_inputs, test_labels)
        rows = [{"kind": "test_loss", "values": losses.mean(-1).tolist()}]
        if track_eps is not None:
            rows += pair_loss_rows(nets, task, test_inputs, test_labels, track_eps)
        return rows

    train = settings["training"]
    model_fingerprint = fingerprint(settings)
    rows = train_networks(
        nets, minibatch_sampler(train_inputs, train_labels, seeds, train["batch"]), task.loss,
        job_adversary(variants, n_seeds, train["attack_steps"], train["attack_surrogate"]),
        steps=train["steps"], lr=train["lr"], generator=generator,
        label=f"pretrain {settings['task']}/{architecture['activation']}",
        log_every=train["log_every"], callback=test_measures,
        resume_path=resume.path if resume else None, resume_every=resume.every if resume else 0,
        fingerprint=model_fingerprint, trained=trained_mask(variants, n_seeds),
        layer_trained=layer_trained)

    fileio.save_torch(outputs["model"], {
        "weight": nets.weight.detach(), "head": nets.head.detach(),
        "variants": [v["variant"] for v in variants], "n_seeds": n_seeds,
        "architecture": activation_of(architecture), "fingerprint": model_fingerprint})
    fileio.write_csv(outputs["log_csv"], training_log_frame(rows, variants, n_seeds))
    return {"seeds": {"torch_seed": seed, "twin_seed": twin_seed}}


def pair_loss_rows(nets, task, inputs, labels, track_eps: Mapping) -> list[dict]:
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


def training_log_frame(rows: list[dict], variants: list[dict], n_seeds: int) -> pd.DataFrame:
    """The logged rows, one per network: step, kind, variant, seed, value (and row extras)."""
    records = []
    for row in rows:
        extra = {key: value for key, value in row.items()
                 if key not in ("step", "kind", "values")}  # e.g. pair_type, norm, eps
        for i, value in enumerate(row["values"]):
            records.append({"step": row["step"], "kind": row["kind"],
                            "variant": variants[i // n_seeds]["variant"], "seed": i % n_seeds,
                            "value": value, **extra})
    return pd.DataFrame.from_records(records)
