"""Real-image inputs: the CIFAR-10 archive checks, its messages, the split arrays, and the
digits' stratified split.

``write_cifar_archive`` makes a tiny archive in the official on-disk format (cifar-10-batches-py
pickles inside cifar-10-python.tar.gz), byte-identical on every call, whose MD5 config/test.yaml
carries. Run this file as a script to write it where config/test.yaml expects it:
``.venv/bin/python tests/test_cifar_data.py``.
"""

import copy
import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from advpretrain.core.fileio import load_arrays
from advpretrain.images.data import (
    ARCHIVE_NAME,
    BATCH_FOLDER,
    CifarDataError,
    ensure_archive,
    images_data,
)
from advpretrain.workflow import params as settings

REPO = Path(__file__).resolve().parent.parent

TINY_TRAIN, TINY_TEST = 60, 20


def write_cifar_archive(folder, n_train=TINY_TRAIN, n_test=TINY_TEST, seed=0):
    """Write ``folder/cifar-10-python.tar.gz`` (random images, class-coloured); return its MD5."""
    rng = np.random.default_rng(seed)
    members = [(f"data_batch_{i}", n_train // 5) for i in range(1, 6)] + [("test_batch", n_test)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, size in members:
            labels = np.arange(size) % 10
            # A class-dependent colour shift, so that a tiny model can learn something.
            images = rng.integers(0, 128, (size, 3072)) + 12 * labels[:, None]
            payload = pickle.dumps({"data": images.astype(np.uint8), "labels": labels.tolist()},
                                   protocol=4)
            info = tarfile.TarInfo(f"{BATCH_FOLDER}/{name}")
            info.size, info.mtime = len(payload), 0
            tar.addfile(info, io.BytesIO(payload))
    archive = Path(folder) / ARCHIVE_NAME
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0,
                                                      filename="") as packed:
        packed.write(raw.getvalue())
    return hashlib.md5(archive.read_bytes()).hexdigest()


def tiny_config(tmp_path):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["images"]["cifar10"]["data"]["root"] = str(tmp_path / "cifar")
    return config


def source(config):
    return settings.images_source(config, "cifar10")


def md5_of(config):
    return config["images"]["cifar10"]["data"]["archive_md5"]


def make_arrays(config, path, dataset="cifar10"):
    """The images_data stage on ``config``'s data set, writing ``path``; its provenance."""
    return images_data(settings.images_data(config, dataset), {}, {"data": str(path)},
                     settings.images_source(config, dataset))


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


if __name__ == "__main__":
    test_config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    folder = REPO / test_config["images"]["cifar10"]["data"]["root"]
    print(f"wrote {folder / ARCHIVE_NAME} (MD5 {write_cifar_archive(folder)})")


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
