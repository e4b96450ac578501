"""Shared fixtures: the tiny test config and a Snakemake run of the whole DAG on it."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
TEST_CONFIG = REPO / "config" / "test.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


@pytest.fixture
def test_config():
    """A fresh copy of config/test.yaml that a test may change."""
    return copy.deepcopy(yaml.safe_load(TEST_CONFIG.read_text()))


def run_snakemake(workdir, *args, configfile=TEST_CONFIG, check=True, cores=2):
    """Run Snakemake on the repo's Snakefile inside ``workdir``; returns the finished process."""
    command = [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(configfile),
               "--cores", str(cores), *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def build_whole_dag(workdir):
    """The whole DAG on the test config in ``workdir``, with the tiny CIFAR-10 archive the test
    config expects (tests write it themselves: the real one cannot be downloaded here)."""
    from test_cifar_data import write_cifar_archive

    write_cifar_archive(Path(workdir) / "data" / "cifar10_tiny")
    run_snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """The whole DAG on the test config, built once per test session."""
    return build_whole_dag(tmp_path_factory.mktemp("workflow"))
