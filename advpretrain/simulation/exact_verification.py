"""Exact verification of one supervised pre-training job: the points of a fixed seeded
subsample of the test set decided robust, broken or undecided for every network of the verified
variants (``evaluation.exact``: the claims' variants, every seed) at the claim budgets, beside
the attack ensemble's verdict on the same points.

The ensemble of the sandwich (``ensemble.worst_case``: the paper's FGM and PGD and the adaptive
PGD through every surrogate) runs first on the subsample; each perturbation it found is tried as
its point's counterexample before the solver (``exact.verify_subsample``), which is slower at
breaking points than at proving them robust. A point the solver proves robust that the ensemble
broke would mean a wrong solver or a wrong attack: the stage stops there rather than report it.

Tables: ``points`` one row per network, norm, budget and point (outcome, method, margin, time);
``summary`` one row per network, norm and budget: the counts, the exact robust accuracy's lower
and upper bounds (robust share; robust and undecided share) and their width, and the ensemble's
robust accuracy on the same points (an upper bound no lower than the exact one). Solve times go
to the provenance JSON ("timing").
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import plain
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.core.tables import label_columns
from advpretrain.evaluation.ensemble import worst_case
from advpretrain.evaluation.exact import subsample_indices, summarise, verify_subsample
from advpretrain.evaluation.sandwich import attack_spec
from advpretrain.model.sparse_coding import load_data
from advpretrain.model.tasks import TASKS
from advpretrain.simulation.jobs import load_networks, supervised_subset

TIMES = ["mean_seconds", "max_seconds"]  # of ``exact.summarise``


def exact_verification(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """Exact robustness of a subsample of every network's test points (module docstring)."""
    job, stored = load_networks(inputs["model"], settings["model"])
    exact = settings["exact"]
    n_seeds, base_seed = stored["n_seeds"], settings["base_seed"]
    nets, variants, z, targets = supervised_subset(job, stored, plain(settings["variants"]),
                                                   exact["variants"], load_data(inputs["data"]))
    labels = {"task": settings["task"], "activation": stored["architecture"]["activation"]}
    task = TASKS["supervised"]
    budgets = {norm: [float(eps) for eps in values] for norm, values in
               plain(exact["budgets"]).items() if values}
    samples = exact["samples"]
    points = torch.as_tensor(subsample_indices(z.shape[1], samples, base_seed))
    seed = derive_seed(base_seed, "exact_verification", settings["task"], labels["activation"])
    generator = torch_generator(seed)
    spec = attack_spec(settings["ensemble"], settings["pgd_steps"])
    attacked, attack_robust = {}, {}
    for norm, values in budgets.items():
        for eps in values:
            found = worst_case(nets, task, (z[:, points],), targets[:, points], eps, norm, spec,
                               generator)
            perturbed = z.clone()
            perturbed[:, points] = found.result.inputs[0]
            attacked[norm, eps], attack_robust[norm, eps] = perturbed, found.robust
            print(f"[exact] {norm} eps {eps:g}: ensemble robust accuracy "
                  f"{float(found.robust.float().mean()):.3f} on {len(points)} points", flush=True)
    decisions = verify_subsample(nets, z, targets, budgets, sample_size=samples,
                                 base_seed=base_seed, time_limit=float(exact["time_limit_s"]),
                                 attacked=attacked, node_limit=int(exact["node_limit"]))
    position = {int(point): i for i, point in enumerate(points)}
    survived = [bool(attack_robust[row.norm, row.eps][row.network, position[row.point]])
                for row in decisions.itertuples()]
    decisions["attack_robust"] = survived
    wrong = decisions[(decisions.outcome == "robust") & ~decisions.attack_robust]
    if len(wrong):
        raise AssertionError(f"{len(wrong)} points proved robust were broken by the ensemble "
                             f"(first: {wrong.iloc[0].to_dict()}); the solver or the attack is "
                             "wrong")
    summary = summarise(decisions).merge(
        decisions.groupby(["network", "norm", "eps"], as_index=False)["attack_robust"].mean()
        .rename(columns={"attack_robust": "attack_accuracy"}), on=["network", "norm", "eps"])
    for (norm, eps), part in summary.groupby(["norm", "eps"]):
        print(f"[exact] {norm} eps {eps:g}: exact robust accuracy in "
              f"[{part.lower.mean():.3f}, {part.upper.mean():.3f}] (mean over networks), "
              f"ensemble {part.attack_accuracy.mean():.3f}; {int(part.undecided.sum())} "
              "undecided", flush=True)
    base = label_columns(variants, n_seeds, **labels)
    base["network"] = range(len(base))
    # Wall-clock times go to the provenance's timing, not the tables: a rebuilt job gives the
    # same bytes (unless a point sits near the time limit, where its outcome depends on speed).
    fileio.write_csv(outputs["summary"], base.merge(summary, on="network")
                     .drop(columns=["network", *TIMES]))
    fileio.write_csv(outputs["points"], base.merge(decisions, on="network")
                     .drop(columns=["network", "seconds"]))
    return {"seeds": {"attack_seed": seed}, "points": [int(p) for p in points],
            "timing": {"decision_seconds_total": float(decisions.seconds.sum()),
                       "decision_seconds_max": float(decisions.seconds.max())}}
