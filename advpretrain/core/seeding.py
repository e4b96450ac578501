"""Stable seeds: derived from the config's base seed and the job's wildcards by SHA-256.

Python's ``hash()`` is salted per process, so it must never feed a seed.
"""

import hashlib

import numpy as np


def derive_seed(base_seed: int, *parts) -> int:
    """A 63-bit seed that depends only on ``base_seed`` and the string forms of ``parts``."""
    text = "/".join([str(int(base_seed)), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def numpy_rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def torch_generator(seed: int, device="cpu"):
    """A torch.Generator seeded with ``seed`` (torch imported here: the Snakefile imports this
    module for its seeds and must not pay for torch)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
