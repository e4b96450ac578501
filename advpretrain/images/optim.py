"""Optimisers, learning-rate schedules and the epoch loop with resume, shared by pre-training and
the linear heads.

The epoch loop writes nothing but its resume state until the last epoch, so a killed or failed job
leaves no partial output behind; a resumed run draws the same batches and random starts as an
uninterrupted one (every generator is part of the resume state) and ends with the same bytes.
"""

import math
from pathlib import Path

import torch

from advpretrain.core import fileio
from advpretrain.core.errors import NonFiniteLoss
from advpretrain.core.progress import Progress
from advpretrain.model.optimizers import SGD, Optimizer


class LARS(Optimizer):
    """SGD with momentum and a layer-wise trust ratio (You et al. 2017), the rule of ACL's
    optimizer/lars.py: each tensor w moves by lr * r * (g + wd w) through the momentum buffer,
    with r = eta ||w|| / (||g|| + wd ||w||), and r = 1 where ||w|| or ||g|| is 0. It applies to
    every tensor (BatchNorm and biases too), as in ACL."""

    def __init__(self, params, lr, momentum, weight_decay, eta):
        super().__init__(params, lr)
        self.momentum, self.weight_decay, self.eta = momentum, weight_decay, eta

    @torch.no_grad()
    def step(self):
        decay, eta = self.weight_decay, self.eta
        for param, state in self.with_grad():
            grad = param.grad
            weight_norm, grad_norm = param.norm(), grad.norm()
            ratio = eta * weight_norm / (grad_norm + decay * weight_norm)
            ratio = torch.where((weight_norm < 1e-15) | (grad_norm < 1e-15),
                                torch.ones_like(ratio), ratio)
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(param)
            buffer = state["momentum_buffer"]
            buffer.mul_(self.momentum).add_((grad + decay * param) * (ratio * self.lr))
            param.sub_(buffer)


class LambdaSchedule:
    """torch's ``LambdaLR`` for one of these optimisers: after ``step()`` number t the learning
    rate is the initial one times ``factor(t)`` (t = 0 at construction)."""

    def __init__(self, optimizer, factor):
        self.optimizer, self.factor = optimizer, factor
        self.base_lr, self.last_epoch = optimizer.lr, 0
        optimizer.lr = self.base_lr * factor(0)

    def step(self):
        self.last_epoch += 1
        self.optimizer.lr = self.base_lr * self.factor(self.last_epoch)

    def get_last_lr(self):
        return [self.optimizer.lr]

    def state_dict(self):
        return {"base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, saved):
        """Our ``state_dict``, or torch's LambdaLR one (a resume state written before)."""
        base_lr = saved["base_lrs"][0] if "base_lrs" in saved else saved["base_lr"]
        self.base_lr, self.last_epoch = base_lr, saved["last_epoch"]


def schedule_factor(schedule, total_steps, steps_per_epoch):
    """Per-step learning-rate factor: linear warm-up over ``warmup_epochs``, then step decays at
    fractions of training or a cosine decay to 0."""
    warmup = schedule["warmup_epochs"] * steps_per_epoch
    if schedule["name"] == "cosine":
        def after(step):
            span = max(total_steps - warmup, 1)
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / span))
    else:
        boundaries = [fraction * total_steps for fraction in schedule["milestones"]]
        gamma = schedule["gamma"]

        def after(step):
            return gamma ** sum(step >= b for b in boundaries)

    def factor(step):
        return (step + 1) / warmup if step < warmup else after(step)
    return factor


def make_optimizer(parameters, optimizer, schedule, epochs, steps_per_epoch):
    """(optimizer, per-step scheduler) from an ``optimizer`` and a ``schedule`` setting."""
    parameters = list(parameters)
    if optimizer["name"] == "lars":
        opt = LARS(parameters, lr=optimizer["lr"], momentum=optimizer["momentum"],
                   weight_decay=optimizer["weight_decay"], eta=optimizer["eta"])
    else:
        opt = SGD(parameters, lr=optimizer["lr"], momentum=optimizer["momentum"],
                  weight_decay=optimizer["weight_decay"], nesterov=optimizer["nesterov"])
    factor = schedule_factor(schedule, epochs * steps_per_epoch, steps_per_epoch)
    return opt, LambdaSchedule(opt, factor)


def batches(n, batch, generator, device):
    """Shuffled index batches of one epoch, the last incomplete one dropped (BatchNorm)."""
    order = torch.randperm(n, generator=generator, device=device)
    return order[: n // batch * batch].view(-1, batch)


def require_batches(n, batch, key):
    if n < batch:
        raise ValueError(f"config key {key}: batch {batch} exceeds the {n} training images")


class FiniteGuard:
    """Watches training losses for NaN or infinity without a host sync per step: the first bad
    step and its count of bad samples are kept on the device and read every ``every`` steps and
    at the end of each epoch (``check``)."""

    def __init__(self, device, every=50):
        self.every = every
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.first = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_samples = torch.zeros((), dtype=torch.long, device=device)
        self.steps_seen = 0  # host count: when to check

    def add(self, losses, epoch):
        bad = ~torch.isfinite(losses.detach())
        self.step += 1
        new = bad.any() & (self.first < 0)
        self.first = torch.where(new, self.step, self.first)
        self.bad_samples = torch.where(new, bad.sum(), self.bad_samples)
        self.steps_seen += 1
        if self.steps_seen % self.every == 0:
            self.check(epoch)

    def check(self, epoch):
        """Raise if a loss of this epoch so far was not finite."""
        first = int(self.first)  # the one host sync, every `every` steps
        if first >= 0:
            raise NonFiniteLoss(f"non-finite training loss at step {first} of epoch {epoch} "
                                f"({int(self.bad_samples)} samples); lower the learning rate or "
                                "the attack budget")

    def end_epoch(self, epoch):
        """``check``, then steps count from 1 again: call it at the end of every epoch."""
        self.check(epoch)
        self.step.zero_()


class Totals:
    """Epoch sums of the loss and of correct predictions, kept on the device (no per-step sync);
    the counts are host integers."""

    def __init__(self, device):
        self.sums = torch.zeros(2, device=device)
        self.losses = self.predictions = 0

    def add(self, loss, correct):
        self.sums[0] += loss.detach().float().sum()
        self.sums[1] += correct.float().sum()
        self.losses += loss.numel()
        self.predictions += correct.numel()

    def means(self):
        loss_sum, correct = self.sums.tolist()
        return {"loss": loss_sum / self.losses, "accuracy": correct / self.predictions}


def fit(label, epochs, run_epoch, stateful, generators, resume_path, fingerprint_value,
        stopwatch):
    """Run ``run_epoch(epoch) -> metrics`` for each epoch, one progress line per epoch.

    ``stateful``: objects with state_dict / load_state_dict saved in the resume state after every
    epoch, with the ``generators`` ({name: torch.Generator}), so a resumed run draws the same
    batches as an uninterrupted one. A resume state of another config is ignored.
    """
    rows, start = [], 0
    resume_path = Path(resume_path)
    if resume_path.exists():
        state = fileio.load_torch(resume_path)
        if state["fingerprint"] == fingerprint_value:
            for name, obj in stateful.items():
                obj.load_state_dict(state[name])
            for name, generator in generators.items():
                generator.set_state(state["generators"][name])
            rows, start = state["rows"], state["epoch"]
            stopwatch.earlier_seconds = state["seconds"]
            print(f"[{label}] resuming after epoch {start} ({resume_path})", flush=True)
        else:
            print(f"[{label}] ignoring resume state of another config: {resume_path}", flush=True)
    progress = Progress(label, epochs, unit="epochs", done_at_start=start, item_name="images")
    images = 0
    for epoch in range(start + 1, epochs + 1):
        metrics = run_epoch(epoch)
        images += metrics.pop("images")
        rows.append({"epoch": epoch, **metrics})
        progress.report(epoch, items=images, **{k: v for k, v in metrics.items()
                                                if v == v})  # NaN: not measured this epoch
        if epoch < epochs:
            fileio.save_torch(resume_path, {
                "fingerprint": fingerprint_value, "epoch": epoch, "rows": rows,
                "generators": {name: g.get_state() for name, g in generators.items()},
                "seconds": stopwatch.seconds(),
                **{name: obj.state_dict() for name, obj in stateful.items()}})
    return rows
