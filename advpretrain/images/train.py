"""Pre-training of the four variants, with model selection on the validation split.

* supervised_clean / supervised_adversarial: cross-entropy on shifted and flipped images; the
  adversarial variant trains on PGD examples (Madry et al., recipe of Rice et al.). Every
  ``selection.every`` epochs and at the last, the validation split is scored (clean accuracy, and
  PGD accuracy for the adversarial variant) and the best epoch's encoder is kept: robust
  overfitting (Rice et al.) costs the last epoch of PGD-AT several points.
* contrastive_clean: SimCLR (NT-Xent of two views, ACL's projection head); the last epoch is kept.
* contrastive_adversarial: ACL(DS) (Jiang et al. 2020): dual BatchNorm; PGD on the NT-Xent of both
  views through the adversarial branch with the model in eval mode; the loss is the mean of the
  clean pair's NT-Xent (clean branch) and the attacked pair's (adversarial branch). The
  downstream stages use the adversarial branch, as RobustSSL's SLF does.

Seeds: the initial weights and the data order and augmentations of seed i are shared by the clean
and the adversarial variant of a task (paired comparisons); the attacks draw from their own
generator. Attack steps run with the parameters frozen (no weight gradients) and BatchNorm in eval
mode; nothing is read back to the host per step (non-finite losses are checked every 50 steps and
at each epoch's end).
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from advpretrain.attack.pgd import frozen, linf_pgd
from advpretrain.core import fileio
from advpretrain.core.canonical import fingerprint
from advpretrain.core.errors import UserError
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.images.augment import crop_flip, simclr_view
from advpretrain.images.cost import cpu_refusal, pretrain_flops
from advpretrain.images.data import load_split
from advpretrain.images.datasets import pixel_budget, spec
from advpretrain.images.losses import contrastive_logits, cross_entropy, nt_xent
from advpretrain.images.models import Classifier, ContrastiveModel, build_encoder, set_branch
from advpretrain.images.optim import (
    FiniteGuard,
    Totals,
    batches,
    fit,
    make_optimizer,
    require_batches,
)
from advpretrain.images.runtime import Stopwatch, configure, save_checkpoint


class Selection:
    """The best epoch so far by a validation score (its encoder weights, kept on the host), and
    the scores of every scored epoch. Ties keep the earlier epoch."""

    def __init__(self, criterion):
        self.criterion = criterion
        self.epoch, self.score, self.weights, self.history = 0, -1.0, None, []

    def update(self, epoch, scores, module=None):
        self.history.append({"epoch": epoch, **scores})
        if scores[self.criterion] > self.score:
            self.epoch, self.score = epoch, scores[self.criterion]
            if module is not None:
                self.weights = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}

    def summary(self):
        best = next(row for row in self.history if row["epoch"] == self.epoch)
        return {"criterion": self.criterion, "selected_epoch": self.epoch, "best": best,
                "last": self.history[-1]}

    def state_dict(self):
        return {"epoch": self.epoch, "score": self.score, "weights": self.weights,
                "history": self.history}

    def load_state_dict(self, state):
        self.epoch, self.score = state["epoch"], state["score"]
        self.weights, self.history = state["weights"], state["history"]


def job_seeds(settings):
    """Seeds of one pre-training job: init and data shared by the clean and adversarial variant
    of a task (same seed index), attacks per variant."""
    base, dataset, task, index = (settings["base_seed"], settings["dataset"], settings["task"],
                                  settings["seed"])
    return {"init": derive_seed(base, "images", dataset, task, "init", index),
            "data": derive_seed(base, "images", dataset, task, "data", index),
            "attack": derive_seed(base, "images", dataset, settings["variant"], "attack", index),
            "selection": derive_seed(base, "images", dataset, "selection")}


def refuse_on_cpu(settings, sizes, max_hours):
    """Stop (one line, no traceback) before work the cost model puts above ``max_hours`` of CPU
    time: paper-scale training belongs on a GPU."""
    refusal = cpu_refusal(settings, sizes, max_hours)
    if refusal:
        raise UserError(refusal)


@torch.no_grad()
def accuracy(model, images_uint8, labels, batch, runtime):
    correct = torch.zeros((), device=runtime.device)
    for start in range(0, len(images_uint8), batch):
        with runtime.autocast():
            logits = model(runtime.images(images_uint8[start:start + batch]))
        correct += (logits.argmax(1) == labels[start:start + batch]).sum()
    return float(correct) / len(images_uint8)


def robust_accuracy(model, images_uint8, labels, attack, batch, generator, runtime):
    """PGD accuracy, the model frozen in eval mode (the caller sets the mode)."""
    eps, step = pixel_budget(attack, runtime.levels)
    correct = torch.zeros((), device=runtime.device)
    with frozen(model):
        for start in range(0, len(images_uint8), batch):
            target = labels[start:start + batch]

            def loss(x, target=target):
                with runtime.autocast():
                    return cross_entropy(model(x), target)
            (moved,) = linf_pgd(loss, (runtime.images(images_uint8[start:start + batch]),), eps,
                                step, attack["steps"], generator)
            with torch.no_grad(), runtime.autocast():
                correct += (model(moved).argmax(1) == target).sum()
    return float(correct) / len(images_uint8)


def images_pretrain(settings: Mapping, inputs: Mapping, outputs: Mapping, options, resume) -> dict:
    """Pre-train one variant's encoder for one seed: the encoder checkpoint and the epoch log."""
    dataset, variant, task = settings["dataset"], settings["variant"], settings["task"]
    adversarial, recipe, facts = settings["adversarial"], settings["recipe"], spec(dataset)
    runtime = configure(options, settings["bf16"], facts.levels)
    stopwatch = Stopwatch(runtime)
    train_x, train_y = load_split(inputs["data"], "train", runtime.device)
    val_x, val_y = load_split(inputs["data"], "val", runtime.device)
    sizes = {"train": len(train_x), "val": len(val_x)}
    if runtime.device.type == "cpu":
        refuse_on_cpu(settings, sizes, options.cpu_max_hours)
    print(f"cost model: {pretrain_flops(settings, sizes):.3g} FLOP", flush=True)
    require_batches(len(train_x), recipe["batch"], f"images.{dataset}.{task}.batch")

    seeds = job_seeds(settings)
    torch.manual_seed(seeds["init"])  # weight initialisation
    dual = bool(settings.get("dual_bn", False))
    encoder = build_encoder(settings["model"], dataset, dual_bn=dual)
    model = (Classifier(encoder, facts.classes) if task == "supervised"
             else ContrastiveModel(encoder, recipe["projection_dim"], dual_bn=dual))
    model = runtime.place(model)
    forward = runtime.compiled(model)
    data_gen = torch_generator(seeds["data"], runtime.device)
    attack_gen = torch_generator(seeds["attack"], runtime.device)
    steps_per_epoch = len(train_x) // recipe["batch"]
    epochs = recipe["epochs"]
    optimizer, scheduler = make_optimizer(model.parameters(), recipe["optimizer"],
                                          recipe["schedule"], epochs, steps_per_epoch)
    augment = settings["augment"]
    guard = FiniteGuard(runtime.device)
    if adversarial:
        eps, step_size = pixel_budget(settings["attack"], facts.levels)
        attack_steps = settings["attack"]["steps"]

    def supervised_loss(images, labels):
        with runtime.autocast():
            logits = forward(images)
        return cross_entropy(logits, labels), (logits.argmax(1) == labels)

    def contrastive_loss(first, second):
        with runtime.autocast():
            z = forward(torch.cat([first, second]))
        logits, partner = contrastive_logits(*z.chunk(2), recipe["temperature"])
        return nt_xent(logits, partner), (logits.argmax(1) == partner)

    def attacked(loss_fn, inputs):
        # Eval mode (BatchNorm statistics untouched by the attack) and frozen parameters.
        model.eval()
        with frozen(model):
            moved = linf_pgd(lambda *x: loss_fn(*x)[0], inputs, eps, step_size, attack_steps,
                             attack_gen)
        model.train()
        return moved

    def step(images, labels):
        if task == "supervised":
            images = runtime.layout(crop_flip(images, data_gen, augment))
            if adversarial:
                (images,) = attacked(lambda x: supervised_loss(x, labels), (images,))
            return supervised_loss(images, labels)
        views = tuple(runtime.layout(simclr_view(images, data_gen, augment)) for _ in range(2))
        if not adversarial:
            return contrastive_loss(*views)
        set_branch(model, "adversarial")
        moved = attacked(contrastive_loss, views)
        adv_loss, adv_correct = contrastive_loss(*moved)
        set_branch(model, "clean")
        loss, correct = contrastive_loss(*views)
        return (loss + adv_loss) / 2, torch.cat([correct, adv_correct])

    selection = None
    if task == "supervised":
        selection = Selection("val_pgd_accuracy" if adversarial else "val_accuracy")
        select = settings["selection"]

    def validate():
        model.eval()
        scores = {"val_accuracy": accuracy(model, val_x, val_y, recipe["batch"], runtime)}
        if adversarial:
            generator = torch_generator(seeds["selection"], runtime.device)  # same starts
            scores["val_pgd_accuracy"] = robust_accuracy(model, val_x, val_y, select["attack"],
                                                         recipe["batch"], generator, runtime)
        model.train()
        return scores

    def run_epoch(epoch):
        model.train()
        totals = Totals(runtime.device)
        for index in batches(len(train_x), recipe["batch"], data_gen, runtime.device):
            loss, correct = step(runtime.images(train_x[index]), train_y[index])
            guard.add(loss, epoch)
            optimizer.zero_grad()
            loss.mean().backward()
            optimizer.step()
            scheduler.step()
            totals.add(loss, correct)
        guard.end_epoch(epoch)
        metrics = {**totals.means(), "lr": scheduler.get_last_lr()[0]}
        if selection is not None and (epoch % select["every"] == 0 or epoch == epochs):
            scores = validate()
            selection.update(epoch, scores, encoder)
            metrics.update(scores)
        return {**metrics, "images": steps_per_epoch * recipe["batch"]}

    stateful = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    if selection is not None:
        stateful["selection"] = selection
    rows = fit(f"pretrain {dataset} {variant} seed {settings['seed']}", epochs, run_epoch,
               stateful, {"data": data_gen, "attack": attack_gen}, resume.path,
               fingerprint(settings), stopwatch)
    extra = {"seeds": seeds, "timing": stopwatch.summary()}
    weights = {key: value.detach().cpu() for key, value in encoder.state_dict().items()}
    chosen = epochs
    if selection is not None:
        weights, chosen = selection.weights, selection.epoch
        extra["selection"] = selection.summary()
        print(f"kept epoch {chosen} of {epochs} (best {selection.criterion} "
              f"{selection.score:.4f})", flush=True)
    save_checkpoint(outputs["encoder"], weights, settings, model=dict(settings["model"]),
                    dataset=dataset, dual_bn=dual, branch="adversarial" if dual else "clean",
                    epoch=chosen)
    fileio.write_csv(outputs["log_csv"], pd.DataFrame(rows))
    Path(resume.path).unlink(missing_ok=True)
    return extra
