"""Shared fixtures: the tiny test config, a copy of the repository, and one build of the DAG.

The whole test DAG is built once per session (``workflow_run``) from a copy of the repository
(``repo_copy``), so that tests can edit the copy's code and see what Snakemake would rerun. The
build records which settings every stage reads (``ADVPRETRAIN_RECORD_SETTINGS``).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from advpretrain.workflow.run import RECORD_ENV

REPO = Path(__file__).resolve().parent.parent
TEST_CONFIG = REPO / "config" / "test.yaml"


@pytest.fixture
def test_config():
    """A fresh copy of config/test.yaml that a test may change."""
    return copy.deepcopy(yaml.safe_load(TEST_CONFIG.read_text()))


def run_snakemake(workdir, *args, configfile=TEST_CONFIG, check=True, cores=2, repo=REPO,
                  env=None):
    """Run the Snakefile of ``repo`` (with its package) inside ``workdir``; ``configfile`` may be
    a list. Returns the finished process."""
    configfiles = configfile if isinstance(configfile, list | tuple) else [configfile]
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(Path(repo) / "Snakefile"),
               "--directory", str(workdir), "--cores", str(cores), *map(str, args),
               "--configfile", *map(str, configfiles)]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(repo), **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def copy_repository(destination: Path) -> Path:
    """The repository's files (tracked, and untracked ones git does not ignore) copied with
    their modification times."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def write_test_archive(workdir: Path) -> None:
    """The tiny CIFAR-10 archive that config/test.yaml expects (the real one cannot be
    downloaded here)."""
    from cifar_archive import write_cifar_archive

    root = yaml.safe_load(TEST_CONFIG.read_text())["images"]["cifar10"]["data"]["root"]
    write_cifar_archive(Path(workdir) / root)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items):
    """Mark the tests of the shared test build (``workflow_run``, a session fixture): `make test`
    runs them in one pytest process, which builds it once, beside the other workflow tests
    (tools/side_by_side.py)."""
    for item in items:
        if "workflow_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_build)


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="session")
def settings_records(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("settings_records")


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory, repo_copy, settings_records) -> Path:
    """The whole DAG on the test config, built once per test session from ``repo_copy``."""
    workdir = tmp_path_factory.mktemp("workflow")
    write_test_archive(workdir)
    run_snakemake(workdir, repo=repo_copy, env={RECORD_ENV: str(settings_records)})
    return workdir


@pytest.fixture(scope="session")
def job(tmp_path_factory):
    """config/test.yaml with 2 seeds and 40 training steps: data and the supervised gate job
    (config, inputs, folder), shared by the stage tests that read a pre-trained model; each
    writes its outputs under its own names."""
    from advpretrain.simulation.pretrain import pretrain
    from advpretrain.simulation.sparse_coding_data import sparse_coding_data
    from advpretrain.workflow import params
    from advpretrain.workflow.config import validate_config

    config = validate_config(yaml.safe_load(TEST_CONFIG.read_text()))
    config["simulation"]["seeds"] = 2
    config["simulation"]["training"]["steps"] = 40
    folder = tmp_path_factory.mktemp("supervised_job")
    data = []
    for seed in range(2):
        data.append(str(folder / f"seed{seed}.npz"))
        sparse_coding_data(params.sparse_coding_data(config, seed), {}, {"data": data[-1]})
    model = str(folder / "pretrained.pt")
    pretrain(params.pretrain(config, "supervised", "gate"), {"data": data},
             {"model": model, "log_csv": str(folder / "log.csv")})
    return config, {"data": data, "model": model}, folder


def planned_jobs(output: str) -> list[dict]:
    """The jobs of a dry run: [{"rule", "wildcards": {...}, "reason", "input"}] from its job
    blocks."""
    jobs, job = [], None
    for line in output.splitlines():
        stripped = line.strip()
        if line.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            job = {"rule": stripped.split()[1].rstrip(":"), "wildcards": {}, "reason": "",
                   "input": []}
            jobs.append(job)
        elif job is not None and stripped.startswith("wildcards:"):
            pairs = stripped.removeprefix("wildcards:").split(",")
            job["wildcards"] = dict(pair.strip().split("=", 1) for pair in pairs)
        elif job is not None and stripped.startswith("input:"):
            job["input"] = stripped.removeprefix("input:").strip().split(", ")
        elif job is not None and stripped.startswith("reason:"):
            job["reason"] = stripped.removeprefix("reason:").strip()
    return jobs


def planned_rules(output: str) -> set[str]:
    return {job["rule"] for job in planned_jobs(output)}
