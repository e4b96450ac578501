"""Clean linear heads on a frozen encoder (RobustSSL's SLF), one per downstream task.

SLF as in RobustSSL_Benchmark (finetuning_eval.py / utils.py): the encoder frozen with BatchNorm
in eval mode (for ACL's dual-BN encoders, the adversarial branch), the head zero initialised, SGD
with momentum 0.9 and weight decay 2e-4, learning rate 0.01 decayed by 10 at epochs 10 and 20 of
25, batch 512, random crop and flip of the clean images, and the last epoch kept (no selection).
Every downstream task (``downstream``: task -> label of each class) gets its head in the same
pass over the data: one encoder forward feeds all heads, each head's loss its own gradient.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from advpretrain.core import fileio
from advpretrain.core.canonical import fingerprint
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.images.augment import crop_flip
from advpretrain.images.data import load_split
from advpretrain.images.datasets import spec
from advpretrain.images.losses import cross_entropy
from advpretrain.images.models import build_encoder, single_branch_state
from advpretrain.images.optim import (
    FiniteGuard,
    Totals,
    batches,
    fit,
    make_optimizer,
    require_batches,
)
from advpretrain.images.runtime import Stopwatch, configure, load_checkpoint, save_checkpoint


def load_encoder(path: str, expected_fingerprint: str, runtime) -> nn.Module:
    """A pre-trained encoder (the branch its checkpoint names), frozen and in eval mode."""
    checkpoint = load_checkpoint(path, expected_fingerprint)
    state = checkpoint["state"]
    if checkpoint["dual_bn"]:
        state = single_branch_state(state, checkpoint["branch"])
    encoder = build_encoder(checkpoint["model"], checkpoint["dataset"])
    encoder.load_state_dict(state)
    return freeze(runtime.place(encoder))


def freeze(module: nn.Module) -> nn.Module:
    module.eval()
    module.requires_grad_(False)
    return module


def label_maps(downstream, device):
    """{task: tensor mapping each class to the task's label}."""
    return {task: torch.tensor(list(downstream[task]), device=device) for task in downstream}


def fit_heads(settings, encoder, data_path, runtime, seed, resume_path, label, stopwatch):
    """Train the heads of every downstream task; returns ({task: head}, {task: label map}, rows).

    ``settings``: the ``linear``, ``downstream``, ``eval_batch`` (and ``augment``) settings."""
    stage = settings["linear"]
    train_x, train_y = load_split(data_path, "train", runtime.device)
    val_x, val_y = load_split(data_path, "val", runtime.device)
    require_batches(len(train_x), stage["batch"], "images.<dataset>.linear.batch")
    maps = label_maps(settings["downstream"], runtime.device)
    heads = nn.ModuleDict({task: nn.Linear(encoder.feature_dim, int(labels.max()) + 1)
                           for task, labels in maps.items()})
    for head in heads.values():  # zero initialised, as RobustSSL's SLF
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    heads = runtime.place(heads)
    features = runtime.compiled(encoder)
    generator = torch_generator(seed, runtime.device)
    steps_per_epoch = len(train_x) // stage["batch"]
    optimizer, scheduler = make_optimizer(heads.parameters(), stage["optimizer"],
                                          stage["schedule"], stage["epochs"], steps_per_epoch)
    augment = settings["augment"] if stage["augment"] else None
    guard = FiniteGuard(runtime.device)
    eval_batch = settings["eval_batch"]

    @torch.no_grad()
    def validation_accuracy():
        correct = {task: torch.zeros((), device=runtime.device) for task in heads}
        for start in range(0, len(val_x), eval_batch):
            with runtime.autocast():
                embedded = features(runtime.images(val_x[start:start + eval_batch])).float()
            target = val_y[start:start + eval_batch]
            for task, head in heads.items():
                correct[task] += (head(embedded).argmax(1) == maps[task][target]).sum()
        return {f"val_accuracy_{task}": float(value) / len(val_x)
                for task, value in correct.items()}

    def run_epoch(epoch):
        totals = {task: Totals(runtime.device) for task in heads}
        for index in batches(len(train_x), stage["batch"], generator, runtime.device):
            images, labels = runtime.images(train_x[index]), train_y[index]
            if augment is not None:
                images = runtime.layout(crop_flip(images, generator, augment))
            with torch.no_grad(), runtime.autocast():
                embedded = features(images).float()
            losses = {}
            for task, head in heads.items():
                logits = head(embedded)
                target = maps[task][labels]
                losses[task] = cross_entropy(logits, target)
                totals[task].add(losses[task], logits.argmax(1) == target)
            loss = torch.stack(list(losses.values())).sum(0)
            guard.add(loss, epoch)
            optimizer.zero_grad()
            loss.mean().backward()
            optimizer.step()
            scheduler.step()
        guard.end_epoch(epoch)
        metrics = {}
        for task, total in totals.items():
            means = total.means()
            metrics.update({f"loss_{task}": means["loss"], f"accuracy_{task}": means["accuracy"]})
        return {**metrics, **validation_accuracy(), "lr": scheduler.get_last_lr()[0],
                "images": steps_per_epoch * stage["batch"]}

    rows = fit(label, stage["epochs"], run_epoch,
               {"heads": heads, "optimizer": optimizer, "scheduler": scheduler},
               {"data": generator}, resume_path, fingerprint(settings), stopwatch)
    return heads, maps, rows


def heads_checkpoint(heads, maps):
    """What a heads file holds: each task's weights and label map (host tensors)."""
    return {task: {"weight": head.weight.detach().cpu(), "bias": head.bias.detach().cpu(),
                   "labels": maps[task].cpu()} for task, head in heads.items()}


def load_heads(path, expected_fingerprint, runtime):
    """{task: (frozen linear head on the device, label map)} of a heads checkpoint."""
    tasks = load_checkpoint(path, expected_fingerprint)["state"]
    loaded = {}
    for task, state in tasks.items():
        head = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
        head.load_state_dict({"weight": state["weight"], "bias": state["bias"]})
        loaded[task] = (freeze(runtime.place(head)), state["labels"].to(runtime.device))
    return loaded


def images_linear(settings: Mapping, inputs: Mapping, outputs: Mapping, options, resume) -> dict:
    """Clean linear heads for every downstream task on one pre-trained encoder."""
    dataset = settings["dataset"]
    runtime = configure(options, settings["bf16"], spec(dataset).levels)
    stopwatch = Stopwatch(runtime)
    # The same batches for every variant of seed i (paired comparisons).
    seed = derive_seed(settings["base_seed"], "images", dataset, "linear", settings["seed"])
    encoder = load_encoder(inputs["encoder"], settings["encoder"], runtime)
    heads, maps, rows = fit_heads(settings, encoder, inputs["data"], runtime, seed, resume.path,
                                  f"linear {dataset} {settings['variant']} seed {settings['seed']}",
                                  stopwatch)
    save_checkpoint(outputs["heads"], heads_checkpoint(heads, maps), settings)
    fileio.write_csv(outputs["log_csv"], pd.DataFrame(rows))
    Path(resume.path).unlink(missing_ok=True)
    return {"seeds": {"seed": seed}, "timing": stopwatch.summary()}
