"""The real-image branch through Snakemake on the tiny config (part of the whole-DAG build): the
tiny CIFAR-10 archive and the trimmed digits, end to end; the switch that leaves CIFAR-10 out
where no GPU is visible; one-line errors; external checkpoints."""

import json
import os
import shutil
import stat

import pandas as pd
import pyautoattack
import pytest
from conftest import REPO, TEST_CONFIG, planned_jobs, run_snakemake, write_test_archive

from advpretrain.claims.images import IMAGE_CLAIMS

pytestmark = pytest.mark.workflow

PER_SEED_COLUMNS = ["dataset", "downstream_task", "variant", "pretraining_task", "adversarial",
                    "seed", "clean_accuracy", "pgd_accuracy", "autoattack_accuracy",
                    "test_images", "autoattack_images"]
VARIANTS = ["supervised_clean", "supervised_adversarial", "contrastive_clean",
            "contrastive_adversarial"]


def _last_line(log):
    return log.read_text().strip().splitlines()[-1]


def test_missing_archive_stops_with_one_line(tmp_path):
    # Offline and without the archive, the data job stops: the log's last line says how to
    # provide it, with no traceback.
    missing = run_snakemake(tmp_path, "results/images/cifar10/data/split.npz", check=False)
    assert missing.returncode != 0
    log = tmp_path / "results/logs/images/cifar10/data.log"
    last = _last_line(log)
    assert last.startswith("error: ") and "images.cifar10.data.root" in last
    assert "cifar-10-python.tar.gz" in last and "Traceback" not in log.read_text()
    assert not (tmp_path / "results/images/cifar10/data/split.npz").exists()


@pytest.mark.parametrize("dataset, tasks, seeds", [("cifar10", ["classes", "vehicles"], 1),
                                                   ("digits", ["classes", "parity"], 2)])
def test_image_branch_end_to_end(workflow_run, dataset, tasks, seeds):
    per_seed = pd.read_csv(workflow_run / f"results/images/{dataset}/per_seed.csv")
    assert list(per_seed.columns[:len(PER_SEED_COLUMNS)]) == PER_SEED_COLUMNS
    assert len(per_seed) == len(tasks) * len(VARIANTS) * seeds
    assert list(dict.fromkeys(per_seed["downstream_task"])) == tasks
    assert list(dict.fromkeys(per_seed["variant"])) == VARIANTS
    assert sorted(set(per_seed["seed"])) == list(range(seeds))
    for column in ("clean_accuracy", "pgd_accuracy", "autoattack_accuracy"):
        assert per_seed[column].between(0, 1).all()
    # The reference check on every row: AutoAttack <= PGD-20 on the same images.
    assert (per_seed["autoattack_accuracy"] <= per_seed["autoattack_pgd_accuracy"]).all()
    assert (per_seed["autoattack_accuracy"] <= per_seed["autoattack_after_apgd_ce"]).all()
    binary = per_seed[per_seed["downstream_task"] == tasks[1]]
    assert binary["autoattack_after_apgd_t"].isna().all()  # APGD-T: not for 2 classes
    assert (per_seed["adversarial"] == per_seed["variant"].str.endswith("adversarial")).all()
    supervised = per_seed[per_seed["pretraining_task"] == "supervised"]
    assert supervised["selected_epoch"].between(1, supervised["pretrain_epochs"]).all()
    table = pd.read_csv(workflow_run / f"paper_figures/{dataset}_table.csv")
    assert len(table) == len(tasks) * len(VARIANTS) and (table["seeds"] == seeds).all()
    assert table["clean_accuracy_low"].isna().all() == (seeds == 1)
    markdown = (workflow_run / f"paper_figures/{dataset}_table.md").read_text()
    assert ("indicative" in markdown) == (seeds == 1)
    for name in (f"{dataset}_table.tex", f"{dataset}_results.png", f"{dataset}_results.pdf"):
        assert (workflow_run / "paper_figures" / name).stat().st_size > 0
    # One readable progress line per epoch in the training logs.
    log = workflow_run / f"results/logs/images/{dataset}/linear_supervised_clean_seed0.log"
    epochs = [line for line in log.read_text().splitlines() if line.startswith("[linear ")]
    assert len(epochs) > 1 and all("images/s" in line and "left" in line for line in epochs)
    assert not list((workflow_run / "results").glob("resume/images_*"))  # removed once finished


def test_claims_read_the_per_seed_tables(workflow_run):
    """The claims' C6 rows come from the per-seed tables: the claims job lists them as inputs,
    and each C6 row's estimate is the mean over seeds of the per-seed gains in them."""
    meta = json.loads((workflow_run / "results/claims.json").read_text())
    inputs = json.dumps(meta["inputs"])
    assert "results/images/cifar10/per_seed.csv" in inputs
    assert "results/images/digits/per_seed.csv" in inputs
    claims = pd.read_csv(workflow_run / "results/claims.csv")
    for dataset, (claim, name) in IMAGE_CLAIMS.items():
        per_seed = pd.read_csv(workflow_run / f"results/images/{dataset}/per_seed.csv")
        for (task, pretraining), rows in per_seed.groupby(["downstream_task", "pretraining_task"]):
            gain = (rows[rows["adversarial"]].set_index("seed")["pgd_accuracy"]
                    - rows[~rows["adversarial"]].set_index("seed")["pgd_accuracy"]).mean()
            row = claims[(claims["claim"] == claim) & (claims["scope"] == (
                f"{name} {task}, {pretraining}, PGD-20"))]
            assert len(row) == 1 and abs(row["estimate"].iloc[0] - gain) < 1e-9, (dataset, task)
            assert row["source"].iloc[0] == f"results/images/{dataset}/per_seed.csv"


def _env_without_gpu():
    return {"CUDA_VISIBLE_DEVICES": ""}


def _fake_gpu_path(folder):
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}


def test_paper_config_leaves_cifar10_out_where_no_gpu_is_visible(tmp_path):
    paper = [REPO / "config" / "config.yaml"]
    without = planned_jobs(run_snakemake(tmp_path, "--dry-run", configfile=paper,
                                         env=_env_without_gpu()).stdout)
    datasets = {job["wildcards"].get("dataset") for job in without}
    assert "digits" in datasets and "cifar10" not in datasets
    claims = next(job for job in without if job["rule"] == "claims")
    assert "results/images/digits/per_seed.csv" in claims["input"]
    assert not any("cifar10" in path for path in claims["input"])
    (tmp_path / "bin").mkdir()
    with_gpu = planned_jobs(run_snakemake(tmp_path, "--dry-run", configfile=paper,
                                          env=_fake_gpu_path(tmp_path / "bin")).stdout)
    assert any(job["wildcards"].get("dataset") == "cifar10" for job in with_gpu)
    assert "images_report_cifar10" in {job["rule"] for job in with_gpu}


def test_cpu_refuses_training_beyond_its_limit_in_one_line(workflow_run, tmp_path):
    work = tmp_path / "run"
    write_test_archive(work)
    shutil.copytree(workflow_run / "results/images/cifar10/data", work / "results/images/"
                    "cifar10/data")
    config = tmp_path / "limit.yaml"
    config.write_text("images:\n  cifar10:\n    runtime:\n      cpu_max_hours: 0.0000001\n")
    target = "results/images/cifar10/supervised_adversarial/seed0/encoder.pt"
    result = run_snakemake(work, target, configfile=[TEST_CONFIG, config], check=False)
    assert result.returncode != 0
    log = work / "results/logs/images/cifar10/pretrain_supervised_adversarial_seed0.log"
    last = _last_line(log)
    assert last.startswith("error: refusing to pre-train cifar10 supervised_adversarial")
    assert "GPU-hours" in last and "cpu_max_hours" in last and "Traceback" not in log.read_text()


def test_external_checkpoint_rule_is_planned(tmp_path):
    root = tmp_path / "data/checkpoints/cifar10"
    root.mkdir(parents=True)
    shutil.copy(os.path.join(os.path.dirname(pyautoattack.__file__), "examples",
                             "model_test.pt"), root / "aa_example.pt")
    jobs = planned_jobs(run_snakemake(
        tmp_path, "--dry-run", "results/images/cifar10/external/aa_example/evaluation.csv").stdout)
    external = next(job for job in jobs if job["rule"] == "images_external")
    assert external["wildcards"] == {"dataset": "cifar10", "name": "aa_example"}
    assert "data/checkpoints/cifar10/aa_example.pt" in external["input"]

