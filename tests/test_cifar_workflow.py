"""The whole CIFAR-10 branch through Snakemake on the tiny CPU config (about 2 minutes).

One core: torch threads fighting over a shared, busy CPU slow the run down many times over.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_cifar_data import REPO, write_cifar_archive  # noqa: E402

TARGETS = ["paper_figures/cifar10_table.csv", "paper_figures/cifar10_table.md",
           "paper_figures/cifar10_table.tex", "paper_figures/cifar10_purification.csv",
           "paper_figures/cifar10_purification.pdf", "paper_figures/cifar10_purification.png"]


def snakemake(workdir, *args):
    command = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(REPO / "config" / "test.yaml"),
               "--cores", "1", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_cifar_branch_end_to_end(tmp_path):
    # Offline and without the archive, the data job stops and its log says how to provide it.
    missing = snakemake(tmp_path, "results/cifar/data/cifar10.npz")
    assert missing.returncode != 0
    log = (tmp_path / "results/logs/cifar/data.log").read_text()
    assert "cifar.data.root" in log and "cifar-10-python.tar.gz" in log

    write_cifar_archive(tmp_path / "data" / "cifar10_tiny")
    run = snakemake(tmp_path, *TARGETS)
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(tmp_path / "paper_figures/cifar10_table.csv")
    assert list(table["variant"]) == ["supervised_clean", "supervised_adversarial",
                                      "contrastive_clean", "contrastive_adversarial"]
    for column in ("clean_accuracy", "pgd_accuracy", "autoattack_accuracy"):
        assert table[column].between(0, 1).all()
    assert (table["autoattack_accuracy"] <= table["autoattack_subset_clean_accuracy"]).all()
    assert (tmp_path / "paper_figures/cifar10_purification.png").stat().st_size > 0
    # One readable progress line per epoch in the training logs.
    epochs = (tmp_path / "results/logs/cifar/linear_supervised_clean.log").read_text().splitlines()
    assert len(epochs) == 2 and all("images/s" in line and "left" in line for line in epochs)
    assert not list((tmp_path / "results").glob("resume/cifar_*"))  # removed once finished

    again = snakemake(tmp_path, "-n", *TARGETS)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
