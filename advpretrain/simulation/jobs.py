"""What the simulation stages share: the networks of a job (initialisation with its controls,
training attack, minibatches, loading with a fingerprint check), each network's test inputs, and
the robustness table of a job (the paper's attacks and the sandwich).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.errors import StaleModel
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.grid import attack_grid
from advpretrain.evaluation.sandwich import attack_spec, sandwich_grid
from advpretrain.model.networks import TwoLayerNets, per_network, seed_of_network
from advpretrain.model.sparse_coding import purified_layer
from advpretrain.model.tasks import TASKS, split_by_pair_type
from advpretrain.model.training import Adversary


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
    except the re-seeded control (``"control": "twin"``), drawn from ``twin_generator``; with
    ``unit_rows``, every network's rows projected onto the unit sphere."""
    shape = (n_seeds, architecture["hidden"], architecture["d"], architecture["init_scale"])
    weight, head = TwoLayerNets.initial_parameters(*shape, generator)
    twin = None
    if any(v.get("control") == "twin" for v in variants):
        twin = TwoLayerNets.initial_parameters(*shape, twin_generator)
    chosen = [twin if v.get("control") == "twin" else (weight, head) for v in variants]
    nets = TwoLayerNets(torch.cat([w for w, _ in chosen]), torch.cat([h for _, h in chosen]),
                        **activation_of(architecture))
    if nets.unit_rows:
        nets.project_rows()
    return nets


def trained_mask(variants: list[dict], n_seeds: int) -> torch.Tensor:
    """1 for every network that trains, 0 for the untrained control (``"control": "untrained"``)."""
    return torch.tensor([0.0 if v.get("control") == "untrained" else 1.0 for v in variants]
                        ).repeat_interleave(n_seeds)


def place_ideal(nets: TwoLayerNets, variants: list[dict], dictionary: torch.Tensor
                ) -> torch.Tensor:
    """Put the theory's known answer into the ideal control's networks (``"control":
    "ideal"``): the perfectly purified layer of each seed's dictionary (unit rows,
    ``model.sparse_coding.purified_layer``), kept frozen while the head trains. Returns the
    (N,) 0/1 mask of the networks whose hidden layer trains."""
    n_seeds = dictionary.shape[0]
    frozen = torch.tensor([v.get("control") == "ideal" for v in variants]
                          ).repeat_interleave(n_seeds)
    if bool(frozen.any()):
        ideal = purified_layer(dictionary, nets.weight.shape[1]).to(nets.weight.dtype)
        with torch.no_grad():
            nets.weight[frozen] = ideal.repeat(int(frozen.sum()) // n_seeds, 1, 1)
    return (~frozen).to(nets.weight.dtype)


def activation_of(architecture: Mapping) -> dict:
    """The TwoLayerNets keywords of an architecture (threshold, its mode and score scale where
    used): the one place that builds them, so that a checkpoint stores what rebuilds it."""
    return {"activation": architecture["activation"],
            "threshold": architecture["threshold"] if "threshold" in architecture else 0.0,
            "threshold_mode": (architecture["threshold_mode"] if "threshold_mode" in architecture
                               else "absolute"),
            "score_scale": architecture["score_scale"] if "score_scale" in architecture else 1.0,
            "unit_rows": architecture["unit_rows"]}


def job_adversary(variants: list[dict], n_seeds: int, attack_steps: int = 1,
                  surrogate: str = "own") -> Adversary:
    """The training attack of a job's variant-major networks (budget 0: clean training), its
    gradient the networks' own or ``surrogate``'s."""
    def budgets(norm):
        return torch.tensor([v["eps"] if v["norm"] == norm else 0.0 for v in variants]
                            ).repeat_interleave(n_seeds)

    options = {key: {v.get(key, default) for v in variants}
               for key, default in (("pairs", "all"), ("members", "both"))}
    for key, values in options.items():
        if len(values) > 1:
            raise ValueError(f"variants of one job must share '{key}', got {sorted(values)}")
    return Adversary(eps_l2=budgets("l2"), eps_linf=budgets("linf"), steps=attack_steps,
                     surrogate=surrogate, **{key: values.pop() for key, values in options.items()})


def load_networks(model_path: str, expected_fingerprint: str) -> tuple[TwoLayerNets, dict]:
    """Pre-trained networks, refusing a file made with other pre-training settings."""
    stored = fileio.load_torch(model_path)
    if stored["fingerprint"] != expected_fingerprint:
        raise StaleModel(f"{model_path} was made with another configuration "
                         f"({stored['fingerprint']} != {expected_fingerprint}); rerun its "
                         "pre-training rule")
    return TwoLayerNets(stored["weight"], stored["head"], **stored["architecture"]), stored


def test_inputs(task, data: dict, n_networks: int, n_seeds: int) -> tuple[tuple, torch.Tensor]:
    """Each network's test inputs and labels (its seed's), (N, B, ...)."""
    seeds = seed_of_network(n_networks, n_seeds)
    inputs, labels = task.inputs(data, "test")
    return per_network(inputs, seeds), labels[seeds]


def supervised_subset(job: TwoLayerNets, stored: Mapping, variants: list[dict], names,
                      data: dict) -> tuple[TwoLayerNets, list[dict], torch.Tensor, torch.Tensor]:
    """The networks of a supervised job's variants named in ``names`` (every seed, in the job's
    variant-major order), those variants, and each network's test inputs z and labels; heads
    only, the supervised task (a contrastive pair score is not linear on an activation
    pattern)."""
    n_seeds = stored["n_seeds"]
    chosen = [i for i, v in enumerate(variants) if v["variant"] in names]
    index = torch.tensor([i * n_seeds + s for i in chosen for s in range(n_seeds)])
    nets = TwoLayerNets(job.weight.detach()[index], job.head.detach()[index],
                        **stored["architecture"])
    (z,), targets = test_inputs(TASKS["supervised"], data, len(job.weight), n_seeds)
    return nets, [variants[i] for i in chosen], z[index], targets[index]


def attack_frame(nets: TwoLayerNets, task, data: dict, variants: list[dict], n_seeds: int,
                 evaluation: Mapping, generator: torch.Generator, labels: dict,
                 by_pair_type: bool = False, on_worst_case=None) -> pd.DataFrame:
    """Test accuracy of every network under the paper's attacks over the eps grid (with the
    mean loss), and, where ``evaluation`` has an ``ensemble``, the robust-accuracy sandwich over
    its grid (worst case over the attack ensemble, certified bound, after each adaptive attack;
    no loss), on the first ``ensemble.samples`` test samples of every network. Tidy; with
    ``by_pair_type``, separately for similar and dissimilar pairs. ``on_worst_case``: see
    ``sandwich_grid``."""
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
                              evaluation["pgd_steps"], generator, paper_correct, on_worst_case)
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


def movement_spec(movement: Mapping) -> dict:
    return attack_spec(movement, paper_pgd_steps=1)
