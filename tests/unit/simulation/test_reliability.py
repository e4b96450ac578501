"""Faults inside a stage: non-finite losses and data stop cleanly, with one-line errors and nothing
half-written; stale or corrupt inputs are refused."""

import pickle

import numpy as np
import pytest
import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import fingerprint
from advpretrain.core.errors import InputDataError, NonFiniteLoss, StaleModel
from advpretrain.model.training import check_finite
from advpretrain.simulation import jobs as simulation
from advpretrain.simulation.pretrain import pretrain as pretrain_stage
from advpretrain.simulation.sparse_coding_data import sparse_coding_data
from advpretrain.workflow import params as settings


def test_check_finite_names_step_and_networks():
    with pytest.raises(NonFiniteLoss, match=r"step 12 for networks \[1\].*nan"):
        check_finite(12, torch.tensor([0.3, float("nan"), 0.2]))
    check_finite(0, torch.tensor([0.1, 0.2]))


def data_file(config, folder):
    path = folder / "seed0.npz"
    sparse_coding_data(settings.sparse_coding_data(config, 0), {}, {"data": str(path)})
    return path


def pretrain(config, data, folder):
    outputs = {"model": str(folder / "pretrained.pt"), "log_csv": str(folder / "log.csv")}
    pretrain_stage(settings.pretrain(config, "supervised", "gate"), {"data": [str(data)]},
                        outputs)
    return outputs["model"]


def test_nan_in_data_fails_without_partial_output(tmp_path, test_config):
    test_config["simulation"]["seeds"] = 1
    data = data_file(test_config, tmp_path)
    arrays = fileio.load_arrays(data)
    arrays["pretrain_train_z"][:] = np.nan
    fileio.save_arrays(data, arrays)
    (tmp_path / "out").mkdir()
    with pytest.raises(NonFiniteLoss, match="non-finite training loss at step 0"):
        pretrain(test_config, data, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_corrupt_data_file_says_what_to_do(tmp_path):
    broken = tmp_path / "seed0.npz"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(InputDataError, match="corrupt.*delete it and rerun"):
        fileio.load_arrays(broken)


def test_model_from_other_settings_is_refused(tmp_path, test_config):
    test_config["simulation"]["seeds"] = 1
    test_config["simulation"]["training"]["steps"] = 2
    model = pretrain(test_config, data_file(test_config, tmp_path), tmp_path)
    expected = fingerprint(settings.pretrain(test_config, "supervised", "gate"))
    simulation.load_networks(model, expected)
    test_config["simulation"]["network"]["threshold"] = 0.1
    other = fingerprint(settings.pretrain(test_config, "supervised", "gate"))
    with pytest.raises(StaleModel, match="made with another configuration"):
        simulation.load_networks(model, other)


def test_user_errors_end_the_log_with_one_line(tmp_path):
    """A job stopped by bad input prints one line, not a traceback, as its log's last line."""
    log = tmp_path / "job.log"
    job = _FakeJob(log)

    def stage(settings, inputs, outputs):
        raise InputDataError("data/x.tar.gz is missing: put it there")

    from advpretrain.workflow.run import run
    with pytest.raises(SystemExit):
        run(job, stage)
    lines = log.read_text().splitlines()
    assert lines[-1] == "error: data/x.tar.gz is missing: put it there"
    assert "Traceback" not in log.read_text()


class _FakeJob:
    """The parts of Snakemake's script object that ``workflow.run`` uses."""

    def __init__(self, log):
        self.threads, self.rule, self.log = 1, "fake", [str(log)]
        self.params = {"settings": {}}
        self.input, self.output, self.wildcards = {}, {}, {}


def test_checkpoints_hold_tensors_only(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"payload": object()}, path)  # something a weights_only load must refuse
    with pytest.raises(pickle.UnpicklingError):
        fileio.load_torch(path)
