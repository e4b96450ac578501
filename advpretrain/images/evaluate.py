"""Evaluation of a frozen encoder with its clean linear heads, and the purification measure.

Per downstream task: clean accuracy and PGD-20 l_inf accuracy (random start; RobustSSL's
``pgd_attack``) on the full test set at every eps of the grid, and the reference AutoAttack
(``pyautoattack``, the PyPI packaging of fra31/auto-attack, version "standard": APGD-CE, APGD-T,
FAB-T, Square with 100 iterations / 5000 queries) on a seeded random test subset, with the robust
accuracy after each of its attacks. On that subset the stage checks AutoAttack <= PGD (a weaker
AutoAttack than PGD-20 means the attack is broken) and fails otherwise. Attacks run in float32
(no autocast) with every parameter frozen. Purification: for each penultimate unit, how many
classes drive it.

The PGD random starts and the AutoAttack subset and seed depend on the data set only, so every
variant and seed meets the same attack (paired comparisons).
"""

from collections.abc import Mapping

import pandas as pd
import torch
from pyautoattack import AutoAttack
from torch import nn

from advpretrain.attack.pgd import frozen, linf_pgd
from advpretrain.core import fileio
from advpretrain.core.errors import UserError
from advpretrain.core.seeding import derive_seed, torch_generator
from advpretrain.images.data import load_split
from advpretrain.images.datasets import pixel_budget, spec
from advpretrain.images.linear import load_encoder, load_heads
from advpretrain.images.losses import cross_entropy
from advpretrain.images.runtime import Stopwatch, configure

DEAD_ACTIVATION = 1e-6  # a unit whose class means all lie within this of each other is dead
STANDARD = ("apgd-ce", "apgd-t", "fab-t", "square")  # AutoAttack "standard", in its order


class AutoAttackBroken(UserError):
    """AutoAttack found fewer adversarial examples than PGD on the same images."""


def autoattack_plan(classes: int) -> tuple[str, ...]:
    """The attacks of AutoAttack standard that are defined for a ``classes``-way task: APGD-T's
    targeted DLR loss needs at least 4 classes (it reads the 3rd and 4th largest logits; fra31's
    check_n_classes warns it "is not possible"), so a 2- or 3-way task runs the other three."""
    return STANDARD if classes >= 4 else tuple(a for a in STANDARD if a != "apgd-t")


def autoattack(model, images, labels, eps, classes, batch, seed, device, square_queries=None):
    """AutoAttack standard (l_inf, ``eps`` in pixels) on ``images``: per-image robust flags and
    the robust accuracy after each attack ({"apgd-ce": ..., ...}). ``square_queries`` (tiny
    test runs only) replaces Square's 5000 queries.

    The attacks run one after another on the images still robust, exactly as
    ``run_standard_evaluation`` does (same order, batches and seeds), so that the accuracy after
    each attack can be read; pyautoattack's own loop only logs it.
    """
    adversary = AutoAttack(model, norm="Linf", eps=eps, version="standard", seed=seed,
                           device=device)
    targets = min(9, classes - 1)
    adversary.apgd_targeted.n_target_classes = targets
    adversary.fab.n_target_classes = targets
    if square_queries is not None:
        adversary.square.n_queries = square_queries
    with torch.no_grad():
        robust = torch.cat([model(images[s:s + batch]).argmax(1) == labels[s:s + batch]
                            for s in range(0, len(images), batch)])
    after = {}
    for attack in autoattack_plan(classes):
        index = robust.nonzero().flatten()
        if len(index):
            adversary.attacks_to_run = [attack]
            _, predicted = adversary.run_standard_evaluation(images[index], labels[index],
                                                             batch_size=batch)
            robust[index] = predicted == labels[index]
        after[attack] = float(robust.float().mean())
    return robust, after


def check_autoattack(task, auto, pgd, images, steps):
    """AutoAttack must be at least as strong as PGD on the same images."""
    if auto > pgd:
        raise AutoAttackBroken(
            f"{task}: AutoAttack accuracy {auto:.4f} exceeds PGD-{steps} accuracy {pgd:.4f} on "
            f"the same {images} test images: AutoAttack is not working on this model (gradient "
            "masking, or a broken installation)")


def pgd_flags(model, images_uint8, labels, attack, batch, generator, runtime):
    """Per-image flags: still correct after PGD (``attack`` in grey levels). The caller ANDs
    them with the clean flags: PGD from a random start can land a misclassified image on the
    right class, which is no robustness."""
    eps, step = pixel_budget(attack, runtime.levels)
    flags = []
    for start in range(0, len(images_uint8), batch):
        target = labels[start:start + batch]
        (moved,) = linf_pgd(lambda x, target=target: cross_entropy(model(x), target),
                            (runtime.images(images_uint8[start:start + batch]),), eps, step,
                            attack["steps"], generator)
        with torch.no_grad():
            flags.append(model(moved).argmax(1) == target)
    return torch.cat(flags)


@torch.no_grad()
def clean_flags(model, images_uint8, labels, batch, runtime):
    return torch.cat([model(runtime.images(images_uint8[s:s + batch])).argmax(1)
                      == labels[s:s + batch] for s in range(0, len(images_uint8), batch)])


@torch.no_grad()
def class_mean_features(encoder, images_uint8, labels, classes, batch, runtime):
    """(classes, units) mean penultimate activation of each class."""
    sums = torch.zeros(classes, encoder.feature_dim, device=runtime.device)
    for start in range(0, len(images_uint8), batch):
        features = encoder(runtime.images(images_uint8[start:start + batch])).float()
        sums.index_add_(0, labels[start:start + batch], features)
    counts = torch.bincount(labels, minlength=classes).clamp_min(1).to(sums.dtype)
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


def evaluate_encoder(encoder, heads, data_path, evaluation, base_seed, dataset, runtime):
    """Rows of the evaluation CSV (one per task), the PGD grid rows and the purification units.

    ``heads``: {task: (frozen head, label map)}; ``evaluation``: the evaluation settings."""
    facts = spec(dataset)
    test_x, test_y = load_split(data_path, "test", runtime.device)
    batch, reference = evaluation["batch"], evaluation["pgd"]
    n_auto = min(evaluation["autoattack_images"], len(test_x))
    subset_gen = torch_generator(derive_seed(base_seed, "images", dataset, "autoattack subset"),
                                 runtime.device)
    subset = torch.randperm(len(test_x), generator=subset_gen, device=runtime.device)[:n_auto]
    subset = subset.sort().values
    auto_seed = derive_seed(base_seed, "images", dataset, "autoattack") % 2**31
    rows, grid = [], []
    for task, (head, labels_of) in heads.items():
        model = nn.Sequential(encoder, head).eval()
        labels, classes = labels_of[test_y], int(labels_of.max()) + 1
        clean = clean_flags(model, test_x, labels, batch, runtime)
        pgd = {}
        with frozen(model):
            for eps in evaluation["eps_grid"]:
                # The same random starts for every variant, seed and eps (paired comparisons).
                generator = torch_generator(derive_seed(base_seed, "images", dataset, "pgd"),
                                            runtime.device)
                attack = {**reference, "eps": eps}
                pgd[eps] = clean & pgd_flags(model, test_x, labels, attack, batch, generator,
                                             runtime)
                grid.append({"downstream_task": task, "eps": eps, "eps_pixels": eps / facts.levels,
                             "pgd_accuracy": float(pgd[eps].float().mean())})
            images = runtime.images(test_x[subset])
            robust, after = autoattack(model, images, labels[subset],
                                       reference["eps"] / facts.levels, classes, batch, auto_seed,
                                       runtime.device, evaluation.get("square_queries"))
        pgd_ref = pgd[reference["eps"]]
        alone, pgd_subset = float(robust.float().mean()), float(pgd_ref[subset].float().mean())
        # Robust accuracy per image: broken by either attack is broken (the minimum of both).
        auto = float((robust & pgd_ref[subset]).float().mean())
        print(f"{task}: clean {clean.float().mean():.4f}, PGD-{reference['steps']} "
              f"{pgd_ref.float().mean():.4f} on {len(test_x)} test images; AutoAttack {alone:.4f}, "
              f"either attack {auto:.4f} "
              f"(PGD {pgd_subset:.4f}) on {n_auto}: "
              + ", ".join(f"after {name} {value:.4f}" for name, value in after.items()),
              flush=True)
        check_autoattack(task, alone, pgd_subset, n_auto, reference["steps"])
        rows.append({
            "downstream_task": task, "classes": classes,
            "clean_accuracy": float(clean.float().mean()),
            "pgd_accuracy": float(pgd_ref.float().mean()),
            "autoattack_accuracy": auto, "autoattack_alone_accuracy": alone,
            "test_images": len(test_x), "autoattack_images": n_auto,
            "autoattack_clean_accuracy": float(clean[subset].float().mean()),
            "autoattack_pgd_accuracy": pgd_subset,
            **{f"autoattack_after_{name.replace('-', '_')}": after.get(name, float("nan"))
               for name in STANDARD},
            "autoattack_attacks": " ".join(after), "eps": reference["eps"],
            "eps_pixels": reference["eps"] / facts.levels})
    units = unit_purification(class_mean_features(encoder, test_x, test_y, facts.classes, batch,
                                                  runtime))
    alive = units[~units["dead"]]
    for row in rows:
        row.update(median_participation_ratio=float(alive["participation_ratio"].median()),
                   dead_units=int(units["dead"].sum()), units=len(units))
    return rows, grid, units


def write_evaluation(outputs, rows, grid, units, labels):
    """The evaluation, grid and purification CSVs, each row labelled with ``labels``."""
    table = pd.DataFrame([{**labels, **row} for row in rows])
    fileio.write_csv(outputs["metrics"], table)
    fileio.write_csv(outputs["robustness"], pd.DataFrame([{**labels, **row} for row in grid]))
    units = units.copy()
    for position, (key, value) in enumerate(labels.items()):
        units.insert(position, key, value)
    fileio.write_csv(outputs["purification"], units)


def images_evaluate(settings: Mapping, inputs: Mapping, outputs: Mapping, options) -> dict:
    """Clean, PGD and AutoAttack accuracy of one encoder's heads, and purification."""
    dataset = settings["dataset"]
    runtime = configure(options, levels=spec(dataset).levels)  # float32: attacks at full strength
    stopwatch = Stopwatch(runtime)
    encoder = load_encoder(inputs["encoder"], settings["encoder"], runtime)
    heads = load_heads(inputs["heads"], settings["heads"], runtime)
    rows, grid, units = evaluate_encoder(encoder, heads, inputs["data"], settings["evaluation"],
                                         settings["base_seed"], dataset, runtime)
    write_evaluation(outputs, rows, grid, units, {"dataset": dataset,
                                                  "variant": settings["variant"],
                                                  "seed": settings["seed"]})
    return {"timing": stopwatch.summary()}
