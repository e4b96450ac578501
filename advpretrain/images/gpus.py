"""Whether a GPU is visible, without importing torch (the Snakefile decides with it which data
sets' branches are on: ``images.<dataset>.enabled: auto``).

A GPU is visible when ``nvidia-smi -L`` lists one and ``CUDA_VISIBLE_DEVICES`` does not hide every
device (empty or -1). A SLURM driver node often has no GPU while the cluster does: there, set
``enabled: true`` (config/cifar10_on.yaml).
"""

import functools
import os
import shutil
import subprocess


@functools.cache
def visible_gpus() -> tuple[str, ...]:
    """The ``nvidia-smi -L`` lines of the visible GPUs (empty: none)."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return ()
    command = shutil.which("nvidia-smi")
    if command is None:
        return ()
    try:
        listed = subprocess.run([command, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if listed.returncode != 0:
        return ()
    return tuple(line for line in listed.stdout.splitlines() if line.startswith("GPU "))


def branch_enabled(section) -> bool:
    """A data set's ``enabled`` setting: true, false, or auto (on when a GPU is visible)."""
    value = section["enabled"]
    return bool(visible_gpus()) if value == "auto" else bool(value)
