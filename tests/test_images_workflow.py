"""The CIFAR-10 branch through Snakemake on the tiny CPU config (part of the whole-DAG build)."""

import pandas as pd
import pytest
from conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_missing_archive_stops_with_the_fix(tmp_path):
    # Offline and without the archive, the data job stops and its log says how to provide it.
    missing = run_snakemake(tmp_path, "results/cifar/data/cifar10.npz", check=False)
    assert missing.returncode != 0
    log = (tmp_path / "results/logs/cifar/data.log").read_text()
    assert "cifar.data.root" in log and "cifar-10-python.tar.gz" in log
    assert not (tmp_path / "results/cifar/data/cifar10.npz").exists()


def test_cifar_branch_end_to_end(workflow_run):
    table = pd.read_csv(workflow_run / "paper_figures/cifar10_table.csv")
    assert list(table["variant"]) == ["supervised_clean", "supervised_adversarial",
                                      "contrastive_clean", "contrastive_adversarial"]
    for column in ("clean_accuracy", "pgd_accuracy", "autoattack_accuracy"):
        assert table[column].between(0, 1).all()
    assert (table["autoattack_accuracy"] <= table["autoattack_subset_clean_accuracy"]).all()
    for suffix in ("md", "tex"):
        assert (workflow_run / f"paper_figures/cifar10_table.{suffix}").stat().st_size > 0
    assert (workflow_run / "paper_figures/cifar10_purification.png").stat().st_size > 0
    # One readable progress line per epoch in the training logs.
    log = workflow_run / "results/logs/cifar/linear_supervised_clean.log"
    epochs = [line for line in log.read_text().splitlines() if line.startswith("[linear ")]
    assert len(epochs) == 2 and all("images/s" in line and "left" in line for line in epochs)
    assert not list((workflow_run / "results").glob("resume/cifar_*"))  # removed once finished
