"""Device set-up shared by the image stages, and checkpoints that remember their settings.

Device and speed options (device, channels_last, torch.compile, determinism, the CPU limit) come
from the ``images.<dataset>.runtime`` config section as the rules' ``options`` param: they do not
change what a checkpoint means, so they are neither settings (rerun triggers) nor part of a
fingerprint. bf16 autocast in training is a setting.
"""

import os
import time
from dataclasses import dataclass

import torch

from advpretrain.core import fileio
from advpretrain.core.canonical import fingerprint
from advpretrain.core.errors import StaleModel, UserError


@dataclass
class Runtime:
    device: torch.device
    bf16: bool
    channels_last: bool
    compile: bool
    levels: int = 255  # grey levels of the data set: pixel = stored count / levels

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
        """Stored counts (uint8) -> pixels in [0, 1], in the memory format of the convolutions."""
        return self.layout(uint8_batch.float().div_(self.levels))

    def layout(self, images):
        """channels_last when asked (augmentations such as grid_sample return contiguous)."""
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self):
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return f"cpu ({torch.get_num_threads()} threads)"


def configure(options, bf16: bool = False, levels: int = 255) -> Runtime:
    """The device and speed ``options`` (``images.<dataset>.runtime``: device, channels_last,
    compile, deterministic; never rerun triggers), with determinism applied if asked. ``bf16``
    (autocast in training) is a setting: it changes the numbers. ``levels``: the data set's grey
    levels."""
    wanted = options.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise UserError("config key images.<dataset>.runtime.device: cuda was requested but no "
                        "GPU is visible; use auto or cpu")
    device = torch.device(wanted)
    if options.deterministic:
        # cuBLAS needs this before its first call to be reproducible.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if options.compile:
            torch.use_deterministic_algorithms(True)  # also sets Inductor's deterministic mode
        else:
            # The same switch without importing torch._inductor (1-2 s of every image job's
            # start-up) to set a flag that only torch.compile reads.
            torch._C._set_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = device.type == "cuda"
    return Runtime(device=device, bf16=bf16,
                   channels_last=options.channels_last and device.type == "cuda",
                   compile=options.compile, levels=levels)


def save_checkpoint(path, state_dict, settings, **extra) -> None:
    """A checkpoint that carries the fingerprint of the settings that made it."""
    fileio.save_torch(path, {"fingerprint": fingerprint(settings), "state": state_dict, **extra})


def load_checkpoint(path, expected_fingerprint: str) -> dict:
    """A checkpoint's contents (weights_only load), refused if other settings made it."""
    checkpoint = fileio.load_torch(path)
    if checkpoint.get("fingerprint") != expected_fingerprint:
        raise StaleModel(
            f"{path} was made with other settings (fingerprint {checkpoint.get('fingerprint')}, "
            f"expected {expected_fingerprint}); delete it and rerun the rule that makes it")
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
