"""Device set-up shared by the CIFAR stages, and checkpoints that remember their config.

Speed settings (bf16 autocast, channels_last, torch.compile) and determinism come from the
``cifar.runtime`` config section; none of them changes what a checkpoint means, so none of them
enters a config fingerprint.
"""

import os
import time
from dataclasses import dataclass

import torch

from .. import fileio

VARIANTS = {  # name -> (pre-training task, adversarial pre-training?)
    "supervised_clean": ("supervised", False),
    "supervised_adversarial": ("supervised", True),
    "contrastive_clean": ("contrastive", False),
    "contrastive_adversarial": ("contrastive", True),
}


class CheckpointMismatch(ValueError):
    pass


@dataclass
class Runtime:
    device: torch.device
    bf16: bool
    channels_last: bool
    compile: bool

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def place(self, module):
        """Move a module to the device (channels_last for convolutions on the GPU)."""
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def compiled(self, module):
        """The module to call in hot loops; keep the original for state_dict (no prefixes)."""
        return torch.compile(module) if self.compile else module

    def images(self, uint8_batch):
        images = uint8_batch.float().div_(255)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self):
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return f"cpu ({torch.get_num_threads()} threads)"


def configure(cifar) -> Runtime:
    """The device and speed settings of ``cifar.runtime``, with determinism applied if asked."""
    settings = cifar["runtime"]
    wanted = settings["device"]
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key cifar.runtime.device: cuda was requested but no GPU is "
                           "visible; use auto or cpu")
    device = torch.device(wanted)
    if settings["deterministic"]:
        # cuBLAS needs this before its first call to be reproducible.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = device.type == "cuda"
    return Runtime(device=device, bf16=settings["bf16"],
                   channels_last=settings["channels_last"] and device.type == "cuda",
                   compile=settings["compile"])


def stage_config(config, stage, variant):
    """The config values a stage's output depends on (hashed into its fingerprint).

    Each stage includes the values of the stages it builds on, so a changed pre-training config
    also invalidates the linear head trained on it.
    """
    cifar = config["cifar"]
    task, _ = VARIANTS[variant]
    section = {"base_seed": config["base_seed"], "variant": variant,
               "data": {key: cifar["data"][key] for key in ("archive_md5", "validation_size")},
               "model": cifar["model"], "pretrain": cifar[task], "train_attack": cifar["train_attack"]}
    if stage in ("linear", "evaluate"):
        section["linear"] = cifar["linear"]
    if stage == "evaluate":
        section["evaluation"] = cifar["evaluation"]
    return section


def fingerprint(config, stage, variant):
    return fileio.fingerprint(stage_config(config, stage, variant))


def save_checkpoint(path, state_dict, config, stage, variant, **extra):
    fileio.save_torch(path, {"fingerprint": fingerprint(config, stage, variant), "stage": stage,
                             "variant": variant, "state": state_dict, **extra})


def load_checkpoint(path, config, stage, variant):
    """A checkpoint's contents (weights_only load), refused if another config made it."""
    checkpoint = fileio.load_torch(path)
    expected = fingerprint(config, stage, variant)
    if checkpoint.get("fingerprint") != expected:
        raise CheckpointMismatch(
            f"{path} was made with another config (fingerprint {checkpoint.get('fingerprint')}, "
            f"this config gives {expected}); delete it and rerun the {stage} rule")
    return checkpoint


class Stopwatch:
    """Wall time of a stage (including earlier runs it resumed from), with the device used."""

    def __init__(self, runtime):
        self.runtime, self.start, self.earlier_seconds = runtime, time.perf_counter(), 0.0

    def seconds(self):
        return self.earlier_seconds + time.perf_counter() - self.start

    def summary(self):
        self.runtime.synchronize()
        seconds = self.seconds()
        on_gpu = self.runtime.device.type == "cuda"
        return {"wall_seconds": seconds, "gpu_seconds": seconds if on_gpu else 0.0,
                "device": self.runtime.describe()}
