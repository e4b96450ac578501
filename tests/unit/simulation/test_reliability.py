"""Faults inside a stage: non-finite losses and data stop cleanly, with one-line errors and nothing
half-written; stale or corrupt inputs are refused."""

import os
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


def _npz(folder, name="seed0.npz", **arrays):
    path = folder / name
    fileio.save_arrays(path, arrays or {"x": np.arange(500.0), "y": np.ones(3)})
    return path


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_empty_or_truncated_npz_is_one_line_naming_the_file(tmp_path, damage):
    path = _npz(tmp_path)
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[:len(data) // 2])
    log = tmp_path / "job.log"
    from advpretrain.workflow.run import run
    with pytest.raises(SystemExit):
        run(_FakeJob(log), lambda settings, inputs, outputs: fileio.load_arrays(path))
    text = log.read_text()
    assert text.splitlines()[-1].startswith(f"error: {path} is corrupt")
    assert "delete it and rerun" in text and "Traceback" not in text


def test_npz_lacking_an_array_names_the_file_and_the_array(tmp_path):
    path = _npz(tmp_path, x=np.zeros(2))
    with pytest.raises(InputDataError, match=rf"{path} lacks the array 'y'"):
        fileio.load_arrays(path)["y"]


def test_seed_files_lacking_an_array_name_the_file_and_the_array(tmp_path):
    from advpretrain.model.sparse_coding import load_data
    complete = _npz(tmp_path, "seed0.npz", x=np.zeros(2), y=np.ones(2))
    incomplete = _npz(tmp_path, "seed1.npz", x=np.zeros(2))
    with pytest.raises(InputDataError, match=rf"{incomplete} lacks the array 'y'"):
        load_data([str(complete), str(incomplete)])
    with pytest.raises(InputDataError, match=r"lacks the array 'z'"):
        load_data([str(complete)])["z"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    """Results are as readable as the umask says (mkstemp alone makes them 0600)."""
    previous = os.umask(umask)
    try:
        fileio.write_json(tmp_path / "a.json", {"a": 1})
        fileio.save_arrays(tmp_path / "a.npz", {"x": np.zeros(2)})
        fileio.save_torch(tmp_path / "a.pt", {"x": torch.zeros(2)})
    finally:
        os.umask(previous)
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
