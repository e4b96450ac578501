"""The exact_verification stage on a tiny job: its tables, their bounds, the same bytes twice."""

import numpy as np
import pandas as pd

from advpretrain.evaluation.exact import OUTCOMES, subsample_indices
from advpretrain.simulation.exact_verification import exact_verification
from advpretrain.workflow import params


def run_stage(config, inputs, folder, name):
    outputs = {"summary": str(folder / f"{name}_summary.csv"),
               "points": str(folder / f"{name}_points.csv")}
    extra = exact_verification(params.exact_verification(config, "supervised", "gate"), inputs,
                               outputs)
    return outputs, extra


def test_the_tables_of_the_verified_variants(job):
    config, inputs, folder = job
    exact = config["simulation"]["evaluation"]["exact"]
    outputs, extra = run_stage(config, inputs, folder, "first")
    summary, points = pd.read_csv(outputs["summary"]), pd.read_csv(outputs["points"])
    budgets = [(norm, eps) for norm, values in exact["budgets"].items() for eps in values]
    # Only the verified variants, every seed, every budget; no wall-clock column.
    assert set(summary.variant) == set(exact["variants"])
    assert len(summary) == len(exact["variants"]) * 2 * len(budgets)
    assert not {"seconds", "mean_seconds", "max_seconds"} & (set(summary) | set(points))
    assert (summary[list(OUTCOMES)].sum(axis=1) == exact["samples"]).all()
    assert np.allclose(summary.lower, summary.robust / summary.points)
    assert np.allclose(summary.upper - summary.lower, summary.width)
    # The ensemble never breaks a point proved robust: its accuracy is at least the lower bound.
    assert (summary.lower <= summary.attack_accuracy + 1e-12).all()
    assert not (points.outcome.eq("robust") & ~points.attack_robust).any()
    assert (points[points.outcome == "broken"].margin <= 0).all()
    expected = subsample_indices(config["simulation"]["data"]["sizes"]["pretrain_test"],
                                 exact["samples"], config["base_seed"])
    assert sorted(set(points.point)) == sorted(expected.tolist()) == extra["points"]
    assert extra["timing"]["decision_seconds_total"] >= 0


def test_a_rerun_gives_the_same_bytes(job):
    config, inputs, folder = job
    first, _ = run_stage(config, inputs, folder, "again_a")
    second, _ = run_stage(config, inputs, folder, "again_b")
    for name in ("summary", "points"):
        with open(first[name], "rb") as a, open(second[name], "rb") as b:
            assert a.read() == b.read(), name
