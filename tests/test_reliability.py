"""Faults: a job killed mid-run resumes to the same bytes; non-finite losses stop cleanly."""

import hashlib
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
import yaml

from advpretrain import fileio, simulation
from advpretrain.training import NonFiniteLoss, check_finite
from conftest import SNAKEMAKE

MODEL = "results/simulation/supervised/gate/pretrained.pt"
RESUME = "results/resume/pretrain_supervised_gate.pt"


def long_config(tmp_path, test_config):
    test_config["simulation"]["training"].update(steps=1500, resume_every=100, log_every=100)
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(test_config))
    return path


def start(workdir, configfile, *extra):
    command = [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(configfile),
               "--cores", "1", *extra, MODEL]
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
        time.sleep(0.2)
    assert resume.exists(), "no resume state was written before the deadline"
    time.sleep(1.0)  # let it get past the first resume point
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert not (interrupted / MODEL).exists()
    step = fileio.load_torch(resume)["step"]
    assert 0 < step < 1500

    assert start(interrupted, configfile, "--unlock").wait(timeout=60) == 0  # the killed run's lock
    for workdir in (interrupted, reference):
        finished = start(workdir, configfile)
        outputs = "\n".join(p.read_text()[-3000:] for p in workdir.glob("snakemake*.out"))
        assert finished.wait(timeout=600) == 0, outputs
    log = (interrupted / "results/logs/pretrain/supervised_gate.log").read_text()
    assert "resuming from step" in log
    assert not resume.exists(), "resume state is removed once the job has finished"
    for name in (MODEL, MODEL.replace("pretrained.pt", "training_log.csv")):
        digest = [hashlib.sha256((w / name).read_bytes()).hexdigest()
                  for w in (interrupted, reference)]
        assert digest[0] == digest[1], f"{name} differs after resuming"


def test_check_finite_names_step_and_networks():
    with pytest.raises(NonFiniteLoss, match=r"step 12 for networks \[1\].*nan"):
        check_finite(12, torch.tensor([0.3, float("nan"), 0.2]))
    check_finite(0, torch.tensor([0.1, 0.2]))


def test_nan_in_data_fails_without_partial_output(tmp_path, test_config):
    test_config["simulation"]["seeds"] = 1
    data = tmp_path / "seed0.npz"
    simulation.make_data(test_config, 0, data, tmp_path / "seed0.json")
    arrays = fileio.load_arrays(data)
    arrays["pretrain_train_z"][:] = np.nan
    fileio.save_arrays(data, arrays)
    model = tmp_path / "out" / "pretrained.pt"
    with pytest.raises(NonFiniteLoss, match="non-finite training loss at step 0"):
        simulation.pretrain(test_config, [data], "supervised", "gate", model,
                            tmp_path / "out" / "log.csv", tmp_path / "out" / "meta.json")
    assert not model.parent.exists() or not any(model.parent.iterdir())


def test_corrupt_data_file_says_what_to_do(tmp_path):
    broken = tmp_path / "seed0.npz"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="corrupt.*delete it and rerun"):
        fileio.load_arrays(broken)


def test_model_from_another_config_is_refused(tmp_path, test_config):
    test_config["simulation"]["seeds"] = 1
    test_config["simulation"]["training"]["steps"] = 2
    data = tmp_path / "seed0.npz"
    simulation.make_data(test_config, 0, data, tmp_path / "seed0.json")
    model = tmp_path / "pretrained.pt"
    simulation.pretrain(test_config, [data], "supervised", "gate", model,
                        tmp_path / "log.csv", tmp_path / "meta.json")
    simulation.load_networks(model, test_config)
    test_config["simulation"]["network"]["threshold"] = 0.1
    with pytest.raises(ValueError, match="made with another configuration"):
        simulation.load_networks(model, test_config)


def test_checkpoints_hold_tensors_only(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"payload": object()}, path)  # something a weights_only load must refuse
    with pytest.raises(Exception):
        fileio.load_torch(path)
