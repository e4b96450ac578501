"""A job killed mid-run resumes, through Snakemake, to the same bytes as an uninterrupted run."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO

from advpretrain.core import fileio

MODEL = "results/simulation/supervised/gate/pretrained.pt"
RESUME = "results/resume/pretrain_supervised_gate.pt"


def long_config(tmp_path, test_config):
    test_config["simulation"]["training"].update(steps=6000, resume_every=500, log_every=500)
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(test_config))
    return path


def start(workdir, configfile, *extra):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--cores", "1", *extra, MODEL,
               "--configfile", str(configfile)]
    log = open(workdir / f"snakemake{len(list(workdir.glob('snakemake*.out')))}.out", "w")
    return subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.workflow
def test_killed_training_resumes_to_identical_bytes(tmp_path, test_config):
    configfile = long_config(tmp_path, test_config)
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    interrupted.mkdir()
    reference.mkdir()

    job = start(interrupted, configfile)
    deadline = time.time() + 240
    resume = interrupted / RESUME
    while not resume.exists() and time.time() < deadline and job.poll() is None:
        time.sleep(0.02)
    assert resume.exists(), "no resume state was written before the deadline"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert not (interrupted / MODEL).exists()
    step = fileio.load_torch(resume)["step"]
    assert 0 < step < 6000

    assert start(interrupted, configfile, "--unlock").wait(timeout=60) == 0  # the killed run's lock
    # The resumed and the uninterrupted run side by side (one core each).
    runs = {workdir: start(workdir, configfile) for workdir in (interrupted, reference)}
    for workdir, finished in runs.items():
        returncode = finished.wait(timeout=600)
        outputs = "\n".join(p.read_text()[-3000:] for p in workdir.glob("snakemake*.out"))
        assert returncode == 0, outputs
    log = (interrupted / "results/logs/pretrain/supervised_gate.log").read_text()
    assert "resuming from step" in log
    assert not resume.exists(), "resume state is removed once the job has finished"
    for name in (MODEL, MODEL.replace("pretrained.pt", "training_log.csv")):
        digest = [hashlib.sha256((w / name).read_bytes()).hexdigest()
                  for w in (interrupted, reference)]
        assert digest[0] == digest[1], f"{name} differs after resuming"
