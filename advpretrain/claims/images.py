"""Claim C6 on real images, from the per-seed table of each data set, paired by seed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.claims.table import AUTOATTACK, PAPER_ATTACK, Table

IMAGE_CLAIMS = {"cifar10": ("C6", "CIFAR-10"), "digits": ("C6-digits", "digits")}
# Per image the minimum over AutoAttack (standard) and PGD-20 decides; PGD-20 alone is the
# paper's attack, shown beside it.
IMAGE_ATTACKS = {"autoattack_accuracy": ("AutoAttack and PGD-20, per image", AUTOATTACK),
                 "pgd_accuracy": ("PGD-20", PAPER_ATTACK)}


def image_claims(table: Table, dataset: str, per_seed_table: pd.DataFrame | None, source: str,
                 off_reason: str | None, protocol: Mapping) -> None:
    """C6 on one real-image data set: per downstream task, pre-training task and attack, the
    clean linear head's robust accuracy after adversarial minus after clean pre-training,
    paired by seed (the variants of a seed share its split and the head's minibatches)."""
    claim, name = IMAGE_CLAIMS.get(dataset, ("C6", dataset))
    gain = protocol["image_gain"]
    statement = (f"adversarial pre-training then a clean linear head gives clearly higher robust "
                 f"accuracy than clean pre-training: at least {gain:g} higher")
    if per_seed_table is None:
        table.missing(claim, name, statement, "robust accuracy of the clean linear head, "
                      "adversarial - clean pre-training", off_reason or "per_seed.csv missing")
        return
    keys = ["downstream_task", "pretraining_task"]
    for (task, pretraining), rows in per_seed_table.groupby(keys, sort=False):
        adversarial = rows["adversarial"].astype(str).str.lower() == "true"
        pair = {flag: rows[adversarial == flag].set_index("seed") for flag in (True, False)}
        if pair[True].empty or pair[False].empty:
            table.missing(claim, f"{name} {task}, {pretraining}", statement, "",
                          f"a clean or an adversarial {pretraining} variant is missing")
            continue
        labels = {flag: pair[flag]["variant"].iloc[0] for flag in pair}
        for column, (attack, evidence) in IMAGE_ATTACKS.items():
            values = pair[True][column] - pair[False][column]
            detail = "; ".join(
                f"{labels[flag]}: " + ", ".join(
                    f"{short} {pair[flag][measure].mean():.3f}"
                    for measure, short in (("clean_accuracy", "clean"), ("pgd_accuracy", "PGD"),
                                           ("autoattack_accuracy", "AA and PGD")))
                for flag in (False, True))
            table.add(claim, f"{name} {task}, {pretraining}, {attack}", statement,
                      f"{attack} accuracy of the clean linear head: {labels[True]} - "
                      f"{labels[False]}", "none: paired by seed (no re-seeded twin)",
                      values.dropna(), evidence=evidence, smallest_effect=gain,
                      descriptive=("the paper's attack alone: shown beside the per-image "
                                   "minimum" if evidence == PAPER_ATTACK else None),
                      detail=detail, source=source)
