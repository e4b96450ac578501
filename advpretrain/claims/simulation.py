"""Claims C1-C5 from the simulation CSVs: each statement is the protocol's hypothesis
(docs/claims_protocol.md), tested against its control with its smallest effect and, where it
uses an absolute word, its absolute criterion (``table``).

The same rules run with the theory's ideal (the frozen perfectly purified layer, variant
``claims.ideal_variant``) in place of the adversarial or the clean variant (``ideal_as``): the
known-answer check of ``table.calibrate``. ``options`` choose among the analysis choices the
multiverse compares (``ANALYSIS_CHOICES``; the first of each is the protocol's)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import (
    CERTIFIED,
    CONVERGED,
    ENSEMBLE,
    EXACT,
    FAILS_FOR_IDEAL,
    HOLDS_FOR_IDEAL,
    MEASURED,
    PAPER_ATTACK,
    POSITIVE_CONTROL,
    Criterion,
    Table,
    margins,
    means_text,
    per_seed,
)
from advpretrain.core.canonical import plain
from advpretrain.core.tables import at_attack, attack_label, read_csvs

EVIDENCE = {"worst_case": ENSEMBLE, "certified": CERTIFIED, "pgd": PAPER_ATTACK,
            "fgm": PAPER_ATTACK}
PAPER_ATTACK_REASON = ("the paper's own-gradient attack overstates robustness (the attack "
                       "ensemble breaks what it misses): shown, not deciding")
# The analysis choices the multiverse compares, the protocol's (v3) first in each.
ANALYSIS_CHOICES = {
    "purity_rule": ["live_coverage", "all_nodes"],
    "pair_statistic": ["accuracy_drop", "loss_increase", "relative_loss_increase"],
    "control_rule": ["symmetric", "subtracted_both_ways", "none"],
    "nodes_rule": ["flips", "relative_movement_vs_adversarial"],
}
PROTOCOL_CHOICES = {key: values[0] for key, values in ANALYSIS_CHOICES.items()}
PAIR_STATISTICS = {
    "accuracy_drop": "accuracy drop (clean - attacked pair accuracy, ties half)",
    "loss_increase": "loss increase (attacked - clean loss)",
    "relative_loss_increase": "relative loss increase (attacked / clean loss - 1)",
}
UNCONVERGED_PAIRS = ("the attack's convergence is not measured on the pair losses (a "
                     "difference of two attacked quantities has no bound's direction)")
UNCONVERGED_DOWNSTREAM = ("the attack's convergence is not measured on the downstream heads "
                          "(an attack's accuracy only bounds the robust one from above)")


class Claims:
    """The rows of claims C1-C5 from the simulation CSVs."""

    def __init__(self, settings: Mapping, inputs: Mapping, ideal_as: str | None = None,
                 options: Mapping | None = None):
        claims = settings["claims"]
        self.table = Table(claims)
        self.protocol = plain(claims["protocol"])
        self.clean, self.adversarial = claims["clean_variant"], claims["adversarial_variant"]
        self.twin, self.untrained = claims["twin_variant"], claims["untrained_variant"]
        self.ideal = claims["ideal_variant"]
        self.options = {**PROTOCOL_CHOICES, **(options or {})}
        if "adversarial_variant" in self.options:  # the multiverse's training budgets
            self.adversarial = self.options["adversarial_variant"]
        if ideal_as == HOLDS_FOR_IDEAL:
            self.adversarial = self.ideal
        elif ideal_as == FAILS_FOR_IDEAL:  # the ideal as the clean nets, with no chance control
            self.clean = self.twin = self.ideal
        self.attacks = list(claims["attacks"])
        self.reference = dict(plain(settings["reference"]))  # a copy: options move it
        if "eps" in self.options:  # the multiverse's evaluation budgets
            self.reference["eps"] = float(self.options["eps"])
        self.inputs = inputs
        self.control = f"|{self.twin} - {self.clean}| (re-seeded clean twin)"
        self.budget = f"{self.reference['norm']} eps={self.reference['eps']:g}"
        self.tolerance = float(settings["convergence_tolerance"])
        self.small_budgets = {norm: float(eps) for norm, eps in settings["small_budgets"].items()}
        self.budget_labels: list[dict] = []  # group, budget, basis of each budget_range row

    def read(self, key: str) -> pd.DataFrame | None:
        """An input's CSVs, through the inputs' cache where they have one (``frames``)."""
        paths = tuple(self.inputs.get(key, []))
        cache = getattr(self.inputs, "frames", None)
        if cache is None:
            return read_csvs(paths)
        if paths not in cache:
            cache[paths] = read_csvs(paths)
        return None if cache[paths] is None else cache[paths].copy()

    def ideal_certified(self) -> pd.DataFrame:
        """The ideal's certified accuracy at every budget of the sandwich grid, lowest over
        seeds, for its pre-trained head (supervised task) and its clean downstream head:
        columns norm, eps, source, lowest."""
        rows = []
        for key, what in (("supervised_robustness", "pre-trained head"),
                          ("downstream_supervised", "downstream head")):
            frame = self.read(key)
            if frame is None:
                continue
            sure = frame[(frame["attack"] == "certified") & (frame["variant"] == self.ideal)]
            for (norm, eps), part in sure.groupby(["norm", "eps"]):
                rows.append({"norm": norm, "eps": float(eps), "source": what,
                             "lowest": float(part.groupby("seed")["accuracy"].mean().min())})
        return pd.DataFrame(rows, columns=["norm", "eps", "source", "lowest"])

    def admissible_budgets(self) -> pd.DataFrame:
        """Per budget of the sandwich grid: the ideal's lowest certified accuracy over seeds
        (pre-trained and downstream head) and whether the budget is admissible (both at least
        ``robust``): a "robust" statement can be decided only where the theory's answer is
        certified robust at every seed. ``headline``: the largest admissible budget of each
        norm (the protocol's rule for the claims' budget)."""
        sure = self.ideal_certified()
        if sure.empty:
            return pd.DataFrame(columns=["norm", "eps", "pre-trained head", "downstream head",
                                         "admissible", "headline"])
        table = sure.pivot_table(index=["norm", "eps"], columns="source", values="lowest")
        # Every head measured at that budget must be certified robust.
        table["admissible"] = (table.ge(self.protocol["robust"]) | table.isna()).all(axis=1)
        table = table.reset_index()
        top = table[table["admissible"]].groupby("norm")["eps"].max()
        table["headline"] = table["eps"] == table["norm"].map(top)
        return table

    def inadmissible(self) -> dict:
        """{(norm, eps): why} for the budgets beyond the ideal's certified reach."""
        table = self.admissible_budgets()
        sources = [c for c in ("pre-trained head", "downstream head") if c in table]
        return {(row["norm"], float(row["eps"])): (
            f"{row['norm']} eps={row['eps']:g} is beyond the ideal's certified reach (lowest "
            "certified accuracy over seeds: " + ", ".join(f"{c} {row[c]:.3f}" for c in sources)
            + f"; admissible needs {self.protocol['robust']:g})")
            for _, row in table.iterrows() if not row["admissible"]}

    def source(self, key: str) -> str:
        return ", ".join(self.inputs.get(key, []))

    def attack(self, name: str) -> dict:
        return {"attack": name, **self.reference}

    @property
    def at_reference(self) -> tuple[str, float]:
        return self.reference["norm"], float(self.reference["eps"])

    def effect(self, table: pd.DataFrame, a: str, b: str) -> tuple[pd.Series, pd.Series]:
        """Per seed, the statistics support and contradiction are tested on for a - b, by the
        control rule: symmetric (D - |C|, D + |C|; the protocol's), subtracted both ways
        (D - |C| twice; protocols v1 and v2) or none (D)."""
        support, against = margins(table, a, b, self.clean, self.twin)
        rule = self.options["control_rule"]
        if rule == "subtracted_both_ways":
            return support, support
        if rule == "none":
            effect = (support + against) / 2
            return effect, effect
        return support, against

    def versus(self, table, measure, scope, claim, statement, source, *, evidence,
               smallest_effect, criterion=None, descriptive=None, guard=None, extra="",
               lower_bound=False, unconverged=None, known=HOLDS_FOR_IDEAL, budget=None):
        """Row: adversarial minus clean ``measure``, beyond the twin control."""
        names = [self.clean, self.adversarial, self.twin, self.untrained]
        support, against = self.effect(table, self.adversarial, self.clean)
        self.table.add(claim, scope, statement,
                       f"{measure}: {self.adversarial} - {self.clean}, beyond the control",
                       self.control, support, contra=against,
                       evidence=evidence, smallest_effect=smallest_effect, criterion=criterion,
                       descriptive=descriptive, guard=guard, lower_bound=lower_bound,
                       unconverged=unconverged, known=known, budget=budget,
                       detail="; ".join(filter(None, [means_text(table, names), extra])),
                       source=source)

    def robust_criterion(self, table: pd.DataFrame, variant: str, what: str) -> Criterion:
        threshold = self.protocol["robust"]
        return Criterion(f"{what} of {variant} >= {threshold:g}",
                         table[variant] if variant in table else pd.Series(dtype=float),
                         threshold)

    def descriptive_reason(self, name: str, attacked: pd.DataFrame) -> str | None:
        """Why a robustness row is outside the family: the paper's attack, or a certified
        bound that certifies (almost) nothing for either variant."""
        if EVIDENCE.get(name) == PAPER_ATTACK:
            return PAPER_ATTACK_REASON
        if name == "certified":
            top = max(float(attacked[v].mean()) for v in (self.clean, self.adversarial)
                      if v in attacked)
            if top < self.protocol["vacuous_certified"]:
                return (f"vacuous: certified accuracy below {self.protocol['vacuous_certified']:g}"
                        " for both variants at this budget")
        return None

    # ---------------------------------------------------------------- C1, C3: purification

    def purity(self, claim: str, task: str) -> None:
        gain, purified = self.protocol["purity_gain"], self.protocol["purified"]
        coverage = self.protocol["coverage"]
        all_nodes = self.options["purity_rule"] == "all_nodes"
        purifies = (f"its mean purity of all nodes is at least {purified:g}" if all_nodes else
                    f"its live nodes' mean purity is at least {purified:g} and pure live nodes "
                    f"read at least {coverage:g} of the features")
        statement = (f"{task} adversarial pre-training raises the mean purity of all hidden nodes "
                     f"(dead nodes counted) by at least {gain:g} over clean pre-training, and "
                     f"purifies them: {purifies} (one feature carries more than half of a "
                     "node's squared weight)")
        summary = self.read(f"{task}_summary")
        if summary is None:
            self.table.missing(claim, task, statement, "mean purity of all nodes",
                               f"{task} summary.csv missing")
            return
        measures = {name: per_seed(summary[summary["measure"] == name], "value")
                    for name in ("purity_all", "purity", "functional_purity", "pure_share",
                                 "coverage", "live_share")
                    if name in set(summary["measure"])}
        shares = "; ".join(f"{name} {means_text(measures[name], [self.clean, self.adversarial])}"
                           for name in ("pure_share", "coverage", "live_share") if name in measures)
        empty = pd.Series(dtype=float)
        every = measures["purity_all"].get(self.adversarial, empty)
        if all_nodes:
            criterion = Criterion(f"mean purity of all nodes of {self.adversarial} >= "
                                  f"{purified:g}", every, purified)
        else:
            # Both parts per seed: the smaller margin must clear 0. Width-free: unused nodes
            # neither count (live nodes only) nor can dropping nodes pass (coverage).
            live = measures["purity"].get(self.adversarial, empty) - purified
            covered = measures["coverage"].get(self.adversarial, empty) - coverage
            criterion = Criterion(f"min(live purity of {self.adversarial} - {purified:g}, "
                                  f"coverage - {coverage:g}) >= 0",
                                  np.minimum(live, covered), 0.0)
        self.versus(measures["purity_all"], "mean purity of all nodes", task, claim, statement,
                    self.source(f"{task}_summary"), evidence=MEASURED, smallest_effect=gain,
                    criterion=criterion, extra=shares)
        self.table.add(claim, f"{task}, all-node criterion",
                       f"{task}: the adversarial nets' mean purity of all nodes is at least "
                       f"{purified:g}", f"mean purity of all nodes of {self.adversarial} - "
                       f"{purified:g}", "none: an absolute criterion", every - purified,
                       evidence=MEASURED, descriptive=(
                           "depends on the width: a one-feature-per-node dictionary with H - d "
                           "unused nodes scores about (d + (H - d) p0) / H; shown, not deciding"
                           if not all_nodes else "the deciding criterion above"),
                       source=self.source(f"{task}_summary"))
        for name, what, why in (
                ("functional_purity", "functional purity of live nodes (share of a node's "
                 "firings with its main feature present)",
                 "what makes nodes fire, beside what they read: shown, not deciding"),):
            if name in measures:
                self.versus(measures[name], what, f"{task}, {name}", claim,
                            f"{task}: {what}, adversarial vs clean pre-training",
                            self.source(f"{task}_summary"), evidence=MEASURED,
                            smallest_effect=gain, descriptive=why)

    def clean_accuracy(self) -> None:
        margin = self.protocol["clean_accuracy_margin"]
        statement = (f"adversarial pre-training costs at most {margin:g} clean accuracy: the "
                     f"adversarial nets reach the clean nets' clean accuracy minus {margin:g}")
        robustness = self.read("supervised_robustness")
        clean = per_seed(robustness[robustness["eps"] == 0], "accuracy")
        values = (clean[self.adversarial] - clean[self.clean] + margin
                  if {self.adversarial, self.clean} <= set(clean) else pd.Series(dtype=float))
        self.table.add("C1", "supervised, clean accuracy", statement,
                       f"clean accuracy: {self.adversarial} - {self.clean} + margin "
                       "(non-inferiority)", f"stated margin {margin:g}", values,
                       evidence=MEASURED, smallest_effect=0.0, known=HOLDS_FOR_IDEAL,
                       detail=means_text(clean, [self.clean, self.adversarial, self.twin]),
                       source=self.source("supervised_robustness"))

    # ---------------------------------------------------------------- C2: vulnerability

    def vulnerability(self) -> None:
        gain, robust = self.protocol["accuracy_gain"], self.protocol["robust"]
        robustness = self.read("supervised_robustness")
        clean = per_seed(robustness[robustness["eps"] == 0], "accuracy")
        robust_statement = (f"adversarial pre-training makes the pre-trained nets robust at "
                            f"{self.budget}: robust accuracy at least {gain:g} above clean "
                            f"pre-training's and at least {robust:g}")
        broken_statement = (f"small attacks ({self.budget}) break the clean nets: they lose at "
                            f"least {gain:g} more accuracy than the adversarial nets")
        converged = self.converged_study()
        for name in self.attacks:
            label = attack_label(self.attack(name))
            attacked = per_seed(at_attack(robustness, self.attack(name)), "accuracy")
            if attacked.empty:
                continue
            descriptive = self.descriptive_reason(name, attacked)
            unconverged = (self.ensemble_guard(converged) if converged is not None else
                           "the attack's convergence is not measured at this budget"
                           ) if name == "worst_case" else None
            self.versus(attacked, f"accuracy under {label}", f"supervised, {name}", "C2",
                        robust_statement, self.source("supervised_robustness"),
                        evidence=EVIDENCE.get(name, name), smallest_effect=gain,
                        criterion=self.robust_criterion(attacked, self.adversarial,
                                                        f"accuracy under {label}"),
                        descriptive=descriptive, unconverged=unconverged,
                        lower_bound=name == "certified", budget=self.at_reference)
            if name == "certified":  # a bound on the loss is not a loss: no collapse row
                continue
            drop = clean - attacked  # per seed and variant: accuracy lost to the attack
            support, against = self.effect(drop, self.clean, self.adversarial)
            self.table.add(
                "C2", f"supervised, {name}, nets broken", broken_statement,
                f"accuracy lost to {label}: {self.clean} - {self.adversarial}, beyond control",
                self.control, support, contra=against,
                evidence=EVIDENCE.get(name, name), smallest_effect=gain,
                descriptive=descriptive, unconverged=unconverged, known=HOLDS_FOR_IDEAL,
                budget=self.at_reference,
                detail="lost " + means_text(drop, [self.clean, self.adversarial, self.twin]),
                source=self.source("supervised_robustness"))
        if converged is not None:
            self.converged_attack(converged, robust_statement)
        self.rigorous_gap(robustness)
        self.exact_gap()

    def converged_study(self, budget: Mapping | None = None) -> pd.DataFrame | None:
        """The last level of the convergence study (rule attack_convergence) at ``budget``
        ({"norm", "eps"}; default the claims'), one row per network; None where it has no such
        budget."""
        budget = budget or self.reference
        frame = self.read("supervised_convergence")
        if frame is None or frame.empty:
            return None
        frame = frame[(frame["norm"] == budget["norm"]) & np.isclose(frame["eps"], budget["eps"])]
        return None if frame.empty else frame[frame["level"] == frame["level"].max()]

    def not_converged(self, last: pd.DataFrame) -> str | None:
        """Why the convergence study's own figure cannot decide: a network of the compared
        variants whose last doubling still lowered its robust accuracy by more than the
        tolerance."""
        moving = last[last["variant"].isin([self.clean, self.adversarial]) & ~last["converged"]]
        if moving.empty:
            return None
        first = moving.iloc[0]
        return (f"the attack has not converged: its last doubling still lowers the robust "
                f"accuracy of {len(moving)} network(s) by more than {self.tolerance:g} "
                f"(first: {first['variant']} seed {int(first['seed'])})")

    def ensemble_guard(self, last: pd.DataFrame | None) -> str | None:
        """Why the attack ensemble's rows cannot be supported: the convergence study's attack
        (stronger) lowers a compared variant's robust accuracy on the same points by more than
        the tolerance, or has itself not converged. None without a study at this budget."""
        if last is None:
            return None
        rows = last[last["variant"].isin([self.clean, self.adversarial])]
        gap = (rows["ensemble_accuracy"] - rows["cumulative"]).groupby(rows["variant"]).mean()
        if (gap > self.tolerance).any():
            variant = gap.idxmax()
            return (f"the attack ensemble has not converged: a stronger attack lowers "
                    f"{variant}'s robust accuracy by {gap[variant]:.3f} (mean over seeds) on "
                    f"the convergence subsample")
        return self.not_converged(last)

    def converged_attack(self, last: pd.DataFrame, robust_statement: str) -> None:
        """C2's robustness row on the strongest attack, the convergence study's last level (its
        subsample of points), at the claims' budget; not supported where it has not converged.
        (No "nets broken" row: the study has no clean accuracy on its subsample.)"""
        attacked = per_seed(last.assign(accuracy=last["cumulative"]), "accuracy")
        points = "on the convergence subsample"
        unconverged = self.not_converged(last)
        levels = (f"{int(last['steps'].iloc[0])} steps x {int(last['restarts'].iloc[0])} "
                  f"restarts per surrogate, {int(last['square_queries'].iloc[0])} queries")
        self.versus(attacked, f"robust accuracy under the converged attack ({points})",
                    "supervised, converged attack", "C2", robust_statement,
                    self.source("supervised_convergence"), evidence=CONVERGED,
                    smallest_effect=self.protocol["accuracy_gain"],
                    criterion=self.robust_criterion(attacked, self.adversarial,
                                                    "accuracy under the converged attack"),
                    unconverged=unconverged, extra=f"last level: {levels}",
                    budget=self.at_reference)

    def rigorous_gap(self, robustness: pd.DataFrame) -> None:
        """Where the certified bound is informative: the adversarial nets' certified accuracy
        (a lower bound) minus the clean nets' worst case (an upper bound): a difference of
        bounds, not of estimates."""
        if not {"certified", "worst_case"} <= set(self.attacks):
            return
        sure = per_seed(at_attack(robustness, self.attack("certified")), "accuracy")
        worst = per_seed(at_attack(robustness, self.attack("worst_case")), "accuracy")
        if sure.empty or worst.empty or self.descriptive_reason("certified", sure):
            return
        values = (sure[self.adversarial] - worst[self.clean]).dropna()
        self.table.add("C2", "supervised, certified vs worst case",
                       f"the adversarial nets' certified accuracy at {self.budget} exceeds the "
                       f"clean nets' attacked accuracy by at least "
                       f"{self.protocol['accuracy_gain']:g}",
                       f"certified {self.adversarial} - worst case {self.clean}",
                       "none: a lower bound against an upper bound", values,
                       evidence=CERTIFIED, smallest_effect=self.protocol["accuracy_gain"],
                       lower_bound=True, known=HOLDS_FOR_IDEAL, budget=self.at_reference,
                       source=self.source("supervised_robustness"))

    def exact_gap(self) -> None:
        """Exact verification on a subsample (rule exact_verification), at each of its budgets:
        the adversarial nets' exact robust accuracy's lower bound minus the clean nets' upper
        bound, a difference of bounds. Descriptive: a few points per net, at budgets below the
        claims' (where the solver decides in seconds); the width says how closed the sandwich
        is, the undecided share how much the time limit left open."""
        exact = self.read("supervised_exact")
        if exact is None or exact.empty:
            return
        for (norm, eps), part in exact.groupby(["norm", "eps"]):
            lower, upper = per_seed(part, "lower"), per_seed(part, "upper")
            if not {self.clean, self.adversarial} <= set(lower.columns):
                continue
            values = (lower[self.adversarial] - upper[self.clean]).dropna()
            points = int(part["points"].max())
            undecided = part["undecided"].sum() / part["points"].sum()
            ranges = "; ".join(
                f"{v} [{lower[v].mean():.3f}, {upper[v].mean():.3f}]"
                for v in (self.clean, self.adversarial))
            self.table.add(
                "C2", f"supervised, exact, {norm} eps={eps:g}",
                f"the adversarial nets' exact robust accuracy at {norm} eps={eps:g} exceeds the "
                f"clean nets' by at least {self.protocol['accuracy_gain']:g}",
                f"exact lower bound {self.adversarial} - exact upper bound {self.clean}",
                "none: a lower bound against an upper bound", values, evidence=EXACT,
                smallest_effect=self.protocol["accuracy_gain"], lower_bound=True,
                descriptive=(f"exact on a subsample of {points} points per net, below the "
                             "claims' budget: shown, not deciding"),
                detail=(f"exact robust accuracy [lower, upper], mean over seeds: {ranges}; "
                        f"mean width {part['width'].mean():.3f}, undecided {undecided:.3f}; "
                        f"ensemble on the same points {part['attack_accuracy'].mean():.3f}"),
                source=self.source("supervised_exact"))

    def node_movement(self) -> None:
        """C2's "the hidden nodes are vulnerable", as worded: the share of the clean nets' node
        activities that an attack at the claims' budget flips (the movement attack's), at least
        ``movement_gain``; its known answer is the ideal, whose nodes such an attack should not
        flip. (v2 compared the relative movement of clean and adversarial nets instead.)"""
        gain = self.protocol["movement_gain"]
        frame = self.read("supervised_movement")
        flips = self.options["nodes_rule"] == "flips"
        statement = (f"without adversarial training the hidden nodes are vulnerable: an attack "
                     f"at {self.budget} flips at least {gain:g} of the clean nets' node "
                     "activities" if flips else
                     f"without adversarial training the hidden nodes are vulnerable: an attack "
                     f"at {self.budget} moves the clean nets' representation, relative to its "
                     f"size, at least {gain:g} more than the adversarial nets'")
        if frame is None:
            self.table.missing("C2", "supervised, nodes moved", statement, "",
                               "movement.csv missing")
            return
        at = frame[(frame["norm"] == self.reference["norm"])
                   & np.isclose(frame["eps"], self.reference["eps"])]
        moved, flipped = per_seed(at, "relative_movement"), per_seed(at, "flip_share")
        detail = (f"nodes flipped {means_text(flipped, [self.clean, self.adversarial])}; "
                  f"relative movement {means_text(moved, [self.clean, self.adversarial])}")
        if flips:
            values = flipped[self.clean] if self.clean in flipped else pd.Series(dtype=float)
            self.table.add("C2", "supervised, nodes moved", statement,
                           f"share of {self.clean}'s node activities flipped by the movement "
                           f"attack at {self.budget}", "none: an absolute measure", values,
                           evidence=ENSEMBLE, smallest_effect=gain, known=FAILS_FOR_IDEAL,
                           budget=self.at_reference, detail=detail,
                           source=self.source("supervised_movement"))
            return
        support, against = self.effect(moved, self.clean, self.adversarial)
        self.table.add(
            "C2", "supervised, nodes moved", statement,
            f"worst movement in the {self.budget} ball / ||h(z)||: {self.clean} - "
            f"{self.adversarial}, beyond the control", self.control, support, contra=against,
            evidence=ENSEMBLE, smallest_effect=gain, known=HOLDS_FOR_IDEAL,
            budget=self.at_reference, detail=detail, source=self.source("supervised_movement"))

    # ---------------------------------------------------------------- C2, C5 over budgets

    def budget_range(self) -> None:
        """C2's and C5's "robust" hypotheses at every budget of the sandwich grid, each on two
        kinds of evidence: the attack ensemble (the effect in excess of the control, and the
        adversarial nets' attacked accuracy as the absolute criterion), and the rigorous
        difference of bounds (the adversarial nets' certified accuracy minus the clean nets'
        attacked accuracy, and their certified accuracy as the criterion). An ensemble row can be
        supported only where the convergence study measured the attack converged at that
        budget; a certified row is descriptive where the bound certifies nothing. Each row's
        ``group`` (claim and scope), ``norm``, ``eps``, ``basis`` (ensemble / bounds) and both
        variants' mean attacked accuracy go to ``self.budget_labels``."""
        gain, robust = self.protocol["accuracy_gain"], self.protocol["robust"]
        sources = [("C2", "supervised", "the pre-trained nets", "supervised_robustness")]
        sources += [("C5", f"downstream after {task} pre-training",
                     "a clean-trained head on the purified (adversarially pre-trained) layer",
                     f"downstream_{task}") for task in ("supervised", "contrastive")]
        for claim, scope, subject, key in sources:
            frame = self.read(key)
            if frame is None:
                continue
            sandwich = frame[frame["attack"].isin(["worst_case", "certified"])]
            for (norm, eps), part in sandwich.groupby(["norm", "eps"]):
                budget = {"norm": norm, "eps": float(eps)}
                text = f"{norm} eps={eps:g}"
                statement = (f"{scope}: adversarial pre-training makes {subject} robust at "
                             f"{text}: robust accuracy at least {gain:g} above clean "
                             f"pre-training's and at least {robust:g}")
                worst = per_seed(part[part["attack"] == "worst_case"], "accuracy")
                sure = per_seed(part[part["attack"] == "certified"], "accuracy")
                if {self.clean, self.adversarial} - set(worst.columns):
                    continue
                last = self.converged_study(budget) if claim == "C2" else None
                unconverged = (self.ensemble_guard(last) if last is not None else
                               "the attack's convergence is not measured at this budget")
                self.versus(worst, f"accuracy under worst_case {text}", f"{scope}, {text}",
                            claim, statement, self.source(key), evidence=ENSEMBLE,
                            smallest_effect=gain, unconverged=unconverged,
                            budget=(norm, float(eps)),
                            criterion=self.robust_criterion(worst, self.adversarial,
                                                            f"accuracy under worst_case {text}"))
                labels = {"group": f"{claim}, {scope}", "norm": norm, "eps": float(eps),
                          "clean_worst_case": worst[self.clean].mean(),
                          "adversarial_worst_case": worst[self.adversarial].mean()}
                self.budget_labels.append({**labels, "basis": "ensemble"})
                if {self.clean, self.adversarial} - set(sure.columns):
                    continue
                self.table.add(
                    claim, f"{scope}, {text}", statement,
                    f"certified {self.adversarial} - worst case {self.clean} at {text}",
                    "none: a lower bound against an upper bound",
                    (sure[self.adversarial] - worst[self.clean]).dropna(), evidence=CERTIFIED,
                    smallest_effect=gain,
                    criterion=self.robust_criterion(sure, self.adversarial,
                                                    f"certified accuracy at {text}"),
                    descriptive=self.descriptive_reason("certified", sure), lower_bound=True,
                    known=HOLDS_FOR_IDEAL, budget=(norm, float(eps)),
                    detail="certified " + means_text(sure, [self.clean, self.adversarial])
                           + "; worst case " + means_text(worst, [self.clean, self.adversarial]),
                    source=self.source(key))
                self.budget_labels.append({**labels, "basis": "bounds"})

    # ---------------------------------------------------------------- positive control

    def positive_control(self) -> None:
        """C5's hypothesis where it is true by construction. At the small budgets a unit-norm
        purified node's input moves less than the gaps between the gate's threshold and a
        feature or the noise, so a clean head on the perfectly purified layer (the baseline) is
        robust there and, reading every feature, at least as accurate as the clean layer's: it
        must come out *supported* on certified evidence, its certified accuracy (a lower bound)
        at least the gain above the clean layer's head's attacked accuracy (an upper bound) and
        at least the robust threshold. The blend study's pure end keeps the clean layer's row
        norms and may read a feature twice and miss another, so only its robustness is true by
        construction: its certified accuracy must clear the threshold. A pipeline that cannot
        say *supported* here cannot say it anywhere."""
        gain, robust = self.protocol["accuracy_gain"], self.protocol["robust"]
        baselines, clean_heads = self.read("downstream_baselines"), self.read(
            "downstream_supervised")
        blend = self.read("downstream_blend")
        pure = None if blend is None else blend.loc[blend["blend"] == blend["blend"].max(),
                                                    "variant"].iloc[0]
        for norm, eps in sorted(self.small_budgets.items()):
            budget = f"{norm} eps={eps:g}"
            statement = (f"positive control: a clean-trained head on the perfectly purified "
                         f"layer (rows +-M_j) is robust at {budget}: its certified accuracy at "
                         f"least {gain:g} above the attacked accuracy of the head on the clean "
                         f"layer after supervised pre-training, and at least {robust:g}")
            sure = self.accuracy_at(baselines, "purified", norm, eps)
            worst = self.accuracy_at(clean_heads, self.clean, norm, eps, "worst_case")
            if sure is None or worst is None:
                self.table.missing(POSITIVE_CONTROL, f"purified layer, {budget}", statement, "",
                                   f"no certified purified layer or attacked {self.clean} head "
                                   f"at {budget}")
            else:
                self.table.add(
                    POSITIVE_CONTROL, f"purified layer, {budget}", statement,
                    f"certified purified - worst case {self.clean}",
                    "none: a lower bound against an upper bound", (sure - worst).dropna(),
                    evidence=CERTIFIED, smallest_effect=gain, lower_bound=True,
                    criterion=Criterion(f"certified accuracy of purified >= {robust:g}", sure,
                                        robust),
                    detail=f"certified purified {sure.mean():.3f}; worst case {self.clean} "
                           f"{worst.mean():.3f}",
                    source=self.source("downstream_baselines"))
            statement = (f"positive control: a clean-trained head on the clean layer with its "
                         f"nodes moved onto their main features (the blend study's pure end) "
                         f"is robust at {budget}: certified accuracy at least {robust:g}")
            sure = self.accuracy_at(blend, pure, norm, eps)
            if sure is None:
                self.table.missing(POSITIVE_CONTROL, f"blend study's pure end, {budget}", statement,
                                   "", f"no certified blend study's pure end at {budget}")
                continue
            self.table.add(POSITIVE_CONTROL, f"blend study's pure end, {budget}", statement,
                           f"certified accuracy of {pure} - {robust:g}",
                           "none: an absolute criterion", sure - robust, evidence=CERTIFIED,
                           smallest_effect=0.0, lower_bound=True,
                           detail=f"certified {pure} {sure.mean():.3f}",
                           source=self.source("downstream_blend"))

    @staticmethod
    def accuracy_at(frame: pd.DataFrame | None, variant: str | None, norm: str, eps: float,
                     attack: str = "certified") -> pd.Series | None:
        """Per seed: ``variant``'s accuracy under ``attack`` at (norm, eps), or None."""
        if frame is None or variant is None:
            return None
        table = per_seed(at_attack(frame, {"attack": attack, "norm": norm, "eps": eps}),
                         "accuracy")
        return table[variant] if variant in table else None

    # ---------------------------------------------------------------- C4: pairs

    def pairs(self) -> None:
        """C4's asymmetry and its closing, on the protocol's pair statistic (the accuracy drop
        per pair type: bounded and scale-free, so neither pair type's operating point decides
        the sign), with the other statistics as descriptive rows."""
        gap_size, most = self.protocol["pair_gap"], self.protocol["most"]
        pair_loss = self.read("pair_loss")
        chosen = self.options["pair_statistic"]
        first = (f"attacks at {self.budget} hurt dissimilar pairs more than similar pairs before "
                 f"purification: the clean nets' {PAIR_STATISTICS[chosen]} is at least "
                 f"{gap_size:g} larger on dissimilar pairs than on similar ones, beyond the "
                 "untrained layer's")
        closes = (f"adversarial training closes most of that gap: at least {most:g} of the clean "
                  "nets' gap, beyond the twin's share")
        if pair_loss is None:
            for statement in (first, closes):
                self.table.missing("C4", "contrastive", statement, "", "pair_loss.csv missing")
            return
        names = [a for a in self.attacks if a in set(pair_loss["attack"])]
        if not any(EVIDENCE.get(a) != PAPER_ATTACK for a in names):
            self.table.missing(
                "C4", "contrastive, attack ensemble", first, "",
                "only the paper's attacks are run on the pair losses (the gate masks their "
                "gradient on dissimilar pairs): no deciding evidence yet")
        for name in names:
            attack = self.attack(name)
            label = attack_label(attack)
            paper = EVIDENCE.get(name) == PAPER_ATTACK
            for statistic, what in PAIR_STATISTICS.items():
                gaps, accuracy = pair_gaps(pair_loss, attack, statistic)
                if gaps.empty:
                    continue
                gap = gaps.pivot_table(index="seed", columns="variant", values="gap")
                if statistic != chosen:  # another reading of the asymmetry: shown beside
                    self.table.add(
                        "C4", f"contrastive, {name}, {statistic}", first,
                        f"{what} under {label}, dissimilar - similar: {self.clean} - "
                        f"{self.untrained}", "none", gap.get(self.clean, np.nan)
                        - gap.get(self.untrained, np.nan), evidence=EVIDENCE.get(name, name),
                        smallest_effect=gap_size,
                        descriptive=("another statistic of the asymmetry (the multiverse "
                                     "decides by it): shown, not deciding"),
                        detail=f"gap {means_text(gap, [self.clean, self.untrained, self.ideal])}",
                        source=self.source("pair_loss"))
                    continue
                self.pair_rows(name, label, gap, accuracy, first, closes, what, paper)

    def pair_rows(self, name, label, gap, accuracy, first, closes, what, paper) -> None:
        """C4's two deciding rows on one attack's gap table (seed x variant)."""
        gap_size, most = self.protocol["pair_gap"], self.protocol["most"]
        guard = self.protocol["pair_accuracy_guard"]
        descriptive = PAPER_ATTACK_REASON if paper else None
        support, against = self.effect(gap, self.clean, self.untrained)
        self.table.add(
            "C4", f"contrastive, {name}", first,
            f"{what} under {label}, dissimilar - similar: {self.clean} - {self.untrained}, "
            "beyond the control", self.control, support, contra=against,
            evidence=EVIDENCE.get(name, name), smallest_effect=gap_size,
            descriptive=descriptive, known=FAILS_FOR_IDEAL, budget=self.at_reference,
            unconverged=UNCONVERGED_PAIRS,
            detail=f"gap {means_text(gap, [self.clean, self.untrained, self.twin])}",
            source=self.source("pair_loss"))
        if self.clean not in gap or self.adversarial not in gap:
            return
        # The share of the clean nets' gap that a variant closes, per seed.
        share = 1 - gap.div(gap[self.clean], axis=0)
        balanced = accuracy.get(self.adversarial, np.nan)
        guards = [] if balanced >= guard else [
            f"{self.adversarial}'s balanced clean pair accuracy {balanced:.2f} (ties half) is "
            f"below {guard:g}: a near-constant representation closes any gap"]
        if not gap[self.clean].mean() >= gap_size:  # a share of no gap is no closing
            guards.append(f"the clean nets' gap {gap[self.clean].mean():.3f} is below "
                          f"{gap_size:g}: there is no gap to close")
        twin = share[self.twin].abs() if self.twin in share else 0.0
        self.table.add(
            "C4", f"contrastive, {name}, adversarial", closes,
            f"share of the {self.clean} gap closed: {self.adversarial}, beyond the control",
            f"|share closed by {self.twin}|", share[self.adversarial] - twin,
            contra=share[self.adversarial] + twin,
            evidence=EVIDENCE.get(name, name), smallest_effect=most,
            guard="; ".join(guards) or None, descriptive=descriptive, known=HOLDS_FOR_IDEAL,
            budget=self.at_reference, unconverged=UNCONVERGED_PAIRS,
            detail="share closed " + means_text(share, [self.adversarial, self.twin])
                   + "; balanced clean pair accuracy (ties half) " + ", ".join(
                       f"{v} {a:.2f}" for v, a in accuracy.items()),
            source=self.source("pair_loss"))

    def mainly_dissimilar(self) -> None:
        mainly = self.protocol["most"]
        statement = (f"adversarial training purifies mainly through the dissimilar pairs: "
                     f"attacking only them recovers at least {mainly:g} of the all-pairs gain in "
                     "mean purity over clean training, and more than attacking only similar "
                     "pairs")
        study = self.read("pair_attack")
        scope = "contrastive, pair-attack study"
        if study is None:
            self.table.missing("C4", scope, statement, "",
                               "the pair-attack study is not in the workflow")
            return
        measure = "purity_all" if "purity_all" in set(study["measure"]) else "purity"
        purity = study[study["measure"] == measure]
        by_pairs = purity[purity["variant"].isin([self.adversarial, self.clean])].pivot_table(
            index="seed", columns="attacked_pairs", values="value")
        if not {"none", "all", "similar", "dissimilar"} <= set(by_pairs.columns):
            self.table.missing("C4", scope, statement, "",
                               f"{self.adversarial} is not in the pair-attack study")
            return
        gain = by_pairs["all"] - by_pairs["none"]
        shares = by_pairs[["similar", "dissimilar"]].sub(by_pairs["none"], axis=0).div(
            gain.where(gain > 0), axis=0)
        # The statement apportions a purification: without one (all-pairs purity below C3's
        # criterion) a share of a gain in purity says nothing about purifying.
        guards = []
        if gain.mean() < self.protocol["purity_gain"]:
            guards.append(f"the all-pairs {measure} gain {gain.mean():.3f} is below "
                          f"{self.protocol['purity_gain']:g}: no gain to share")
        purifies = self.study_purifies(study)
        if purifies is not None:
            guards.append(purifies)
        self.table.add("C4", scope, statement,
                       f"share of the all-pairs {measure} gain recovered by attacking "
                       "dissimilar pairs only", f"stated share {mainly:g}",
                       shares["dissimilar"], evidence=MEASURED, smallest_effect=mainly,
                       criterion=Criterion("dissimilar-only share - similar-only share > 0",
                                           shares["dissimilar"] - shares["similar"], 0.0),
                       guard="; ".join(guards) or None,
                       detail=f"{measure} by pairs attacked: "
                              + means_text(by_pairs, list(by_pairs.columns))
                              + "; shares " + means_text(shares, ["similar", "dissimilar"]),
                       source=self.source("pair_attack"))

    def study_purifies(self, study: pd.DataFrame) -> str | None:
        """Why attacking all pairs (the adversarial variant of the pair-attack study) does not
        purify by C3's criterion (the protocol's purity rule), or None."""
        purified, coverage = self.protocol["purified"], self.protocol["coverage"]
        all_pairs = study[study["variant"] == self.adversarial]
        if "attacked_pairs" in all_pairs:
            all_pairs = all_pairs[all_pairs["attacked_pairs"] == "all"]
        mean = all_pairs.groupby("measure")["value"].mean()
        if self.options["purity_rule"] == "all_nodes" or "coverage" not in mean:
            if not mean.get("purity_all", np.nan) >= purified:
                return (f"attacking all pairs does not purify (purity_all "
                        f"{mean.get('purity_all', np.nan):.3f} < {purified:g}, C3's criterion): "
                        "no purification to apportion")
            return None
        if not (mean.get("purity", np.nan) >= purified and mean["coverage"] >= coverage):
            return (f"attacking all pairs does not purify (live purity "
                    f"{mean.get('purity', np.nan):.3f}, coverage {mean['coverage']:.3f}; C3's "
                    f"criterion {purified:g}, {coverage:g}): no purification to apportion")
        return None

    # ---------------------------------------------------------------- C5: downstream

    def downstream(self, task: str) -> None:
        gain, robust = self.protocol["accuracy_gain"], self.protocol["robust"]
        frame = self.read(f"downstream_{task}")
        statement = (f"after {task} pre-training, a clean-trained head on the purified "
                     f"(adversarially pre-trained) layer is robust at {self.budget}: robust "
                     f"accuracy at least {gain:g} above the head on the clean layer and at least "
                     f"{robust:g}")
        not_robust = (f"after {task} pre-training, the clean-trained head on the clean layer is "
                      f"not robust at {self.budget}: robust accuracy below {robust:g}")
        scope = f"downstream after {task} pre-training"
        if frame is None:
            self.table.missing("C5", scope, statement, "", "downstream.csv missing")
            return
        for name in self.attacks:
            label = attack_label(self.attack(name))
            attacked = per_seed(at_attack(frame, self.attack(name)), "accuracy")
            if attacked.empty:
                continue
            descriptive = self.descriptive_reason(name, attacked)
            self.versus(attacked, f"downstream accuracy under {label}", f"{scope}, {name}",
                        "C5", statement, self.source(f"downstream_{task}"),
                        evidence=EVIDENCE.get(name, name), smallest_effect=gain,
                        criterion=self.robust_criterion(attacked, self.adversarial,
                                                        f"accuracy under {label}"),
                        descriptive=descriptive, lower_bound=name == "certified",
                        unconverged=UNCONVERGED_DOWNSTREAM if name == "worst_case" else None,
                        budget=self.at_reference)
            if name == "worst_case" and self.clean in attacked:
                # An attack's accuracy is an upper bound: below the threshold, the head is
                # shown not robust.
                self.table.add("C5", f"{scope}, {name}, clean layer", not_robust,
                               f"{robust:g} - accuracy of {self.clean}'s head under {label}",
                               "none: an absolute criterion", robust - attacked[self.clean],
                               evidence=ENSEMBLE, smallest_effect=0.0, known=FAILS_FOR_IDEAL,
                               budget=self.at_reference,
                               source=self.source(f"downstream_{task}"))
        self.downstream_bounds(frame, scope, statement, f"downstream_{task}")

    def downstream_bounds(self, frame: pd.DataFrame, scope: str, statement: str, key: str
                          ) -> None:
        """C5 on rigorous evidence, which needs no attack to converge: the adversarial layer's
        heads' certified accuracy (a lower bound) minus the clean layer's heads' attacked
        accuracy (an upper bound), criterion their certified accuracy."""
        gain = self.protocol["accuracy_gain"]
        sure = per_seed(at_attack(frame, self.attack("certified")), "accuracy")
        worst = per_seed(at_attack(frame, self.attack("worst_case")), "accuracy")
        if ({self.clean, self.adversarial} - set(worst.columns)
                or self.adversarial not in sure or self.descriptive_reason("certified", sure)):
            return
        self.table.add(
            "C5", f"{scope}, certified vs worst case", statement,
            f"certified {self.adversarial} - worst case {self.clean}",
            "none: a lower bound against an upper bound",
            (sure[self.adversarial] - worst[self.clean]).dropna(), evidence=CERTIFIED,
            smallest_effect=gain, lower_bound=True, known=HOLDS_FOR_IDEAL,
            budget=self.at_reference,
            criterion=self.robust_criterion(sure, self.adversarial, "certified accuracy"),
            detail="certified " + means_text(sure, [self.clean, self.adversarial])
                   + "; worst case " + means_text(worst, [self.clean, self.adversarial]),
            source=self.source(key))


def pair_gaps(pair_loss: pd.DataFrame, attack: Mapping, statistic: str = "accuracy_drop"
              ) -> tuple[pd.DataFrame, dict]:
    """Per (variant, seed): each pair type's ``statistic`` under ``attack`` and ``gap`` =
    dissimilar - similar; and each variant's balanced clean pair accuracy (the mean over the
    two pair types, ties counted half where the CSV has them: 0.5 for a constant
    representation). Statistics: ``accuracy_drop`` (clean - attacked pair accuracy: the share
    of pairs the attack flips; bounded and scale-free), ``loss_increase`` (attacked - clean
    loss), ``relative_loss_increase`` (attacked / clean loss - 1, which divides by each pair
    type's operating point). Empty where the attack's rows lack the statistic's column."""
    keys = ["variant", "seed", "pair_type"]
    attacked = at_attack(pair_loss, attack)
    accuracy = ("accuracy_ties_half" if "accuracy_ties_half" in attacked
                and attacked["accuracy_ties_half"].notna().all() else "accuracy")
    # The clean rows of the same attack where it has them (the ensemble's eps 0), else eps 0.
    clean = pair_loss[(pair_loss["eps"] == 0) & (pair_loss["attack"] == attack["attack"])]
    if clean.empty:
        clean = pair_loss[pair_loss["eps"] == 0]
    clean = clean.groupby(keys)[["loss", accuracy]].mean()
    attacked = attacked.groupby(keys)[["loss", accuracy]].mean()
    if statistic == "accuracy_drop":
        value = clean[accuracy] - attacked[accuracy]
    elif statistic == "loss_increase":
        value = attacked["loss"] - clean["loss"]
    else:
        value = attacked["loss"] / clean["loss"].clip(lower=1e-12) - 1
    value = value.dropna()
    if value.empty:
        return pd.DataFrame(columns=["variant", "seed", "gap"]), {}
    increase = value.unstack("pair_type")
    increase["gap"] = increase["dissimilar"] - increase["similar"]
    balanced = clean[accuracy].groupby(["variant", "pair_type"]).mean().groupby(
        "variant").mean()
    return increase.reset_index(), balanced.to_dict()
