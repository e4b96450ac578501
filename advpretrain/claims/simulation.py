"""Claims C1-C5 from the simulation CSVs, each against its control (``table``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import Table, excess, means_text, per_seed
from advpretrain.core.canonical import plain
from advpretrain.core.tables import at_attack, attack_label, read_csvs


class Claims:
    """The rows of claims C1-C5 from the simulation CSVs."""

    def __init__(self, settings: Mapping, inputs: Mapping):
        claims = settings["claims"]
        self.table = Table(claims)
        self.clean, self.adversarial = claims["clean_variant"], claims["adversarial_variant"]
        self.twin, self.untrained = claims["twin_variant"], claims["untrained_variant"]
        self.margin = claims["similar_accuracy_margin"]
        self.attacks = list(claims["attacks"])
        self.reference = plain(settings["reference"])
        self.inputs = inputs
        self.control = f"|{self.twin} - {self.clean}| (re-seeded clean twin)"

    def read(self, key: str) -> pd.DataFrame | None:
        return read_csvs(self.inputs.get(key, []))

    def source(self, key: str) -> str:
        return ", ".join(self.inputs.get(key, []))

    def attack(self, name: str) -> dict:
        return {"attack": name, **self.reference}

    def versus(self, table, measure, scope, claim, statement, source, extra=""):
        """Row: adversarial minus clean ``measure``, in excess of the twin control."""
        names = [self.clean, self.adversarial, self.twin, self.untrained]
        self.table.add(claim, scope, statement,
                       f"{measure}: {self.adversarial} - {self.clean}, minus the control",
                       self.control, excess(table, self.adversarial, self.clean, self.clean,
                                            self.twin),
                       "; ".join(filter(None, [means_text(table, names), extra])), source)

    def purity(self, claim: str, task: str) -> None:
        statement = f"{task} adversarial pre-training purifies the hidden nodes"
        summary = self.read(f"{task}_summary")
        if summary is None:
            self.table.missing(claim, task, statement, "mean purity of live nodes",
                               f"{task} summary.csv missing")
            return
        measures = {name: per_seed(summary[summary["measure"] == name], "value")
                    for name in ("purity", "pure_share", "coverage", "live_share")}
        shares = "; ".join(f"{name} {means_text(measures[name], [self.clean, self.adversarial])}"
                           for name in ("pure_share", "coverage", "live_share"))
        self.versus(measures["purity"], "mean purity of live nodes", task, claim, statement,
                    self.source(f"{task}_summary"), shares)

    def similar_clean_accuracy(self) -> None:
        statement = "clean training reaches a clean accuracy as high as adversarial training's"
        robustness = self.read("supervised_robustness")
        clean = per_seed(robustness[robustness["eps"] == 0], "accuracy")
        values = clean[self.clean] - clean[self.adversarial] + self.margin
        self.table.add("C1", "supervised, clean accuracy", statement,
                       f"clean accuracy: {self.clean} - {self.adversarial} + margin",
                       f"stated margin {self.margin:g}", values,
                       means_text(clean, [self.clean, self.adversarial, self.twin]),
                       self.source("supervised_robustness"))

    def vulnerability(self) -> None:
        robustness = self.read("supervised_robustness")
        clean = per_seed(robustness[robustness["eps"] == 0], "accuracy")
        for name in self.attacks:
            label = attack_label(self.attack(name))
            attacked = per_seed(at_attack(robustness, self.attack(name)), "accuracy")
            self.versus(attacked, f"accuracy under {label}", f"supervised, {name}", "C2",
                        "adversarial pre-training makes the pre-trained nets robust",
                        self.source("supervised_robustness"))
            if name == "certified":  # a bound on the loss is not a loss: no collapse row
                continue
            drop = clean - attacked  # per seed and variant: accuracy lost to the attack
            self.table.add(
                "C2", f"supervised, {name}, collapse",
                "small attacks break the clean nets far more than the adversarial ones",
                f"accuracy lost to {label}: {self.clean} - {self.adversarial}, minus control",
                self.control, excess(drop, self.clean, self.adversarial, self.clean, self.twin),
                "lost " + means_text(drop, [self.clean, self.adversarial, self.twin]),
                self.source("supervised_robustness"))

    def node_movement(self) -> None:
        statement = ("without adversarial training the hidden nodes are vulnerable: attacks move "
                     "them")
        frame = self.read("supervised_movement")
        if frame is None:
            self.table.missing("C2", "supervised, node movement", statement, "",
                               "movement.csv missing")
            return
        at = frame[(frame["norm"] == self.reference["norm"])
                   & np.isclose(frame["eps"], self.reference["eps"])]
        moved, flipped = per_seed(at, "relative_movement"), per_seed(at, "flip_share")
        label = f"{self.reference['norm']} eps={self.reference['eps']:g}"
        self.table.add(
            "C2", "supervised, node movement", statement,
            f"worst movement in the {label} ball / ||h(z)||: {self.clean} - {self.adversarial}, "
            "minus the control", self.control,
            excess(moved, self.clean, self.adversarial, self.clean, self.twin),
            f"relative movement {means_text(moved, [self.clean, self.adversarial, self.twin])}; "
            f"nodes flipped {means_text(flipped, [self.clean, self.adversarial])}",
            self.source("supervised_movement"))

    def pairs(self) -> None:
        pair_loss = self.read("pair_loss")
        first = "attacks hurt dissimilar pairs more than similar pairs before purification"
        closes = "adversarial training closes most of that gap"
        if pair_loss is None:
            for statement in (first, closes):
                self.table.missing("C4", "contrastive", statement, "", "pair_loss.csv missing")
            return
        for name in [a for a in self.attacks if a in set(pair_loss["attack"])]:
            attack = self.attack(name)
            gaps, accuracy = pair_gaps(pair_loss, attack)
            gap = gaps.pivot_table(index="seed", columns="variant", values="gap")
            label = attack_label(attack)
            self.table.add(
                "C4", f"contrastive, {name}", first,
                f"loss increase under {label}, dissimilar - similar: {self.clean} - "
                f"{self.untrained}, minus the control", self.control,
                excess(gap, self.clean, self.untrained, self.clean, self.twin),
                f"gap {means_text(gap, [self.clean, self.untrained, self.twin, self.adversarial])}"
                f"; "
                f"{accuracy}", self.source("pair_loss"))
            # The share of the clean nets' gap that a variant closes, per seed.
            share = 1 - gap.div(gap[self.clean], axis=0)
            self.table.add(
                "C4", f"contrastive, {name}, adversarial", closes,
                f"share of the {self.clean} gap closed: {self.adversarial}, minus the control",
                f"|share closed by {self.twin}|", share[self.adversarial] - share[self.twin].abs(),
                "share closed " + means_text(share, [self.adversarial, self.twin]),
                self.source("pair_loss"))

    def mainly_dissimilar(self) -> None:
        statement = "adversarial training purifies mainly through the dissimilar pairs"
        study = self.read("pair_attack")
        if study is None:
            self.table.missing("C4", "contrastive, pair-attack study", statement, "",
                               "the pair-attack study is not in the workflow")
            return
        purity = study[study["measure"] == "purity"]
        by_pairs = purity[purity["variant"] == self.adversarial].pivot_table(
            index="seed", columns="attacked_pairs", values="value")
        controls = per_seed(purity[purity["attacked_pairs"] == "none"], "value")
        if not {"similar", "dissimilar"} <= set(by_pairs.columns):
            self.table.missing("C4", "contrastive, pair-attack study", statement, "",
                               f"{self.adversarial} is not in the pair-attack study")
            return
        control = (controls[self.twin] - controls[self.clean]).abs()
        values = by_pairs["dissimilar"] - by_pairs["similar"] - control
        self.table.add("C4", "contrastive, pair-attack study", statement,
                       f"mean purity, {self.adversarial} attacking dissimilar pairs only - "
                       "similar pairs only, minus the control", self.control, values,
                       "purity by pairs attacked: " + means_text(by_pairs, list(by_pairs.columns))
                       + f"; {means_text(controls, [self.clean, self.twin])}",
                       self.source("pair_attack"))

    def downstream(self, task: str) -> None:
        frame = self.read(f"downstream_{task}")
        statement = ("a clean-trained head on a purified layer is robust, on a clean one it is "
                     "not")
        if frame is None:
            self.table.missing("C5", f"downstream after {task} pre-training", statement, "",
                               "downstream.csv missing")
            return
        for name in self.attacks:
            attacked = per_seed(at_attack(frame, self.attack(name)), "accuracy")
            self.versus(attacked, f"downstream accuracy under {attack_label(self.attack(name))}",
                        f"downstream after {task} pre-training, {name}", "C5", statement,
                        self.source(f"downstream_{task}"))


def pair_gaps(pair_loss: pd.DataFrame, attack: Mapping) -> tuple[pd.DataFrame, str]:
    """Per (variant, seed): loss increase under ``attack`` of each pair type and ``gap`` =
    dissimilar - similar; and the clean pair accuracy per pair type, as text."""
    keys = ["variant", "seed", "pair_type"]
    clean = pair_loss[pair_loss["eps"] == 0].groupby(keys)[["loss", "accuracy"]].mean()
    attacked = at_attack(pair_loss, attack).groupby(keys)["loss"].mean()
    increase = (attacked - clean["loss"]).dropna().unstack("pair_type")
    increase["gap"] = increase["dissimilar"] - increase["similar"]
    accuracy = clean["accuracy"].groupby(["variant", "pair_type"]).mean()
    text = "clean pair accuracy " + ", ".join(
        f"{variant} {pair_type} {value:.2f}" for (variant, pair_type), value in accuracy.items())
    return increase.reset_index(), text
