"""The attack_convergence stage on a tiny job: its table, what its numbers must satisfy, the same
bytes twice."""

import filecmp

import numpy as np
import pandas as pd

from advpretrain.simulation.attack_convergence import attack_convergence
from advpretrain.workflow import params


def run_stage(config, inputs, folder, name):
    outputs = {"csv": str(folder / f"{name}.csv")}
    attack_convergence(params.attack_convergence(config, "supervised", "gate"), inputs, outputs)
    return outputs["csv"]


def test_the_table_and_its_invariants(job):
    config, inputs, folder = job
    spec = config["simulation"]["evaluation"]["convergence"]
    table = pd.read_csv(run_stage(config, inputs, folder, "first"))
    budgets = [(n, e) for n, values in spec["budgets"].items() for e in values]
    levels = spec["doublings"] + 1
    assert set(table.variant) == set(spec["variants"])
    assert len(table) == len(spec["variants"]) * 2 * len(budgets) * levels
    for _, net in table.groupby(["variant", "seed", "norm", "eps"]):
        net = net.sort_values("level")
        # Each level doubles the attack's budget; the cumulative figure never rises, lies at or
        # below every level's, and the flag says whether the last doubling moved it.
        assert list(net.relative_budget) == [2.0**k for k in range(levels)]
        assert (np.diff(net.cumulative) <= 1e-12).all()
        assert (net.cumulative <= net.accuracy + 1e-12).all()
        moved = net.cumulative.iloc[-2] - net.cumulative.iloc[-1]
        assert net.converged.eq(moved <= spec["tolerance"]).all()
        assert net.ensemble_accuracy.nunique() == 1
    # Some points fall at the test budget, and the ensemble is not weaker than a clean pass.
    assert table.cumulative.min() < 1 and table.ensemble_accuracy.max() <= 1


def test_same_bytes_twice(job):
    config, inputs, folder = job
    assert filecmp.cmp(run_stage(config, inputs, folder, "a"), run_stage(config, inputs, folder,
                                                                           "b"), shallow=False)
