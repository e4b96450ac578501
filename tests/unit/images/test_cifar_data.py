"""Real-image inputs: the CIFAR-10 archive checks, its messages, the split arrays, and the
digits' stratified split (the tiny archive itself: tests/cifar_archive.py).
"""

import copy

import numpy as np
import pytest
import yaml
from cifar_archive import (
    TINY_TEST,
    TINY_TRAIN,
    make_arrays,
    md5_of,
    source,
    tiny_config,
    write_cifar_archive,
)
from conftest import REPO

from advpretrain.core.fileio import load_arrays
from advpretrain.images.data import ARCHIVE_NAME, CifarDataError, ensure_archive


def test_tiny_archive_matches_test_config(tmp_path):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    assert write_cifar_archive(tmp_path) == md5_of(config)


def test_split_arrays(tmp_path):
    config = tiny_config(tmp_path)
    write_cifar_archive(tmp_path / "cifar")
    make_arrays(config, tmp_path / "cifar10.npz")
    arrays = load_arrays(tmp_path / "cifar10.npz")
    n_val = config["images"]["cifar10"]["data"]["validation_size"]
    assert arrays["train_x"].shape == (TINY_TRAIN - n_val, 3, 32, 32)
    assert arrays["val_x"].shape == (n_val, 3, 32, 32)
    assert arrays["test_x"].shape == (TINY_TEST, 3, 32, 32)
    assert arrays["train_x"].dtype == np.uint8 and arrays["test_y"].dtype == np.int64
    # The validation images come out of the training batches, never out of the test batch.
    train_rows = {row.tobytes() for row in arrays["train_x"]}
    assert not any(row.tobytes() in train_rows for row in arrays["val_x"])


def test_corrupt_archive_names_the_fix(tmp_path):
    config = tiny_config(tmp_path)
    write_cifar_archive(tmp_path / "cifar")
    archive = tmp_path / "cifar" / ARCHIVE_NAME
    archive.write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(CifarDataError, match="checksum error.*images.cifar10.data.root"):
        ensure_archive(source(config), md5_of(config))
    assert archive.exists()  # the user's file is reported, never deleted


def test_missing_archive_offline(tmp_path):
    config = tiny_config(tmp_path)
    md5 = md5_of(config)
    with pytest.raises(CifarDataError, match="missing.*images.cifar10.data.download is false"):
        ensure_archive(source(config), md5)
    # With downloads on and no network, the real download path fails fast with the same advice.
    config["images"]["cifar10"]["data"].update(download=True,
                                               url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(CifarDataError, match="could not download.*images.cifar10.data.root"):
        ensure_archive(source(config), md5)
    assert not any((tmp_path / "cifar").iterdir())  # no partial download left behind




def test_digits_split_is_stratified_fixed_and_hashed(tmp_path):
    config = tiny_config(tmp_path)
    meta = make_arrays(config, tmp_path / "digits.npz", dataset="digits")
    again = make_arrays(config, tmp_path / "again.npz", dataset="digits")
    arrays = load_arrays(tmp_path / "digits.npz")
    data = config["images"]["digits"]["data"]
    assert arrays["test_x"].shape == (data["test_size"], 1, 8, 8)
    assert arrays["val_x"].shape == (data["validation_size"], 1, 8, 8)
    assert len(arrays["train_x"]) == 1797 - data["test_size"] - data["validation_size"]
    assert arrays["train_x"].dtype == np.uint8 and arrays["train_x"].max() == 16
    totals = np.bincount(np.concatenate([arrays[f"{s}_y"] for s in ("train", "val", "test")]))
    for split in ("train", "val", "test"):  # stratified: every class in its share
        counts = np.bincount(arrays[f"{split}_y"], minlength=10)
        expected = totals * len(arrays[f"{split}_y"]) / totals.sum()
        assert np.abs(counts - expected).max() < 2, (split, counts, expected)
    assert meta["split"] == again["split"] and len(meta["split"]["sha256"]) == 64
    other = copy.deepcopy(config)
    other["base_seed"] += 1
    assert make_arrays(other, tmp_path / "other.npz", "digits")["split"]["sha256"] != \
        meta["split"]["sha256"]
