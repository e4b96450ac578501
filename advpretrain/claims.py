"""The claims table: for each claim, a per-seed statistic against a control, an interval, a verdict.

Every simulation statistic is paired by seed: the variants of a seed share its data, its
minibatches and (except the re-seeded twin) its initialisation. A claim row compares a measure S
of two variants, D = S(a) - S(b) (e.g. adversarial minus clean pre-training), with what the
same comparison gives for no reason but chance: C = S(twin) - S(clean), the clean variant against
its re-seeded twin (claims.twin_variant). The row's per-seed value is the *excess over the
control*, D - |C|: an effect counts only where it exceeds the clean-to-clean difference of the
same seed. Where a claim is about an absence (the clean nets reach the adversarial nets' clean
accuracy), a stated margin replaces the control.

Intervals: two-sided Student t-intervals of the per-seed mean at ``claims.confidence`` (exact
for normal per-seed values at any number of seeds, unlike a percentile bootstrap over 5 seeds).
Verdicts: one-sided t-tests of "mean > 0"; across all rows with at least two seeds, Holm's
procedure at family-wise level ``claims.family_alpha`` decides which are *supported*. A row from
one run is *indicative (one run)*, never supported; a row whose input is missing is *not
evaluated*. Built from the workflow's CSVs only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from . import fileio
from .canonical import plain
from .intervals import t_interval
from .tables import at_attack, attack_label, read_csvs

SUPPORTED, NOT_SUPPORTED = "supported", "not supported"
INDICATIVE, NOT_EVALUATED = "indicative (one run)", "not evaluated"
COLUMNS = ["claim", "scope", "statement", "statistic", "control", "n_seeds", "estimate",
           "ci_low", "ci_high", "p_value", "verdict", "detail", "source"]


# ---------------------------------------------------------------- statistics


def p_greater(values) -> float:
    """One-sided t-test p-value of "the per-seed mean is above 0" (NaN for fewer than 2)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return np.nan
    mean, spread = values.mean(), values.std(ddof=1)
    if spread <= 1e-12 * max(1.0, abs(mean)):  # identical values: the mean is known exactly
        return 0.0 if mean > 0 else 1.0
    return float(stats.t.sf(mean / (spread / np.sqrt(values.size)), values.size - 1))


def holm(p_values, alpha: float) -> np.ndarray:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level ``alpha``."""
    p = np.asarray(p_values, dtype=float)
    reject = np.zeros(p.size, dtype=bool)
    for rank, index in enumerate(np.argsort(p)):
        if not p[index] <= alpha / (p.size - rank):
            break
        reject[index] = True
    return reject


def per_seed(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """(seed x variant) table of ``value`` (mean over any other rows)."""
    return frame.pivot_table(index="seed", columns="variant", values=value, aggfunc="mean")


def excess(table: pd.DataFrame, a: str, b: str, clean: str, twin: str) -> pd.Series:
    """Per seed: D - |C| with D = table[a] - table[b], C = table[twin] - table[clean]."""
    needed = list(dict.fromkeys([a, b, clean, twin]))
    if not set(needed) <= set(table.columns):
        return pd.Series(dtype=float)
    table = table[needed].dropna()
    return (table[a] - table[b]) - (table[twin] - table[clean]).abs()


# ---------------------------------------------------------------- the table


class Table:
    """Collects claim rows; ``frame`` adds the verdicts (Holm over the rows with 2+ seeds)."""

    def __init__(self, settings: Mapping):
        self.confidence = settings["confidence"]
        self.alpha = settings["family_alpha"]
        self.rows = []

    def add(self, claim, scope, statement, statistic, control, values, detail="", source=""):
        values = pd.Series(values, dtype=float).dropna()
        estimate, low, high = t_interval(values, self.confidence)
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "control": control, "n_seeds": len(values),
                          "estimate": estimate, "ci_low": low, "ci_high": high,
                          "p_value": p_greater(values), "verdict": "", "detail": detail,
                          "source": source})

    def missing(self, claim, scope, statement, statistic, why):
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "control": "", "n_seeds": 0,
                          "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                          "p_value": np.nan, "verdict": NOT_EVALUATED, "detail": why,
                          "source": ""})

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=COLUMNS)
        tested = (frame["n_seeds"] >= 2) & frame["p_value"].notna()
        frame.loc[tested, "verdict"] = np.where(holm(frame.loc[tested, "p_value"], self.alpha),
                                                SUPPORTED, NOT_SUPPORTED)
        frame.loc[frame["n_seeds"] == 1, "verdict"] = INDICATIVE
        frame.loc[frame["n_seeds"] == 0, "verdict"] = NOT_EVALUATED
        return frame


def _means(table: pd.DataFrame, names, digits=3) -> str:
    return ", ".join(f"{name} {table[name].mean():.{digits}f}" for name in names
                     if name in table)


# ---------------------------------------------------------------- the claims


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
                       "; ".join(filter(None, [_means(table, names), extra])), source)

    def purity(self, claim: str, task: str) -> None:
        statement = f"{task} adversarial pre-training purifies the hidden nodes"
        summary = self.read(f"{task}_summary")
        if summary is None:
            self.table.missing(claim, task, statement, "mean purity of live nodes",
                               f"{task} summary.csv missing")
            return
        measures = {name: per_seed(summary[summary["measure"] == name], "value")
                    for name in ("purity", "pure_share", "coverage", "live_share")}
        shares = "; ".join(f"{name} {_means(measures[name], [self.clean, self.adversarial])}"
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
                       _means(clean, [self.clean, self.adversarial, self.twin]),
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
                "lost " + _means(drop, [self.clean, self.adversarial, self.twin]),
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
            f"relative movement {_means(moved, [self.clean, self.adversarial, self.twin])}; "
            f"nodes flipped {_means(flipped, [self.clean, self.adversarial])}",
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
                f"gap {_means(gap, [self.clean, self.untrained, self.twin, self.adversarial])}; "
                f"{accuracy}", self.source("pair_loss"))
            # The share of the clean nets' gap that a variant closes, per seed.
            share = 1 - gap.div(gap[self.clean], axis=0)
            self.table.add(
                "C4", f"contrastive, {name}, adversarial", closes,
                f"share of the {self.clean} gap closed: {self.adversarial}, minus the control",
                f"|share closed by {self.twin}|", share[self.adversarial] - share[self.twin].abs(),
                "share closed " + _means(share, [self.adversarial, self.twin]),
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
                       "purity by pairs attacked: " + _means(by_pairs, list(by_pairs.columns))
                       + f"; {_means(controls, [self.clean, self.twin])}",
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


IMAGE_CLAIMS = {"cifar10": ("C6", "CIFAR-10"), "digits": ("C6-digits", "digits")}
IMAGE_ATTACKS = {"autoattack_accuracy": "AutoAttack", "pgd_accuracy": "PGD-20"}


def image_claims(table: Table, dataset: str, per_seed_table: pd.DataFrame | None, source: str,
                 off_reason: str | None) -> None:
    """C6 on one real-image data set: per downstream task, pre-training task and attack, the
    clean linear head's robust accuracy after adversarial minus after clean pre-training,
    paired by seed (the variants of a seed share its split and the head's minibatches)."""
    claim, name = IMAGE_CLAIMS.get(dataset, ("C6", dataset))
    statement = ("adversarial pre-training then a clean linear head gives a robust downstream "
                 "classifier, clean pre-training does not")
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
        for column, attack in IMAGE_ATTACKS.items():
            values = pair[True][column] - pair[False][column]
            detail = "; ".join(
                f"{labels[flag]}: " + ", ".join(
                    f"{short} {pair[flag][measure].mean():.3f}"
                    for measure, short in (("clean_accuracy", "clean"), ("pgd_accuracy", "PGD"),
                                           ("autoattack_accuracy", "AA")))
                for flag in (False, True))
            table.add(claim, f"{name} {task}, {pretraining}, {attack}", statement,
                      f"{attack} accuracy of the clean linear head: {labels[True]} - "
                      f"{labels[False]}", "none: paired by seed (no re-seeded twin)",
                      values.dropna(), detail, source)


def claims_table(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """The claims frame from the workflow's CSVs.

    inputs: dict of path lists: ``supervised_summary``, ``supervised_robustness``, and where
    present ``supervised_movement``, ``contrastive_summary``, ``pair_loss``, ``pair_attack``,
    ``downstream_supervised``, ``downstream_contrastive``, ``images_<dataset>`` (absent: the
    claim is "not evaluated").
    """
    claims = Claims(settings, inputs)
    claims.purity("C1", "supervised")
    claims.similar_clean_accuracy()
    claims.vulnerability()
    claims.node_movement()
    claims.purity("C3", "contrastive")
    claims.pairs()
    claims.mainly_dissimilar()
    for task in ("supervised", "contrastive"):
        claims.downstream(task)
    for dataset, off_reason in settings["images"].items():
        key = f"images_{dataset}"
        image_claims(claims.table, dataset, read_csvs(inputs.get(key, [])),
                     ", ".join(inputs.get(key, [])), off_reason)
    return claims.table.frame()


def markdown(frame: pd.DataFrame, settings: Mapping) -> str:
    level = f"{100 * settings['confidence']:g}%"
    tested = int(((frame["n_seeds"] >= 2) & frame["p_value"].notna()).sum())
    lines = [
        "# Claims reproduced by this run",
        "",
        "Written by the workflow (rule `claims`) from its CSV outputs. Each row's value is a "
        "per-seed statistic, paired by seed; most are an effect (adversarial minus clean "
        f"pre-training) in excess of its control (the re-seeded clean twin). Interval: {level} "
        f"two-sided t-interval over seeds. Verdict: one-sided t-test of \"above 0\"; Holm's "
        f"procedure over the {tested} rows with at least two seeds at family-wise level "
        f"{settings['family_alpha']:g} decides *supported*. One run: *indicative*.",
        "",
        f"| claim | scope | statistic | control | estimate [{level} CI] | p | seeds | verdict |"
        " detail |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples(index=False):
        value = "n/a" if np.isnan(row.estimate) else f"{row.estimate:.3f}"
        if not np.isnan(row.ci_low):
            value += f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
        p_value = "" if np.isnan(row.p_value) else f"{row.p_value:.2g}"
        verdict = f"**{row.verdict}**" if row.verdict == SUPPORTED else row.verdict
        lines.append(f"| {row.claim} | {row.scope} | {row.statistic} | {row.control} | {value} "
                     f"| {p_value} | {row.n_seeds} | {verdict} | {row.detail} |")
    lines += ["", "Statements:", ""]
    for claim, statement in dict.fromkeys(zip(frame["claim"], frame["statement"])):
        lines.append(f"- {claim}: {statement}")
    return "\n".join(lines) + "\n"


def write_claims(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The claims table as CSV (``outputs["csv"]``) and Markdown (``outputs["md"]``)."""
    frame = claims_table(settings, inputs)
    fileio.write_csv(outputs["csv"], frame)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(markdown(frame, settings["claims"]))
