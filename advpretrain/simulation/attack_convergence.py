"""Whether the attack has converged, on one supervised pre-training job: every network of the
chosen variants (``evaluation.convergence``: the claims' clean, adversarial and twin variants,
every seed) attacked on a fixed seeded subsample of its test points at each budget, with an
attack whose budget doubles level by level (``evaluation.convergence.converging_attack``),
beside the attack ensemble of the sandwich (``ensemble.worst_case``) on the same points.

Table ``convergence``: one row per network, budget and level: its steps, restarts and queries,
the relative attack budget (steps x restarts over the first level's), the level's robust
accuracy, the cumulative one (robust against every attack of every level so far: the strongest
figure), the network's ``converged`` flag (the last doubling lowered the cumulative accuracy by
at most the tolerance) and the ensemble's robust accuracy on the same points. The claims read
it: a row at a budget here cannot be supported on an attack that has not converged.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.convergence import converging_attack
from advpretrain.evaluation.ensemble import worst_case
from advpretrain.evaluation.exact import subsample_indices
from advpretrain.evaluation.sandwich import attack_spec
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.jobs import load_networks, supervised_subset

ATTACK_KEYS = ("steps", "restarts", "doublings", "surrogates", "square_queries", "tolerance")


def attack_convergence(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Robust accuracy as the attack budget doubles, beside the ensemble's (module docstring)."""
    job, stored = load_networks(inputs["model"], settings["model"])
    spec, base_seed = settings["convergence"], settings["base_seed"]
    nets, variants, z, targets = supervised_subset(job, stored, plain(settings["variants"]),
                                                   spec["variants"], load_data(inputs["data"]))
    task = TASKS["supervised"]
    points = torch.as_tensor(subsample_indices(z.shape[1], spec["samples"], base_seed))
    z, targets = z[:, points], targets[:, points]
    activation = stored["architecture"]["activation"]
    seed = derive_seed(base_seed, "attack_convergence", settings["task"], activation)
    generator = torch_generator(seed)
    ensemble = attack_spec(settings["ensemble"], settings["pgd_steps"])
    attack = {key: plain(spec[key]) for key in ATTACK_KEYS}
    base = label_columns(variants, stored["n_seeds"], task=settings["task"],
                         activation=activation)
    base["network"] = range(len(base))
    frames = []
    for norm, values in plain(spec["budgets"]).items():
        for eps in map(float, values):
            found = worst_case(nets, task, (z,), targets, eps, norm, ensemble, generator)
            study = converging_attack(nets, task, (z,), targets, eps, norm, attack, generator)
            frame = study.frame().assign(norm=norm, eps=eps)
            first = frame["steps"].iloc[0] * frame["restarts"].iloc[0]
            frame.insert(frame.columns.get_loc("square_queries") + 1, "relative_budget",
                         frame["steps"] * frame["restarts"] / first)
            frame["ensemble_accuracy"] = found.robust.to(torch.float64).mean(-1).numpy()[
                frame["network"]]
            frames.append(frame)
            last = study.cumulative[-1]
            print(f"[convergence] {norm} eps {eps:g}: robust accuracy {float(last.mean()):.3f} "
                  f"at the last of {len(study.levels)} levels (ensemble "
                  f"{float(found.robust.float().mean()):.3f}); {int(study.converged.sum())} of "
                  f"{len(last)} networks converged", flush=True)
    table = base.merge(pd.concat(frames, ignore_index=True), on="network")
    columns = [c for c in table.columns if c not in ("network", "norm", "eps")]
    order = [*base.columns.drop("network"), "norm", "eps"]
    fileio.write_csv(outputs["csv"], table[order + [c for c in columns if c not in order]])
    return {"seeds": {"attack_seed": seed}, "points": [int(p) for p in points]}
