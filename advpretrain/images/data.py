"""The real-image inputs, split once into arrays of grey-level counts (uint8, N x C x H x W).

* CIFAR-10: the official python archive, checksum verified. It is fetched with torchvision's
  download helpers into ``images.cifar10.data.root``; the expected MD5 is a config value (the
  official one by default) so that tests can supply their own small archive in the same format.
  The batches are read in the standard pickle format; validation images come out of the training
  batches (seeded).
* digits: scikit-learn's bundled ``load_digits`` (no download), pen-pixel counts 0-16; a fixed
  stratified train / validation / test split, its indices hashed into the provenance.
"""

import hashlib
import os
import pickle
import socket
import tempfile
from pathlib import Path

import numpy as np
import torch

from advpretrain.core import fileio
from advpretrain.core.errors import InputDataError
from advpretrain.core.seeding import derive_seed, numpy_rng

ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
DOWNLOAD_TIMEOUT_S = 30  # a stalled connection fails the job instead of hanging it


class CifarDataError(InputDataError):
    """The archive is missing, corrupt or could not be downloaded."""


def _how_to_provide(archive, md5):
    return (f"Provide the official CIFAR-10 python archive at {archive} (download "
            f"{ARCHIVE_NAME} from https://www.cs.toronto.edu/~kriz/cifar.html on a machine with "
            f"network access and copy it there), or point config key images.cifar10.data.root to "
            f"the folder that holds it; its MD5 must equal config key "
            f"images.cifar10.data.archive_md5 = {md5}.")


def ensure_archive(source, md5: str) -> Path:
    """The verified archive: already in ``source.root``, or downloaded there if allowed."""
    # Imported here: torchvision's package import costs seconds, and every image job imports
    # this module while only images_data on CIFAR-10 needs the download helpers.
    from torchvision.datasets.utils import check_integrity, download_url

    root = Path(source.root)
    archive = root / ARCHIVE_NAME
    if archive.exists():
        if check_integrity(archive, md5):
            return archive
        raise CifarDataError(f"checksum error: {archive} does not have MD5 {md5} (corrupt or "
                             f"incomplete download). Delete it and rerun, or replace it. "
                             + _how_to_provide(archive, md5))
    if not source.download:
        raise CifarDataError(f"{archive} is missing and config key images.cifar10.data.download "
                             "is false. " + _how_to_provide(archive, md5))
    root.mkdir(parents=True, exist_ok=True)
    # Download under a temporary name so an interrupted transfer never looks like the archive.
    partial = f".{ARCHIVE_NAME}.partial"
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        print(f"downloading {source.url} to {archive}", flush=True)
        download_url(source.url, root, filename=partial, md5=md5)
    except (OSError, RuntimeError) as error:
        raise CifarDataError(f"could not download CIFAR-10 from {source.url} ({error}). "
                             + _how_to_provide(archive, md5)) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
        if (root / partial).exists() and not check_integrity(root / partial, md5):
            (root / partial).unlink()
    os.replace(root / partial, archive)
    return archive


def _read_batch(path):
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch["labels"], dtype=np.int64)


def read_archive(archive):
    """(train images, train labels, test images, test labels): uint8 NCHW and int64."""
    from torchvision.datasets.utils import extract_archive  # lazy, as in ensure_archive

    with tempfile.TemporaryDirectory(dir=Path(archive).parent, prefix=".extract.") as scratch:
        extract_archive(archive, scratch)
        folder = Path(scratch) / BATCH_FOLDER
        train = [_read_batch(folder / name) for name in TRAIN_BATCHES]
        test_x, test_y = _read_batch(folder / TEST_BATCH)
    train_x = np.concatenate([x for x, _ in train])
    train_y = np.concatenate([y for _, y in train])
    return train_x, train_y, test_x, test_y


def _cifar10_arrays(settings, source):
    archive = ensure_archive(source, settings["data"]["archive_md5"])
    train_x, train_y, test_x, test_y = read_archive(archive)
    n_val = settings["data"]["validation_size"]
    if not 0 < n_val < len(train_x):
        raise CifarDataError(f"config key images.cifar10.data.validation_size: {n_val} must be "
                             f"between 1 and the {len(train_x) - 1} training images less one")
    seed = derive_seed(settings["base_seed"], "images", "cifar10", "split")
    order = numpy_rng(seed).permutation(len(train_x))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    arrays = {"train_x": train_x[train], "train_y": train_y[train],
              "val_x": train_x[val], "val_y": train_y[val], "test_x": test_x, "test_y": test_y}
    indices = {"train": train, "val": val}
    return arrays, indices, seed, {"path": str(archive), "sha256": fileio.sha256_file(archive)}


def _digits_arrays(settings):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.round().astype(np.uint8)[:, None]  # pen-pixel counts 0-16
    labels = digits.target.astype(np.int64)
    data = settings["data"]
    seed = derive_seed(settings["base_seed"], "images", "digits", "split")
    every = np.arange(len(labels))
    rest, test = train_test_split(every, test_size=data["test_size"], stratify=labels,
                                  random_state=seed % 2**32)
    train, val = train_test_split(rest, test_size=data["validation_size"], stratify=labels[rest],
                                  random_state=(seed + 1) % 2**32)
    train, val, test = np.sort(train), np.sort(val), np.sort(test)
    arrays = {f"{name}_{kind}": values[index] for name, index in
              (("train", train), ("val", val), ("test", test))
              for kind, values in (("x", images), ("y", labels))}
    source = {"loader": "sklearn.datasets.load_digits",
              "sha256": hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()}
    return arrays, {"train": train, "val": val, "test": test}, seed, source


def images_data(settings, inputs, outputs, source) -> dict:
    """The data set's train / val / test arrays (counts, uint8) and the split's provenance.
    ``source`` (CIFAR-10: root, url, download) says where the archive is: not a setting."""
    dataset = settings["dataset"]
    if dataset == "cifar10":
        arrays, indices, seed, origin = _cifar10_arrays(settings, source)
    else:
        arrays, indices, seed, origin = _digits_arrays(settings)
    fileio.save_arrays(outputs["data"], arrays)
    split_hash = hashlib.sha256(b"".join(np.asarray(indices[name], dtype=np.int64).tobytes()
                                         for name in sorted(indices))).hexdigest()
    sizes = {name: int(len(arrays[f"{name}_y"])) for name in ("train", "val", "test")}
    counts = {name: np.bincount(arrays[f"{name}_y"], minlength=10).tolist()
              for name in ("train", "val", "test")}
    print(f"{dataset} arrays: {sizes['train']} train, {sizes['val']} validation, "
          f"{sizes['test']} test; split sha256 {split_hash[:16]}", flush=True)
    return {"seeds": {"split": seed}, "source": origin,
            "split": {"sha256": split_hash, "sizes": sizes, "class_counts": counts}}


def load_split(path, split, device):
    """Images (uint8 counts, on ``device``) and labels of one split; kept resident for fast
    batching."""
    arrays = fileio.load_arrays(path)
    return (torch.from_numpy(arrays[f"{split}_x"]).to(device),
            torch.from_numpy(arrays[f"{split}_y"]).to(device))
