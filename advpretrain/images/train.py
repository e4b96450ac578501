"""Pre-training (four variants) and the downstream clean linear head, with per-epoch resume.

Every output is written once, atomically, after the last epoch; until then only the resume state
under results/resume/ changes, so a killed or failed job leaves no partial output behind.
"""

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from .. import fileio
from ..canonical import fingerprint
from ..evaluation.attacks import perturb
from ..progress import Progress
from ..seeding import derive_seed, torch_generator
from ..training import check_finite
from .augment import crop_flip, simclr_view
from .data import load_split
from .losses import contrastive_logits, cross_entropy, nt_xent
from .models import Classifier, ContrastiveModel, ResNet18Encoder
from .runtime import Stopwatch, configure, load_checkpoint, save_checkpoint


def linf_pgd(loss_fn, inputs, attack, generator, steps=None):
    """PGD l_inf with random start in pixel space; budgets are in units of 1/255."""
    return perturb(loss_fn, inputs, attack["eps_255"] / 255, "linf",
                   steps=attack["steps"] if steps is None else steps,
                   step_size=attack["step_255"] / 255, random_start=True, bounds=(0.0, 1.0),
                   sample_ndim=1, generator=generator)


def _schedule(stage, total_steps):
    """Per-step learning-rate factor: step decays at fractions of training, or cosine."""
    if stage["schedule"] == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps))
    boundaries = [fraction * total_steps for fraction in stage["milestones"]]
    return lambda step: stage["gamma"] ** sum(step >= b for b in boundaries)


def _sgd(parameters, stage, total_steps):
    optimizer = torch.optim.SGD(parameters, lr=stage["lr"], momentum=stage["momentum"],
                                weight_decay=stage["weight_decay"], nesterov=stage["momentum"] > 0)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(stage, total_steps))


def _batches(n, batch, generator, device):
    """Shuffled index batches of one epoch, the last incomplete one dropped (BatchNorm)."""
    order = torch.randperm(n, generator=generator, device=device)
    return order[: n // batch * batch].view(-1, batch)


def _descend(loss, optimizer, scheduler, where):
    """One optimiser step on the mean of per-sample losses, refusing non-finite values."""
    check_finite(where, loss.detach(), unit="samples")
    optimizer.zero_grad(set_to_none=True)
    loss.mean().backward()
    optimizer.step()
    scheduler.step()


class _Totals:
    """Epoch sums of the loss and of correct predictions, kept on the device (no per-step sync)."""

    def __init__(self, device):
        self.sums = torch.zeros(4, device=device)  # loss sum, loss count, correct, predictions

    def add(self, loss, correct):
        self.sums += torch.stack([loss.detach().sum(), loss.new_tensor(float(len(loss))),
                                  correct.sum(), loss.new_tensor(float(len(correct)))])

    def means(self):
        loss_sum, loss_count, correct, count = self.sums.tolist()
        return {"loss": loss_sum / loss_count, "accuracy": correct / count}


class _Best:
    """The best epoch so far on the validation split (its head weights), kept in resume state."""

    def __init__(self):
        self.epoch, self.accuracy, self.weights = 0, -1.0, None

    def update(self, epoch, accuracy, module):
        if accuracy > self.accuracy:
            self.epoch, self.accuracy = epoch, accuracy
            self.weights = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}

    def state_dict(self):
        return {"epoch": self.epoch, "accuracy": self.accuracy, "weights": self.weights}

    def load_state_dict(self, state):
        self.epoch, self.accuracy = state["epoch"], state["accuracy"]
        self.weights = state["weights"]


def _fit(label, epochs, run_epoch, stateful, generator, resume_path, fingerprint_value, stopwatch):
    """Run ``run_epoch(epoch) -> metrics`` for each epoch, one progress line per epoch.

    ``stateful``: objects with state_dict / load_state_dict saved in the resume state after every
    epoch (with the generator, so a resumed run draws the same batches as an uninterrupted one).
    A resume state of another config is ignored; it is deleted once training has finished.
    """
    rows, start = [], 0
    resume_path = Path(resume_path)
    if resume_path.exists():
        state = fileio.load_torch(resume_path)
        if state["fingerprint"] == fingerprint_value:
            for name, obj in stateful.items():
                obj.load_state_dict(state[name])
            generator.set_state(state["generator"])
            rows, start = state["rows"], state["epoch"]
            stopwatch.earlier_seconds = state["seconds"]
            print(f"[{label}] resuming after epoch {start} ({resume_path})", flush=True)
        else:
            print(f"[{label}] ignoring resume state of another config: {resume_path}", flush=True)
    progress = Progress(label, epochs, unit="epochs", done_at_start=start,
                        item_name="images")
    images = 0
    for epoch in range(start + 1, epochs + 1):
        metrics = run_epoch(epoch)
        images += metrics.pop("images")
        rows.append({"epoch": epoch, **metrics})
        progress.report(epoch, items=images, **metrics)
        if epoch < epochs:
            fileio.save_torch(resume_path, {
                "fingerprint": fingerprint_value, "epoch": epoch, "rows": rows,
                "generator": generator.get_state(), "seconds": stopwatch.seconds(),
                **{name: obj.state_dict() for name, obj in stateful.items()}})
    return rows


def pretrain(settings: Mapping, inputs: Mapping, outputs: Mapping, options, resume) -> dict:
    """Pre-train one variant's encoder: the encoder checkpoint and the epoch log."""
    task, adversarial, stage = settings["task"], settings["adversarial"], settings["recipe"]
    runtime = configure(options, settings["bf16"])
    stopwatch = Stopwatch(runtime)
    seed = derive_seed(settings["base_seed"], "cifar", "pretrain", settings["variant"])
    torch.manual_seed(seed)  # weight initialisation
    generator = torch_generator(seed, runtime.device)
    train_x, train_y = load_split(inputs["data"], "train", runtime.device)
    _require_batches(len(train_x), stage["batch"], f"cifar.{task}.batch")

    width = settings["width"]
    encoder = ResNet18Encoder(width)
    model = runtime.place(Classifier(encoder) if task == "supervised"
                          else ContrastiveModel(encoder, stage["projection_dim"]))
    forward = runtime.compiled(model)
    steps_per_epoch = len(train_x) // stage["batch"]
    optimizer, scheduler = _sgd(model.parameters(), stage, stage["epochs"] * steps_per_epoch)
    attack = settings["train_attack"] if adversarial else None

    def supervised_loss(images, labels):
        with runtime.autocast():
            logits = forward(images)
        return cross_entropy(logits, labels), (logits.argmax(1) == labels).float()

    def contrastive_loss(first, second):
        with runtime.autocast():
            z = forward(torch.cat([first, second]))
        logits, partner = contrastive_logits(*z.chunk(2), stage["temperature"])
        return nt_xent(logits, partner), (logits.argmax(1) == partner).float()

    def attacked(loss_fn, inputs):
        # BatchNorm in eval mode while attacking: the attack's batches do not move its statistics.
        model.eval()
        moved = linf_pgd(lambda *x: loss_fn(*x)[0], inputs, attack, generator)
        model.train()
        return moved

    def run_epoch(epoch):
        model.train()
        totals = _Totals(runtime.device)
        for step, index in enumerate(_batches(len(train_x), stage["batch"], generator,
                                              runtime.device)):
            images, labels = runtime.images(train_x[index]), train_y[index]
            if task == "supervised":
                images = crop_flip(images, generator)
                if adversarial:
                    (images,) = attacked(lambda x, labels=labels: supervised_loss(x, labels),
                                         (images,))
                loss, correct = supervised_loss(images, labels)
            else:
                views = (simclr_view(images, generator), simclr_view(images, generator))
                loss, correct = contrastive_loss(*views)
                if adversarial:
                    # ACL-style: the clean pair's loss plus that of the pair attacked jointly.
                    adv_loss, adv_correct = contrastive_loss(*attacked(contrastive_loss, views))
                    loss, correct = (loss + adv_loss) / 2, torch.cat([correct, adv_correct])
            _descend(loss, optimizer, scheduler, f"{step + 1} of epoch {epoch}")
            totals.add(loss, correct)
        return {**totals.means(), "lr": scheduler.get_last_lr()[0],
                "images": steps_per_epoch * stage["batch"]}

    rows = _fit(f"pretrain {settings['variant']}", stage["epochs"], run_epoch,
                {"model": model, "optimizer": optimizer, "scheduler": scheduler}, generator,
                resume.path, fingerprint(settings), stopwatch)
    save_checkpoint(outputs["encoder"], encoder.state_dict(), settings, width=width)
    fileio.write_csv(outputs["log_csv"], pd.DataFrame(rows))
    Path(resume.path).unlink(missing_ok=True)
    return {"seeds": {"seed": seed}, "timing": stopwatch.summary()}


def _require_batches(n, batch, key):
    if n < batch:
        raise ValueError(f"config key {key}: batch {batch} exceeds the {n} training images")


def load_encoder(path: str, expected_fingerprint: str, runtime) -> ResNet18Encoder:
    """A pre-trained encoder, frozen and in eval mode."""
    checkpoint = load_checkpoint(path, expected_fingerprint)
    encoder = ResNet18Encoder(checkpoint["width"])
    encoder.load_state_dict(checkpoint["state"])
    encoder = runtime.place(encoder).eval()
    encoder.requires_grad_(False)
    return encoder


@torch.no_grad()
def clean_accuracy(model, images_uint8, labels, batch, runtime):
    correct = torch.zeros((), device=runtime.device)
    for start in range(0, len(images_uint8), batch):
        with runtime.autocast():
            logits = model(runtime.images(images_uint8[start:start + batch]))
        correct += (logits.argmax(1) == labels[start:start + batch]).sum()
    return float(correct) / len(images_uint8)


def train_linear(settings: Mapping, inputs: Mapping, outputs: Mapping, options, resume) -> dict:
    """Clean linear head on the frozen encoder; the best epoch on the validation split is kept."""
    stage = settings["linear"]
    runtime = configure(options, settings["bf16"])
    stopwatch = Stopwatch(runtime)
    seed = derive_seed(settings["base_seed"], "cifar", "linear", settings["variant"])
    torch.manual_seed(seed)
    generator = torch_generator(seed, runtime.device)
    train_x, train_y = load_split(inputs["data"], "train", runtime.device)
    val_x, val_y = load_split(inputs["data"], "val", runtime.device)
    _require_batches(len(train_x), stage["batch"], "cifar.linear.batch")

    encoder = load_encoder(inputs["encoder"], settings["encoder"], runtime)
    features = runtime.compiled(encoder)
    probe = Classifier(encoder)
    head = runtime.place(probe.head)
    steps_per_epoch = len(train_x) // stage["batch"]
    optimizer, scheduler = _sgd(head.parameters(), stage, stage["epochs"] * steps_per_epoch)
    best = _Best()

    def run_epoch(epoch):
        totals = _Totals(runtime.device)
        for step, index in enumerate(_batches(len(train_x), stage["batch"], generator,
                                              runtime.device)):
            images, labels = runtime.images(train_x[index]), train_y[index]
            if stage["augment"]:
                images = crop_flip(images, generator)
            with torch.no_grad(), runtime.autocast():
                embedded = features(images)
            logits = head(embedded.float())
            loss = cross_entropy(logits, labels)
            _descend(loss, optimizer, scheduler, f"{step + 1} of epoch {epoch}")
            totals.add(loss, (logits.argmax(1) == labels).float())
        val_accuracy = clean_accuracy(probe, val_x, val_y, settings["eval_batch"], runtime)
        best.update(epoch, val_accuracy, head)
        return {**totals.means(), "val_accuracy": val_accuracy, "lr": scheduler.get_last_lr()[0],
                "images": steps_per_epoch * stage["batch"]}

    rows = _fit(f"linear {settings['variant']}", stage["epochs"], run_epoch,
                {"head": head, "optimizer": optimizer, "scheduler": scheduler, "best": best},
                generator, resume.path, fingerprint(settings), stopwatch)
    save_checkpoint(outputs["head"], best.weights, settings, best_epoch=best.epoch)
    fileio.write_csv(outputs["log_csv"], pd.DataFrame(rows))
    Path(resume.path).unlink(missing_ok=True)
    return {"seeds": {"seed": seed}, "timing": stopwatch.summary(), "best_epoch": best.epoch,
            "best_val_accuracy": best.accuracy}
