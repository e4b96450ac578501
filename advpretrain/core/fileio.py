"""Deterministic, atomic file output and the metadata recorded beside every result.
"""

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from advpretrain import __version__
from advpretrain.core.canonical import unrecorded
from advpretrain.core.errors import InputDataError

# Fixed zip timestamps make .npz files byte-identical across runs (numpy's savez stamps "now").
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0o077)  # the only way to read it is to set it
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The file gets the mode the umask gives any new file (mkstemp's is 0600, owner only), so that
    a lab group can read the results where the umask says so."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_arrays(path, arrays: dict) -> None:
    """Write numpy arrays as a byte-reproducible .npz (loadable with ``np.load``)."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            archive.writestr(entry, buffer.getvalue())


class Arrays(dict):
    """The arrays of an .npz file by name; one the file lacks is an InputDataError naming both."""

    def __init__(self, path, arrays):
        super().__init__(arrays)
        self.path = path

    def __missing__(self, name):
        raise InputDataError(f"{self.path} lacks the array {name!r} (it has {sorted(self)}); "
                             "delete it and rerun the workflow")


def load_arrays(path) -> Arrays:
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path} is missing: rerun the rule that makes it")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return Arrays(path, {name: archive[name] for name in archive.files})
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        # An empty file is an EOFError ("No data left in file"), a truncated one a BadZipFile.
        raise InputDataError(f"{path} is corrupt ({error or type(error).__name__}); delete it "
                             "and rerun the workflow") from error


def save_torch(path, obj) -> None:
    # Through a buffer: torch names the archive's inner folder after the file, and the temporary
    # file's random name would make the bytes differ between runs.
    import torch  # here: the stages that only read tables start without torch (seconds)

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_torch(path):
    """Load a checkpoint safely (tensors and plain containers only)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def write_csv(path, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def write_json(path, payload) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def _hashes(named) -> dict[str, str]:
    paths = [p for value in named for p in ([value] if isinstance(value, str) else value)]
    return {str(path): sha256_file(path) for path in paths}


def provenance(rule: str, wildcards: dict, settings, inputs: dict, outputs, **extra) -> dict:
    """What is recorded beside each output: the rule and wildcards, the settings the job read
    (with their hash), the sha256 of every input and output, package versions, and what the
    stage and its job add (its seeds, timings for GPU stages; the fingerprints of its code)."""
    settings = unrecorded(settings)
    return {
        "rule": rule,
        "wildcards": wildcards,
        "settings": settings,
        "settings_sha256": hashlib.sha256(
            json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest(),
        "inputs": _hashes(inputs.values()),
        "outputs": _hashes(outputs),
        "versions": {
            "advpretrain": __version__,
            "torch": _torch_version(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": machine(),
        **extra,
    }


def machine() -> dict[str, str]:
    """The host a job ran on. Same config, same bytes holds on one machine: another CPU may take
    other vector kernels (torch's CPU capability) and round differently."""
    model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    torch = sys.modules.get("torch")  # a stage that never loaded torch did not compute with it
    return {"platform": platform.platform(), "cpu": model,
            "torch_cpu_capability": (torch.backends.cpu.get_cpu_capability() if torch
                                     else "not loaded")}


def _torch_version() -> str:
    torch = sys.modules.get("torch")
    return torch.__version__ if torch else importlib.metadata.version("torch")
