"""A tiny CIFAR-10 archive in the official on-disk format (cifar-10-batches-py pickles inside
cifar-10-python.tar.gz), byte-identical on every call, whose MD5 config/test.yaml carries, and the
helpers the image tests share. Run this file as a script to write it where config/test.yaml expects
it: ``.venv/bin/python tests/cifar_archive.py``.
"""

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import yaml

from advpretrain.images.data import ARCHIVE_NAME, BATCH_FOLDER, images_data
from advpretrain.workflow import params as settings

# Standalone (no pytest): benchmarks/device_check.py loads this file on the GPU machine.
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

if __name__ == "__main__":
    test_config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    folder = REPO / test_config["images"]["cifar10"]["data"]["root"]
    print(f"wrote {folder / ARCHIVE_NAME} (MD5 {write_cifar_archive(folder)})")
