"""The simulation stages on sparse-coding data: pre-training and its evaluation.

Each stage function takes the settings of its rule (``advpretrain.settings``), its named input
and output paths, and returns what its provenance should record. Networks of one job are stacked
variant-major (``networks.seed_of_network``).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from . import fileio
from .canonical import fingerprint, plain
from .errors import StaleModel
from .evaluation.grid import attack_grid, attacked_inputs
from .evaluation.sandwich import sandwich_grid
from .measures import feature_coefficients, firing_rates, node_measures, summarise_nodes
from .networks import TwoLayerNets, per_network, seed_of_network
from .seeding import derive_seed, torch_generator
from .sparse_coding import load_data
from .tables import label_columns
from .tasks import PAIR_TYPES, TASKS, split_by_pair_type
from .training import Adversary, train_networks

# ---------------------------------------------------------------- networks of a job


def minibatch_sampler(inputs: tuple, labels: torch.Tensor, seeds: torch.Tensor, batch: int):
    """A function drawing one minibatch per seed, shared by the networks of that seed."""
    n_seeds, n = labels.shape
    rows = torch.arange(n_seeds)[:, None]

    def sample(generator):
        index = torch.randint(n, (n_seeds, batch), generator=generator)
        picked = tuple(x[rows, index] for x in inputs)
        return per_network(picked, seeds), labels[rows, index][seeds]

    return sample


def initial_networks(architecture: Mapping, n_seeds: int, variants: list[dict],
                     generator: torch.Generator, twin_generator: torch.Generator | None = None
                     ) -> TwoLayerNets:
    """Networks for every variant and seed: the variants of a seed share their initialisation,
    except the re-seeded control (``"control": "twin"``), drawn from ``twin_generator``."""
    shape = (n_seeds, architecture["hidden"], architecture["d"], architecture["init_scale"])
    weight, head = TwoLayerNets.initial_parameters(*shape, generator)
    twin = None
    if any(v.get("control") == "twin" for v in variants):
        twin = TwoLayerNets.initial_parameters(*shape, twin_generator)
    chosen = [twin if v.get("control") == "twin" else (weight, head) for v in variants]
    return TwoLayerNets(torch.cat([w for w, _ in chosen]), torch.cat([h for _, h in chosen]),
                        **activation_of(architecture))


def trained_mask(variants: list[dict], n_seeds: int) -> torch.Tensor:
    """1 for every network that trains, 0 for the untrained control (``"control": "untrained"``)."""
    return torch.tensor([0.0 if v.get("control") == "untrained" else 1.0 for v in variants]
                        ).repeat_interleave(n_seeds)


def activation_of(architecture: Mapping) -> dict:
    """The TwoLayerNets keywords of an architecture (threshold and score scale where used)."""
    return {"activation": architecture["activation"],
            "threshold": architecture["threshold"] if "threshold" in architecture else 0.0,
            "score_scale": architecture["score_scale"] if "score_scale" in architecture else 1.0}


def job_adversary(variants: list[dict], n_seeds: int, attack_steps: int = 1) -> Adversary:
    """The training attack of a job's variant-major networks (budget 0: clean training)."""
    def budgets(norm):
        return torch.tensor([v["eps"] if v["norm"] == norm else 0.0 for v in variants]
                            ).repeat_interleave(n_seeds)

    options = {key: {v.get(key, default) for v in variants}
               for key, default in (("pairs", "all"), ("members", "both"))}
    for key, values in options.items():
        if len(values) > 1:
            raise ValueError(f"variants of one job must share '{key}', got {sorted(values)}")
    return Adversary(eps_l2=budgets("l2"), eps_linf=budgets("linf"), steps=attack_steps,
                     **{key: values.pop() for key, values in options.items()})


# ---------------------------------------------------------------- pre-training


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
        job_adversary(variants, n_seeds, train["attack_steps"]), steps=train["steps"],
        lr=train["lr"], generator=generator,
        label=f"pretrain {settings['task']}/{architecture['activation']}",
        log_every=train["log_every"], callback=test_measures,
        resume_path=resume.path if resume else None, resume_every=resume.every if resume else 0,
        fingerprint=model_fingerprint, trained=trained_mask(variants, n_seeds))

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


def load_networks(model_path: str, expected_fingerprint: str) -> tuple[TwoLayerNets, dict]:
    """Pre-trained networks, refusing a file made with other pre-training settings."""
    stored = fileio.load_torch(model_path)
    if stored["fingerprint"] != expected_fingerprint:
        raise StaleModel(f"{model_path} was made with another configuration "
                         f"({stored['fingerprint']} != {expected_fingerprint}); rerun its "
                         "pre-training rule")
    return TwoLayerNets(stored["weight"], stored["head"], **stored["architecture"]), stored


# ---------------------------------------------------------------- evaluation


def evaluate_nodes(nets: TwoLayerNets, dictionary: torch.Tensor, inputs: tuple,
                   variants: list[dict], n_seeds: int, live_rate: float, labels: dict
                   ) -> tuple[pd.DataFrame, torch.Tensor]:
    """Per-node measures and firing rates on ``inputs`` (tidy), and the coefficients C = W M."""
    with torch.no_grad():
        coefficients = feature_coefficients(
            nets.weight, dictionary[seed_of_network(len(nets.weight), n_seeds)])
        measures = node_measures(coefficients)
    measures["firing_rate"] = firing_rates(nets, inputs)
    base = label_columns(variants, n_seeds, **labels)
    hidden = coefficients.shape[1]
    frame = base.loc[base.index.repeat(hidden)].reset_index(drop=True)
    frame["node"] = np.tile(np.arange(hidden), len(base))
    for name, values in measures.items():
        frame[name] = values.reshape(-1).numpy()
    frame["live"] = frame["firing_rate"] >= live_rate
    return frame, coefficients


def test_inputs(task, data: dict, n_networks: int, n_seeds: int) -> tuple[tuple, torch.Tensor]:
    """Each network's test inputs and labels (its seed's), (N, B, ...)."""
    seeds = seed_of_network(n_networks, n_seeds)
    inputs, labels = task.inputs(data, "test")
    return per_network(inputs, seeds), labels[seeds]


def attack_frame(nets: TwoLayerNets, task, data: dict, variants: list[dict], n_seeds: int,
                 evaluation: Mapping, generator: torch.Generator, labels: dict,
                 by_pair_type: bool = False) -> pd.DataFrame:
    """Test accuracy of every network under the paper's attacks over the eps grid (with the
    mean loss), and, where ``evaluation`` has an ``ensemble``, the robust-accuracy sandwich over
    its grid (worst case over the attack ensemble, certified bound, after each adaptive attack;
    no loss). Tidy; with ``by_pair_type``, separately for similar and dissimilar pairs."""
    inputs, targets = test_inputs(task, data, len(variants) * n_seeds, n_seeds)
    if "ensemble" in evaluation:  # every row on the same samples, so rows compare per sample
        count = evaluation["ensemble"]["samples"]
        inputs, targets = tuple(x[:, :count] for x in inputs), targets[:, :count]
    rows = list(attack_grid(lambda *x: task.loss(nets, *x), lambda *x: task.margin(nets, *x),
                            inputs, targets, evaluation["eps_grid"], evaluation["attacks"],
                            evaluation["pgd_steps"], generator))
    if "ensemble" in evaluation:
        paper_correct = collections.defaultdict(list)
        for row in rows:
            paper_correct[row["norm"], row["eps"]].append(row["correct"])
        rows += sandwich_grid(nets, task, inputs, targets, evaluation["ensemble"],
                              evaluation["pgd_steps"], generator, paper_correct)
    base = label_columns(variants, n_seeds, **labels)
    frames = []
    for row in rows:
        row_labels = row.get("labels", targets)
        loss = row.get("loss")
        if by_pair_type:
            parts = [(pair_type, accuracy,
                      None if loss is None else split_by_pair_type(loss, row_labels)[pair_type])
                     for pair_type, accuracy in split_by_pair_type(row["correct"],
                                                                   row_labels).items()]
        else:
            parts = [(None, row["correct"].mean(-1), None if loss is None else loss.mean(-1))]
        for pair_type, accuracy, mean_loss in parts:
            frame = base.assign(attack=row["attack"], norm=row["norm"], eps=row["eps"])
            if pair_type is not None:
                frame["pair_type"] = pair_type
            frame["accuracy"] = accuracy.numpy()
            frame["loss"] = np.nan if mean_loss is None else mean_loss.numpy()
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def coefficient_frame(coefficients: torch.Tensor, variants: list[dict],
                      n_seeds: int) -> pd.DataFrame:
    """|C| of every seed and variant, long format, for the heat maps (whose settings say which
    seed they draw: choosing another reruns the figure, not this evaluation)."""
    records = []
    for v, variant in enumerate(variants):
        for seed_index in range(n_seeds):
            matrix = coefficients[v * n_seeds + seed_index].abs().numpy()
            hidden, d = matrix.shape
            records.append(pd.DataFrame({"variant": variant["variant"], "seed": seed_index,
                                         "node": np.repeat(np.arange(hidden), d),
                                         "feature": np.tile(np.arange(d), hidden),
                                         "abs_coefficient": matrix.reshape(-1)}))
    return pd.concat(records, ignore_index=True)


def evaluate_pretrained(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Node measures, robustness grid and heat-map coefficients of one pre-training job."""
    nets, stored = load_networks(inputs["model"], settings["model"])
    variants, evaluation = plain(settings["variants"]), settings["evaluation"]
    n_seeds = stored["n_seeds"]
    data = load_data(inputs["data"])
    labels = {"task": settings["task"], "activation": stored["architecture"]["activation"]}
    task = TASKS[settings["objective"]]
    inputs, _ = test_inputs(task, data, len(nets.weight), n_seeds)
    nodes, coefficients = evaluate_nodes(nets, data["dictionary"], inputs, variants, n_seeds,
                                         evaluation["live_rate"], labels)
    seed = derive_seed(settings["base_seed"], "evaluate", settings["task"], labels["activation"])
    robustness = attack_frame(nets, task, data, variants, n_seeds, evaluation,
                              torch_generator(seed), labels)
    fileio.write_csv(outputs["nodes"], nodes)
    fileio.write_csv(outputs["summary"], summarise_nodes(nodes, data["dictionary"].shape[-1],
                                                         evaluation["pure_threshold"]))
    fileio.write_csv(outputs["robustness"], robustness)
    fileio.write_csv(outputs["coefficients"], coefficient_frame(coefficients, variants, n_seeds))
    return {"seeds": {"attack_seed": seed}}
