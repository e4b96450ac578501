"""A user-given encoder checkpoint through the same clean linear heads (SLF), PGD and AutoAttack:
a check of the pipeline against published checkpoints (RobustSSL leaderboard, RobustBench).

Checkpoints are loaded with ``weights_only=True`` (tensors and plain containers only) and mapped
by name onto our CIFAR ResNet-18 encoder:

* our own encoder checkpoints (results/images/.../encoder.pt);
* CIFAR ResNet-18 state dicts in the common layout (kuang liu's pytorch-cifar, the model that
  ``pyautoattack`` ships as examples/model_test.pt: ``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
  ``shortcut.0``/``shortcut.1``, ``linear``);
* torchvision-style names (``downsample.0``/``downsample.1``, ``fc``), as RobustSSL's converted
  checkpoints;
* ACL / RobustSSL dual-BatchNorm checkpoints: ``bn1.bn_list.0`` (clean) and ``bn1.bn_list.1``
  (adversarial, "pgd"), ``downsample.conv`` / ``downsample.bn``, or the older ``bn1_adv`` names;
  ``external.branch`` picks the branch (RobustSSL's SLF: the adversarial one, bnNameCnt=1).

A ``normalize.mean`` / ``normalize.std`` pair in the checkpoint (ACL) is used as the input
normalisation; without one the encoder sees pixels in [0, 1] unnormalised, as those models were
trained. Classifier and projection heads in the checkpoint are dropped (SLF trains new heads).
Wrappers (``state_dict``, ``model``, ``net``) and prefixes (``module.``, ``encoder.``, ...) are
removed first.
"""

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from advpretrain.core import fileio
from advpretrain.core.errors import InputDataError
from advpretrain.core.seeding import derive_seed
from advpretrain.images.datasets import spec
from advpretrain.images.evaluate import evaluate_encoder, write_evaluation
from advpretrain.images.linear import fit_heads, freeze, heads_checkpoint
from advpretrain.images.models import ResNet18Encoder, build_encoder, single_branch_state
from advpretrain.images.runtime import Stopwatch, configure, save_checkpoint

WRAPPERS = ("state_dict", "model", "net", "encoder")
PREFIXES = ("module.", "model.", "encoder.", "backbone.")
BRANCH_INDEX = {"clean": 0, "adversarial": 1}  # ACL: bn_names = ['normal', 'pgd']


class CheckpointError(InputDataError):
    """A checkpoint that cannot be mapped onto the encoder."""


def _unwrap(checkpoint):
    while isinstance(checkpoint, Mapping):
        inner = next((checkpoint[k] for k in WRAPPERS if isinstance(checkpoint.get(k), Mapping)),
                     None)
        if inner is None or any(torch.is_tensor(v) for v in checkpoint.values()):
            break
        checkpoint = inner
    state = {}
    for key, value in checkpoint.items():
        if not torch.is_tensor(value):
            continue
        for prefix in PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        state[key] = value
    return state


def _block(match):
    layer, block = int(match.group(1)), int(match.group(2))
    return f"layers.{2 * (layer - 1) + block}."


def _adversarial_twin(key):
    module, _, param = key.rpartition(".")
    return f"{module}_adv.{param}"


def map_resnet18(state, branch):
    """Our ResNet18Encoder's state dict from a ResNet-18 checkpoint, and what was found."""
    index = BRANCH_INDEX[branch]
    dual = any(".bn_list." in key or "_adv." in key for key in state)
    mapped, dropped = {}, []
    for key, value in state.items():
        if key.startswith(("fc.", "linear.", "head.", "projector.")):
            dropped.append(key)
            continue
        if key.startswith("normalize."):
            mapped[key.replace("normalize.", "normalise.")] = value.reshape(1, -1, 1, 1)
            continue
        name = key
        found = re.search(r"\.bn_list\.(\d+)\.", name)
        if found:
            if int(found.group(1)) != index:
                continue
            name = name.replace(found.group(0), ".")
        elif "_adv." in name:  # older dual-BN names: bn1 (clean) and bn1_adv (adversarial)
            if branch != "adversarial":
                continue
            name = name.replace("_adv.", ".")
        elif branch == "adversarial" and _adversarial_twin(name) in state:
            continue
        name = re.sub(r"^layer(\d)\.(\d)\.", _block, name)
        name = name.replace("downsample.conv.", "shortcut.0.").replace("downsample.bn.",
                                                                       "shortcut.1.")
        name = name.replace("downsample.0.", "shortcut.0.").replace("downsample.1.", "shortcut.1.")
        name = re.sub(r"^conv1\.", "stem.0.", name)
        name = re.sub(r"^bn1\.", "stem.1.", name)
        mapped[name] = value
    return mapped, {"dual_bn": dual, "branch": branch if dual else "single BatchNorm",
                    "normalisation": "checkpoint" if "normalise.mean" in mapped else "none",
                    "dropped": sorted(dropped)}


def load_external(path, branch, dataset, runtime):
    """The frozen encoder of checkpoint ``path`` and a description of how it was read."""
    try:
        checkpoint = fileio.load_torch(path)
    except Exception as error:  # noqa: BLE001 (any unpickling failure is the user's file)
        raise CheckpointError(f"{path} cannot be loaded with weights_only=True ({error}); save a "
                              "state dict (torch.save(model.state_dict(), path))") from error
    if isinstance(checkpoint, Mapping) and {"fingerprint", "state", "model"} <= set(checkpoint):
        state = checkpoint["state"]
        if checkpoint["dual_bn"]:
            state = single_branch_state(state, branch)
        encoder = build_encoder(checkpoint["model"], checkpoint["dataset"])
        encoder.load_state_dict(state)
        return freeze(runtime.place(encoder)), {"format": "advpretrain encoder",
                                                "dual_bn": checkpoint["dual_bn"],
                                                "branch": branch}
    state = _unwrap(checkpoint)
    if "conv1.weight" not in state:
        raise CheckpointError(f"{path}: no conv1.weight among its {len(state)} tensors; only "
                              "CIFAR ResNet-18 checkpoints (and our own encoders) can be read")
    mapped, found = map_resnet18(state, branch)
    width, channels = state["conv1.weight"].shape[:2]
    facts = spec(dataset)
    encoder = ResNet18Encoder(int(width), int(channels), mean=(0.0,) * int(channels),
                              std=(1.0,) * int(channels))
    if channels != facts.channels:
        raise CheckpointError(f"{path}: the encoder takes {channels} channels, {dataset} has "
                              f"{facts.channels}")
    missing, unexpected = encoder.load_state_dict(mapped, strict=False)
    missing = [key for key in missing if not key.startswith("normalise.")]
    if missing or unexpected:
        raise CheckpointError(f"{path} does not map onto a CIFAR ResNet-18: missing "
                              f"{missing[:5]}, unexpected {unexpected[:5]}")
    return freeze(runtime.place(encoder)), {"format": "ResNet-18 state dict", "width": int(width),
                                            **found}


def images_external(settings: Mapping, inputs: Mapping, outputs: Mapping, options,
                      resume) -> dict:
    """SLF heads, PGD and AutoAttack on the encoder of a user-given checkpoint."""
    dataset, name = settings["dataset"], settings["name"]
    runtime = configure(options, settings["bf16"], spec(dataset).levels)
    stopwatch = Stopwatch(runtime)
    encoder, found = load_external(inputs["checkpoint"], settings["branch"], dataset, runtime)
    print(f"read {inputs['checkpoint']}: {found}", flush=True)
    seed = derive_seed(settings["base_seed"], "images", dataset, "linear", "external", name)
    heads, maps, rows = fit_heads(settings, encoder, inputs["data"], runtime, seed,
                                  resume.path, f"external {dataset} {name}",
                                  stopwatch)
    save_checkpoint(outputs["heads"], heads_checkpoint(heads, maps), settings)
    fileio.write_csv(outputs["log_csv"], pd.DataFrame(rows))
    Path(resume.path).unlink(missing_ok=True)
    heads = {task: (freeze(head), maps[task]) for task, head in heads.items()}
    rows, grid, units = evaluate_encoder(encoder, heads, inputs["data"], settings["evaluation"],
                                         settings["base_seed"], dataset, runtime)
    write_evaluation(outputs, rows, grid, units, {"dataset": dataset, "checkpoint": name})
    return {"seeds": {"linear": seed}, "checkpoint": found, "timing": stopwatch.summary()}
