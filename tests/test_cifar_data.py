"""CIFAR-10 raw input: the archive checks, its messages, and the split arrays.

``write_cifar_archive`` makes a tiny archive in the official on-disk format (cifar-10-batches-py
pickles inside cifar-10-python.tar.gz), byte-identical on every call, whose MD5 config/test.yaml
carries. Run this file as a script to write it where config/test.yaml expects it:
``.venv/bin/python tests/test_cifar_data.py``.
"""

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from advpretrain import settings
from advpretrain.images.data import (
    ARCHIVE_NAME,
    BATCH_FOLDER,
    CifarDataError,
    ensure_archive,
    make_cifar_data,
)
from advpretrain.fileio import load_arrays

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
    config["cifar"]["data"]["root"] = str(tmp_path / "cifar")
    return config


def make_arrays(config, path):
    """The cifar_data stage on ``config``'s archive, writing ``path``."""
    make_cifar_data(settings.cifar_data(config), {}, {"data": str(path)},
                    settings.cifar_source(config))


def test_tiny_archive_matches_test_config(tmp_path):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    assert write_cifar_archive(tmp_path) == config["cifar"]["data"]["archive_md5"]


def test_split_arrays(tmp_path):
    config = tiny_config(tmp_path)
    write_cifar_archive(tmp_path / "cifar")
    make_arrays(config, tmp_path / "cifar10.npz")
    arrays = load_arrays(tmp_path / "cifar10.npz")
    n_val = config["cifar"]["data"]["validation_size"]
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
    with pytest.raises(CifarDataError, match="checksum error.*cifar.data.root"):
        ensure_archive(settings.cifar_source(config), config["cifar"]["data"]["archive_md5"])
    assert archive.exists()  # the user's file is reported, never deleted


def test_missing_archive_offline(tmp_path):
    config = tiny_config(tmp_path)
    md5 = config["cifar"]["data"]["archive_md5"]
    with pytest.raises(CifarDataError, match="missing.*cifar.data.download is false"):
        ensure_archive(settings.cifar_source(config), md5)
    # With downloads on and no network, the real download path fails fast with the same advice.
    config["cifar"]["data"].update(download=True, url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(CifarDataError, match="could not download.*cifar.data.root"):
        ensure_archive(settings.cifar_source(config), md5)
    assert not any((tmp_path / "cifar").iterdir())  # no partial download left behind


if __name__ == "__main__":
    test_config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    folder = REPO / test_config["cifar"]["data"]["root"]
    print(f"wrote {folder / ARCHIVE_NAME} (MD5 {write_cifar_archive(folder)})")
