"""Evaluation of a pre-trained encoder with its clean linear head, and the purification measure.

Accuracy: clean and PGD-20 l_inf on the full test set, AutoAttack (standard, torchattacks) on a
seeded random test subset. Attacks run in float32 (no autocast) so that reduced precision cannot
weaken them. Purification: for each penultimate unit, how many classes drive it.
"""

from collections.abc import Mapping

import pandas as pd
import torch
import torchattacks

from .. import fileio
from ..seeding import derive_seed, torch_generator
from .data import load_split
from .losses import cross_entropy
from .models import NUM_CLASSES, Classifier
from .runtime import Stopwatch, configure, load_checkpoint
from .train import clean_accuracy, linf_pgd, load_encoder

DEAD_ACTIVATION = 1e-6  # a unit whose class means all lie within this of each other is dead


def pgd_accuracy(model, images_uint8, labels, attack, batch, generator, runtime):
    correct = 0
    for start in range(0, len(images_uint8), batch):
        images = runtime.images(images_uint8[start:start + batch])
        target = labels[start:start + batch]
        (adversarial,) = linf_pgd(lambda x, target=target: cross_entropy(model(x), target),
                                  (images,), attack, generator)
        with torch.no_grad():
            correct += int((model(adversarial).argmax(1) == target).sum())
    return correct / len(images_uint8)


def autoattack_accuracy(model, images_uint8, labels, eps, batch, seed, runtime):
    attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard",
                                     n_classes=NUM_CLASSES, seed=seed)
    correct = 0
    for start in range(0, len(images_uint8), batch):
        images = runtime.images(images_uint8[start:start + batch])
        target = labels[start:start + batch]
        adversarial = attack(images, target)
        with torch.no_grad():
            correct += int((model(adversarial).argmax(1) == target).sum())
    return correct / len(images_uint8)


@torch.no_grad()
def class_mean_features(encoder, images_uint8, labels, batch, runtime):
    """(classes, units) mean penultimate activation of each class."""
    sums = torch.zeros(NUM_CLASSES, encoder.feature_dim, device=runtime.device)
    for start in range(0, len(images_uint8), batch):
        features = encoder(runtime.images(images_uint8[start:start + batch])).float()
        sums.index_add_(0, labels[start:start + batch], features)
    counts = torch.bincount(labels, minlength=NUM_CLASSES).clamp_min(1).to(sums.dtype)
    return sums / counts[:, None]


def unit_purification(class_means):
    """Per unit: participation ratio and purity of its class drive (one row per unit).

    A unit's drive from class c is its class-mean activation above that of its least-driving
    class, a_c = m_c - min m. The participation ratio (sum a)^2 / sum a^2 is the effective number
    of classes driving it (k for k equal drives, 1 for a single class); purity is max a / ||a||_2.
    """
    drive = class_means - class_means.min(dim=0).values
    dead = drive.max(dim=0).values <= DEAD_ACTIVATION
    safe = drive.clamp_min(0) + dead.to(drive.dtype)  # dead units get a dummy drive, flagged
    ratio = safe.sum(0) ** 2 / (safe ** 2).sum(0)
    purity = safe.max(0).values / safe.norm(dim=0)
    return pd.DataFrame({"unit": range(drive.shape[1]),
                         "participation_ratio": ratio.cpu().numpy(),
                         "purity": purity.cpu().numpy(),
                         "top_class": drive.argmax(0).cpu().numpy(),
                         "dead": dead.cpu().numpy()})


def evaluate(settings: Mapping, inputs: Mapping, outputs: Mapping, options) -> dict:
    """Clean, PGD and AutoAttack accuracy of one variant's encoder and head, and purification."""
    evaluation = settings["evaluation"]
    runtime = configure(options)  # float32: attacks must not be weakened by reduced precision
    stopwatch = Stopwatch(runtime)
    variant = settings["variant"]
    seed = derive_seed(settings["base_seed"], "cifar", "evaluate", variant)
    generator = torch_generator(seed, runtime.device)
    test_x, test_y = load_split(inputs["data"], "test", runtime.device)

    encoder = load_encoder(inputs["encoder"], settings["encoder"], runtime)
    model = Classifier(encoder)
    model.head.load_state_dict(load_checkpoint(inputs["head"], settings["head"])["state"])
    model = runtime.place(model).eval()

    batch = evaluation["batch"]
    clean = clean_accuracy(model, test_x, test_y, batch, runtime)
    print(f"clean accuracy {clean:.4f} on {len(test_x)} test images", flush=True)
    pgd = pgd_accuracy(model, test_x, test_y, evaluation["pgd"], batch, generator, runtime)
    print(f"PGD-{evaluation['pgd']['steps']} accuracy {pgd:.4f}", flush=True)

    n_auto = min(evaluation["autoattack_images"], len(test_x))
    subset = torch.randperm(len(test_x), generator=generator, device=runtime.device)[:n_auto]
    subset_clean = clean_accuracy(model, test_x[subset], test_y[subset], batch, runtime)
    auto = autoattack_accuracy(model, test_x[subset], test_y[subset],
                               evaluation["pgd"]["eps_255"] / 255, batch, seed % 2**31, runtime)
    print(f"AutoAttack accuracy {auto:.4f} on {n_auto} test images (clean {subset_clean:.4f})",
          flush=True)

    units = unit_purification(class_mean_features(encoder, test_x, test_y, batch, runtime))
    units.insert(0, "variant", variant)
    alive = units[~units["dead"]]
    fileio.write_csv(outputs["purification"], units)
    fileio.write_csv(outputs["metrics"], pd.DataFrame([{
        "variant": variant, "clean_accuracy": clean, "pgd_accuracy": pgd,
        "autoattack_accuracy": auto, "test_images": len(test_x), "autoattack_images": n_auto,
        "autoattack_subset_clean_accuracy": subset_clean,
        "median_participation_ratio": float(alive["participation_ratio"].median()),
        "dead_units": int(units["dead"].sum())}]))
    return {"seeds": {"seed": seed}, "timing": stopwatch.summary()}
