"""The real-image branch's switches, torch-free (the Snakefile imports them): its pre-training
variants and whether a data set's branch is on (a GPU visible, without importing torch).

VARIANTS: name -> (pre-training task, adversarial pre-training?). The same four for every data set:
* ``supervised_clean``: cross-entropy on augmented images;
* ``supervised_adversarial``: PGD adversarial training (Madry et al.; recipe of Rice et al.);
* ``contrastive_clean``: SimCLR (NT-Xent on two augmented views);
* ``contrastive_adversarial``: ACL (Jiang et al. 2020, "ACL(DS)"): dual BatchNorm, the clean
  pair's NT-Xent through the clean branch plus the attacked pair's through the adversarial one.

A GPU is visible when ``nvidia-smi -L`` lists one and ``CUDA_VISIBLE_DEVICES`` does not hide every
device (empty or -1). A SLURM driver node often has no GPU while the cluster does: there, set
``enabled: true`` (config/cifar10_on.yaml).
"""

import functools
import os
import shutil
import subprocess

VARIANTS = {
    "supervised_clean": ("supervised", False),
    "supervised_adversarial": ("supervised", True),
    "contrastive_clean": ("contrastive", False),
    "contrastive_adversarial": ("contrastive", True),
}


def dual_bn(variant: str) -> bool:
    """Variants trained with two BatchNorm branches (clean and adversarial): ACL."""
    return variant == "contrastive_adversarial"


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
