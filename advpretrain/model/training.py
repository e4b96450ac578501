"""Batched training of many two-layer networks at once, clean or adversarial (FGM / PGD).

Each network (a row of the stacked parameters) has its own seed's data, attack norm and budget:
a clean network is one with budget 0. Clean and adversarial variants of the same seed see the
same minibatches, so their comparison is paired. The attack follows the networks' own gradient
(the paper's) or a surrogate's (``surrogates``), on the true forward pass.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from advpretrain.attack.pgd import input_gradients, perturb, pgd_step_size, steepest_step
from advpretrain.core.errors import NonFiniteLoss
from advpretrain.core.fileio import load_torch, save_torch
from advpretrain.core.progress import Progress
from advpretrain.model.optimizers import Adam
from advpretrain.model.surrogates import SurrogateNets

LOG2 = math.log(2.0)


@dataclass
class Adversary:
    """Per-network attack budgets used during training; zero budget means clean training."""

    eps_l2: torch.Tensor  # (N,)
    eps_linf: torch.Tensor  # (N,)
    steps: int = 1  # 1: FGM, >1: PGD with random start
    pairs: str = "all"  # contrastive: attack "all", "similar" or "dissimilar" pairs
    members: str = "both"  # contrastive: perturb "both" members or the "first" only
    # The attack's gradient: "own" (the paper's) or a surrogate's, e.g. "smooth_0.1": the gate's
    # own gradient cannot see its jump, so the paper's attack misses what crossing it does.
    surrogate: str = "own"

    def adversarial_inputs(self, loss_fn, nets, inputs, labels, generator):
        """Inputs moved by each network's own attack (loss_fn(nets, *inputs, labels): per-sample
        losses, ascended through the surrogate's gradient); unattacked samples stay where they
        are."""
        pair_mask = torch.ones_like(labels)
        if self.pairs == "similar":
            pair_mask = (labels > 0).to(labels.dtype)
        elif self.pairs == "dissimilar":
            pair_mask = (labels < 0).to(labels.dtype)
        budgets = {norm: eps[:, None, None] * pair_mask[..., None]
                   for norm, eps in (("l2", self.eps_l2), ("linf", self.eps_linf))
                   if bool((eps > 0).any())}
        if not budgets:
            return inputs
        view = SurrogateNets(nets, self.surrogate)
        bound = lambda *x: loss_fn(view, *x, labels)  # noqa: E731
        if self.steps == 1:
            # FGM: one input gradient serves both norms (a network has budget in one of them).
            grads = input_gradients(bound, inputs)
            deltas = [sum(budget * steepest_step(g, norm, 2) for norm, budget in budgets.items())
                      for g in grads]
        else:
            deltas = [torch.zeros_like(x) for x in inputs]
            for norm, budget in budgets.items():
                attacked = perturb(bound, inputs, budget, norm, steps=self.steps,
                                   step_size=pgd_step_size(budget, self.steps), random_start=True,
                                   sample_ndim=2, generator=generator)
                deltas = [delta + new - x for delta, new, x in zip(deltas, attacked, inputs)]
        if self.members == "first":
            deltas = [deltas[0], *(torch.zeros_like(d) for d in deltas[1:])]
        return tuple(x + delta for x, delta in zip(inputs, deltas))


def check_finite(step, losses, unit="networks"):
    """Stop at the first NaN or infinite loss, naming the step, the ``unit`` rows and the values."""
    bad = ~torch.isfinite(losses)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten().tolist()
        raise NonFiniteLoss(
            f"non-finite training loss at step {step} for {unit} {rows[:10]} "
            f"(values {losses[bad][:10].tolist()}); lower the learning rate or the attack budget")


def train_networks(nets, sample_batch, loss_fn, adversary, *, steps, lr, generator,
                   label="train", log_every=100, callback=None, resume_path=None,
                   resume_every=0, fingerprint="", trained=None, layer_trained=None):
    """Adam on the mean per-network loss (each network's gradient is its own).

    sample_batch(generator) -> (inputs tuple of (N, B, d) tensors, labels (N, B)).
    loss_fn(nets, *inputs, labels) -> per-sample losses (N, B).
    callback(step, nets) -> list of dict rows, called every ``log_every`` steps and at the end.
    resume_path: where resume state is kept (outside Snakemake's outputs) every ``resume_every``
    steps; a state written with another ``fingerprint`` is ignored.
    trained: optional (N,) 0/1 mask; a network with 0 gets a zero gradient, so Adam leaves it
    exactly at its initialisation (the untrained control), while it is logged like the others.
    layer_trained: optional (N,) 0/1 mask; a network with 0 keeps its hidden layer W where it
    is (a zero gradient: the ideal control's purified layer) while its head trains.
    With ``nets.unit_rows``, the hidden rows of the networks whose layer trains go back onto the
    unit sphere after every step (``TwoLayerNets.project_rows``).
    Returns the rows logged (per network loss every ``log_every`` steps, plus callback rows).
    """
    optimizer = Adam(nets.parameters(), lr=lr)
    start, rows = 0, []
    if resume_path is not None and Path(resume_path).exists():
        state = load_torch(resume_path)
        if state["fingerprint"] == fingerprint:
            nets.load_state_dict(state["nets"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            start, rows = state["step"], state["rows"]
            print(f"[{label}] resuming from step {start} ({resume_path})", flush=True)
        else:
            print(f"[{label}] ignoring resume state of another config: {resume_path}", flush=True)

    progress = Progress(label, steps, done_at_start=start, item_name="samples")
    bound = lambda *x: loss_fn(nets, *x)  # noqa: E731
    moving = _rows_moving(nets, trained, layer_trained)
    if start == 0:
        rows.extend(_log_rows(0, nets, callback))
    for step in range(start, steps):
        inputs, labels = sample_batch(generator)
        inputs = adversary.adversarial_inputs(loss_fn, nets, inputs, labels, generator)
        per_sample = bound(*inputs, labels)
        losses = per_sample.mean(dim=1)
        check_finite(step, losses)
        optimizer.zero_grad()
        (losses.sum() if trained is None else (losses * trained).sum()).backward()
        if layer_trained is not None:
            nets.weight.grad.mul_(layer_trained[:, None, None])
        optimizer.step()
        if moving is not None:
            nets.project_rows(moving)
        done = step + 1
        if done % log_every == 0 or done == steps:
            rows.append({"step": done, "kind": "train_loss", "values": losses.detach().tolist()})
            rows.extend(_log_rows(done, nets, callback))
            # Logistic loss: the margin Y f is positive exactly when the loss is below log 2, so
            # this is the accuracy on the (attacked, when adversarial) training batch.
            accuracy = float((per_sample.detach() < LOG2).float().mean())
            progress.report(done, items=(done - start) * per_sample.shape[-1],
                            loss_mean=float(losses.detach().mean()),
                            loss_max=float(losses.detach().max()), batch_acc=accuracy)
        if resume_path is not None and resume_every and done % resume_every == 0 and done < steps:
            save_torch(resume_path, {"fingerprint": fingerprint, "step": done,
                                     "nets": nets.state_dict(),
                                     "optimizer": optimizer.state_dict(),
                                     "generator": generator.get_state(), "rows": rows})
    if resume_path is not None and Path(resume_path).exists():
        Path(resume_path).unlink()  # finished: the caller now writes the real outputs
    return rows


def _rows_moving(nets, trained, layer_trained):
    """(N,) bool: the networks whose hidden rows ``unit_rows`` projects after each step, those
    whose layer trains (the untrained control and a frozen layer stay bit for bit); None without
    the option or where W is no parameter (a buffer: the heads' frozen layers)."""
    if not nets.unit_rows or not nets.weight.requires_grad:
        return None
    moving = torch.ones(len(nets.weight), dtype=torch.bool, device=nets.weight.device)
    for mask in (trained, layer_trained):
        if mask is not None:
            moving &= mask.to(moving.device) > 0
    return moving


def _log_rows(step, nets, callback):
    if callback is None:
        return []
    with torch.no_grad():
        return [{"step": step, **row} for row in callback(step, nets)]
