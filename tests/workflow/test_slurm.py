"""The SLURM profile against a real SLURM (ci/slurm/setup.sh starts a one-node cluster).

Skipped when no SLURM answers (`sinfo`), unless ADVPRETRAIN_SLURM_TEST=1, which CI sets: then a
missing SLURM is a failure. To keep CI short (every SLURM job re-reads the workflow and the
plugin polls every few seconds), the run covers one path of the test config's DAG: data (two
one-core jobs side by side), supervised pre-training and evaluation (two-core jobs) and two
figures; the whole DAG runs locally in tests/workflow/test_workflow.py and needs nothing the
profile does not exercise here. The CIFAR-10 branch serves as the job that fails on purpose (no
archive).
"""

import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from cifar_archive import write_cifar_archive
from conftest import REPO, TEST_CONFIG

pytestmark = pytest.mark.slurm

REQUIRED = os.environ.get("ADVPRETRAIN_SLURM_TEST") == "1"
SLURM_FIGURES = ("purity_distribution", "robustness_curves")


def slurm_is_up():
    if shutil.which("sinfo") is None:
        return False, "sinfo is not installed"
    try:
        result = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"sinfo failed: {error}"
    states = result.stdout.split()
    if result.returncode != 0 or not any(s.rstrip("*~#") in ("idle", "mix", "alloc")
                                         for s in states):
        return False, f"no SLURM node takes jobs (sinfo rc {result.returncode}: " \
                      f"{result.stdout.strip()} {result.stderr.strip()})"
    return True, ""


@pytest.fixture(scope="module")
def slurm():
    up, why = slurm_is_up()
    if not up:
        if REQUIRED:
            pytest.fail(f"ADVPRETRAIN_SLURM_TEST=1 but SLURM is not up: {why}. "
                        "Start it with `sudo bash ci/slurm/setup.sh`.")
        pytest.skip(f"SLURM not available ({why}); set ADVPRETRAIN_SLURM_TEST=1 to require it")


def run_on_slurm(workdir, *targets, configfile=TEST_CONFIG):
    """Snakemake with profiles/slurm, as docs/slurm.md tells users (plus squeue status).

    --verbose makes the plugin print each sbatch call ("sbatch call: ..."), checked below.
    """
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(configfile), "--verbose",
        "--workflow-profile", str(REPO / "profiles" / "slurm"),
        # This cluster has no accounting database, so no sacct: poll squeue instead.
        "--slurm-status-command", "squeue",
        # Tiny jobs: poll early and often instead of the plugin's 40 s first wait.
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "2",
        "--latency-wait", "5",
        *targets,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800)
    print(f"snakemake on SLURM: {time.perf_counter() - start:.0f} s, rc {result.returncode}")
    return result


def sbatch_calls(output):
    return [line.split("sbatch call:", 1)[1] for line in output.splitlines()
            if "sbatch call:" in line and line.split("sbatch call:", 1)[1].strip()]


def test_simulation_runs_through_slurm(slurm, tmp_path):
    figures = [f"results/figures/{name}.png" for name in SLURM_FIGURES]
    result = run_on_slurm(tmp_path, *figures)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake on SLURM failed:\n{output[-8000:]}"
    assert "submitted with SLURM jobid" in output, output[-3000:]
    calls = sbatch_calls(output)
    # CPU rules ask for no GPU; every job carries its rule's threads, memory and runtime.
    assert calls and not any("--gpus" in call or "--gres" in call for call in calls), calls
    pretrain = next(call for call in calls if "rule_pretrain_" in call)
    assert "--cpus-per-task=1" in pretrain and "--mem 4000" in pretrain and "-t 60" in pretrain
    for figure in figures:
        assert (tmp_path / figure).stat().st_size > 0
    # Every job went through sbatch and left its SLURM log (slurm-keep-successful-logs).
    slurm_logs = list((tmp_path / "results" / "logs" / "slurm").rglob("*.log"))
    assert any("pretrain" in str(p) for p in slurm_logs), slurm_logs
    # Progress lines of the trainer reached the rule log, one line per report, no "\r" bars.
    pretrain_log = (tmp_path / "results/logs/pretrain/supervised_gate.log").read_text()
    assert "\r" not in pretrain_log
    assert all(word in pretrain_log for word in ("loss_mean", "batch_acc", "samples/s", "left"))


def test_failed_job_is_reported_with_its_log(slurm, tmp_path):
    # No CIFAR archive in this fresh directory and download is off in the test config:
    # images_data fails inside its SLURM job.
    result = run_on_slurm(tmp_path, "results/images/cifar10/data/split.npz")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Error in rule images_data" in output, output[-5000:]
    assert "results/logs/images/cifar10/data.log" in output
    # show-failed-logs prints the rule log: the user sees the reason without opening a file.
    assert "is missing and config key images.cifar10.data.download is false" in output, \
        output[-5000:]
    # The SLURM log of the job (sbatch's stdout and stderr) is named in the error report.
    slurm_logs = list((tmp_path / "results" / "logs" / "slurm").rglob("*.log"))
    assert slurm_logs and all(str(log) in output for log in slurm_logs), output[-5000:]
    # The job's own SLURM log tells which rule failed and points to the rule log.
    job_log = slurm_logs[0].read_text()
    assert "Error in rule images_data" in job_log and "data.log" in job_log, job_log[-3000:]
    assert not (tmp_path / "results/images/cifar10/data/split.npz").exists()


def test_gpu_rules_ask_for_gpus(slurm, tmp_path):
    # images.cifar10.resources.gpus = 1: the CIFAR-10 training job asks sbatch for a GPU. This
    # one-node cluster has none, so sbatch refuses it, and Snakemake must report that as a
    # failure.
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["images"]["cifar10"]["resources"]["gpus"] = 1
    configfile = tmp_path / "gpu.yaml"
    configfile.write_text(yaml.safe_dump(config))
    write_cifar_archive(tmp_path / config["images"]["cifar10"]["data"]["root"])
    result = run_on_slurm(tmp_path, "results/images/cifar10/supervised_clean/seed0/encoder.pt",
                          configfile=configfile)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    calls = sbatch_calls(output)
    data_call = next(call for call in calls if "rule_images_data" in call)
    pretrain_call = next(call for call in calls if "rule_images_pretrain" in call)
    assert "--gpus" not in data_call          # the data job is a CPU job
    assert "--gpus=1" in pretrain_call, pretrain_call
    assert "Error in rule images_pretrain" in output
