"""Claims C1-C5 from the simulation CSVs: each statement is the protocol's hypothesis
(docs/claims_protocol.md), tested against its control with its smallest effect and, where it
uses an absolute word, its absolute criterion (``table``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import (
    CERTIFIED,
    CONVERGED,
    ENSEMBLE,
    EXACT,
    MEASURED,
    PAPER_ATTACK,
    POSITIVE_CONTROL,
    Criterion,
    Table,
    excess,
    means_text,
    per_seed,
)
from advpretrain.core.canonical import plain
from advpretrain.core.tables import at_attack, attack_label, read_csvs

EVIDENCE = {"worst_case": ENSEMBLE, "certified": CERTIFIED, "pgd": PAPER_ATTACK,
            "fgm": PAPER_ATTACK}
PAPER_ATTACK_REASON = ("the paper's own-gradient attack overstates robustness (the attack "
                       "ensemble breaks what it misses): shown, not deciding")


class Claims:
    """The rows of claims C1-C5 from the simulation CSVs."""

    def __init__(self, settings: Mapping, inputs: Mapping):
        claims = settings["claims"]
        self.table = Table(claims)
        self.protocol = plain(claims["protocol"])
        self.clean, self.adversarial = claims["clean_variant"], claims["adversarial_variant"]
        self.twin, self.untrained = claims["twin_variant"], claims["untrained_variant"]
        self.attacks = list(claims["attacks"])
        self.reference = plain(settings["reference"])
        self.inputs = inputs
        self.control = f"|{self.twin} - {self.clean}| (re-seeded clean twin)"
        self.budget = f"{self.reference['norm']} eps={self.reference['eps']:g}"
        self.tolerance = float(settings["convergence_tolerance"])
        self.small_budgets = {norm: float(eps) for norm, eps in settings["small_budgets"].items()}
        self.budget_labels: list[dict] = []  # group, budget, basis of each budget_range row

    def read(self, key: str) -> pd.DataFrame | None:
        return read_csvs(self.inputs.get(key, []))

    def source(self, key: str) -> str:
        return ", ".join(self.inputs.get(key, []))

    def attack(self, name: str) -> dict:
        return {"attack": name, **self.reference}

    def versus(self, table, measure, scope, claim, statement, source, *, evidence,
               smallest_effect, criterion=None, descriptive=None, guard=None, extra="",
               lower_bound=False):
        """Row: adversarial minus clean ``measure``, in excess of the twin control."""
        names = [self.clean, self.adversarial, self.twin, self.untrained]
        self.table.add(claim, scope, statement,
                       f"{measure}: {self.adversarial} - {self.clean}, minus the control",
                       self.control, excess(table, self.adversarial, self.clean, self.clean,
                                            self.twin),
                       evidence=evidence, smallest_effect=smallest_effect, criterion=criterion,
                       descriptive=descriptive, guard=guard, lower_bound=lower_bound,
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
        statement = (f"{task} adversarial pre-training raises the mean purity of all hidden nodes "
                     f"(dead nodes counted) by at least {gain:g} over clean pre-training, and "
                     f"purifies them: its mean purity is at least {purified:g} (one feature "
                     "carries more than half of a node's squared weight)")
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
        self.versus(measures["purity_all"], "mean purity of all nodes", task, claim, statement,
                    self.source(f"{task}_summary"), evidence=MEASURED, smallest_effect=gain,
                    criterion=Criterion(f"mean purity of {self.adversarial} >= {purified:g}",
                                        measures["purity_all"].get(self.adversarial,
                                                                   pd.Series(dtype=float)),
                                        purified),
                    extra=shares)
        for name, what, why in (
                ("purity", "mean purity of live nodes",
                 "selection: dropping dead nodes can raise it without purifying any node"),
                ("functional_purity", "functional purity of live nodes (share of a node's "
                 "firings with its main feature present)",
                 "what makes nodes fire, beside what they read: shown, not deciding")):
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
        values = clean[self.adversarial] - clean[self.clean] + margin
        self.table.add("C1", "supervised, clean accuracy", statement,
                       f"clean accuracy: {self.adversarial} - {self.clean} + margin "
                       "(non-inferiority)", f"stated margin {margin:g}", values,
                       evidence=MEASURED, smallest_effect=0.0,
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
            guard = self.ensemble_guard(converged) if name == "worst_case" else None
            self.versus(attacked, f"accuracy under {label}", f"supervised, {name}", "C2",
                        robust_statement, self.source("supervised_robustness"),
                        evidence=EVIDENCE.get(name, name), smallest_effect=gain,
                        criterion=self.robust_criterion(attacked, self.adversarial,
                                                        f"accuracy under {label}"),
                        descriptive=descriptive, guard=guard, lower_bound=name == "certified")
            if name == "certified":  # a bound on the loss is not a loss: no collapse row
                continue
            drop = clean - attacked  # per seed and variant: accuracy lost to the attack
            self.table.add(
                "C2", f"supervised, {name}, nets broken", broken_statement,
                f"accuracy lost to {label}: {self.clean} - {self.adversarial}, minus control",
                self.control, excess(drop, self.clean, self.adversarial, self.clean, self.twin),
                evidence=EVIDENCE.get(name, name), smallest_effect=gain,
                descriptive=descriptive, guard=guard,
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
        guard = self.not_converged(last)
        levels = (f"{int(last['steps'].iloc[0])} steps x {int(last['restarts'].iloc[0])} "
                  f"restarts per surrogate, {int(last['square_queries'].iloc[0])} queries")
        self.versus(attacked, f"robust accuracy under the converged attack ({points})",
                    "supervised, converged attack", "C2", robust_statement,
                    self.source("supervised_convergence"), evidence=CONVERGED,
                    smallest_effect=self.protocol["accuracy_gain"],
                    criterion=self.robust_criterion(attacked, self.adversarial,
                                                    "accuracy under the converged attack"),
                    guard=guard, extra=f"last level: {levels}")

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
                       lower_bound=True, source=self.source("supervised_robustness"))

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
        gain = self.protocol["movement_gain"]
        statement = (f"without adversarial training the hidden nodes are vulnerable: an attack "
                     f"at {self.budget} moves the clean nets' representation, relative to its "
                     f"size, at least {gain:g} more than the adversarial nets'")
        frame = self.read("supervised_movement")
        if frame is None:
            self.table.missing("C2", "supervised, nodes moved", statement, "",
                               "movement.csv missing")
            return
        at = frame[(frame["norm"] == self.reference["norm"])
                   & np.isclose(frame["eps"], self.reference["eps"])]
        moved, flipped = per_seed(at, "relative_movement"), per_seed(at, "flip_share")
        self.table.add(
            "C2", "supervised, nodes moved", statement,
            f"worst movement in the {self.budget} ball / ||h(z)||: {self.clean} - "
            f"{self.adversarial}, minus the control", self.control,
            excess(moved, self.clean, self.adversarial, self.clean, self.twin),
            evidence=ENSEMBLE, smallest_effect=gain,
            detail=f"relative movement {means_text(moved, [self.clean, self.adversarial])}; "
                   f"nodes flipped {means_text(flipped, [self.clean, self.adversarial])}",
            source=self.source("supervised_movement"))

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
                guard = (self.ensemble_guard(last) if last is not None else
                         "the attack's convergence is not measured at this budget")
                self.versus(worst, f"accuracy under worst_case {text}", f"{scope}, {text}",
                            claim, statement, self.source(key), evidence=ENSEMBLE,
                            smallest_effect=gain, guard=guard,
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
        gap_size, most = self.protocol["pair_gap"], self.protocol["most"]
        guard = self.protocol["pair_accuracy_guard"]
        pair_loss = self.read("pair_loss")
        first = (f"attacks at {self.budget} hurt dissimilar pairs more than similar pairs before "
                 f"purification: the clean nets' relative loss increase is at least {gap_size:g}"
                 " larger on dissimilar pairs than on similar ones, beyond the untrained layer's")
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
            gaps, accuracy = pair_gaps(pair_loss, attack)
            gap = gaps.pivot_table(index="seed", columns="variant", values="gap")
            label = attack_label(attack)
            descriptive = PAPER_ATTACK_REASON if EVIDENCE.get(name) == PAPER_ATTACK else None
            self.table.add(
                "C4", f"contrastive, {name}", first,
                f"relative loss increase under {label} (attacked / clean loss - 1), dissimilar"
                f" - similar: {self.clean} - {self.untrained}, minus the control", self.control,
                excess(gap, self.clean, self.untrained, self.clean, self.twin),
                evidence=EVIDENCE.get(name, name), smallest_effect=gap_size,
                descriptive=descriptive,
                detail=f"gap {means_text(gap, [self.clean, self.untrained, self.twin])}",
                source=self.source("pair_loss"))
            # The share of the clean nets' gap that a variant closes, per seed.
            share = 1 - gap.div(gap[self.clean], axis=0)
            balanced = accuracy.get(self.adversarial, np.nan)
            guards = [] if balanced >= guard else [
                f"{self.adversarial}'s balanced clean pair accuracy {balanced:.2f} is below "
                f"{guard:g}: a near-constant representation closes any gap"]
            if not gap[self.clean].mean() >= gap_size:  # a share of no gap is no closing
                guards.append(f"the clean nets' gap {gap[self.clean].mean():.3f} is below "
                              f"{gap_size:g}: there is no gap to close")
            self.table.add(
                "C4", f"contrastive, {name}, adversarial", closes,
                f"share of the {self.clean} gap closed: {self.adversarial}, minus the control",
                f"|share closed by {self.twin}|",
                share[self.adversarial] - share[self.twin].abs(),
                evidence=EVIDENCE.get(name, name), smallest_effect=most,
                guard="; ".join(guards) or None,
                descriptive=descriptive,
                detail="share closed " + means_text(share, [self.adversarial, self.twin])
                       + "; balanced clean pair accuracy " + ", ".join(
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
        purified = self.protocol["purified"]
        attacked_all = by_pairs["all"].mean()
        if not attacked_all >= purified:
            guards.append(f"attacking all pairs does not purify ({measure} {attacked_all:.3f} "
                          f"< {purified:g}, C3's criterion): no purification to apportion")
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
                        descriptive=descriptive, lower_bound=name == "certified")
            if name == "worst_case" and self.clean in attacked:
                # An attack's accuracy is an upper bound: below the threshold, the head is
                # shown not robust.
                self.table.add("C5", f"{scope}, {name}, clean layer", not_robust,
                               f"{robust:g} - accuracy of {self.clean}'s head under {label}",
                               "none: an absolute criterion", robust - attacked[self.clean],
                               evidence=ENSEMBLE, smallest_effect=0.0,
                               source=self.source(f"downstream_{task}"))


def pair_gaps(pair_loss: pd.DataFrame, attack: Mapping) -> tuple[pd.DataFrame, dict]:
    """Per (variant, seed): the relative loss increase under ``attack`` of each pair type
    (attacked / clean loss - 1: the increase in units of the pair type's own clean loss, so that
    a layer's weight scale, which multiplies every score, does not decide the comparison) and
    ``gap`` = dissimilar - similar; and each variant's balanced clean pair accuracy (the mean
    over the two pair types: 0.5 for a constant representation)."""
    keys = ["variant", "seed", "pair_type"]
    clean = pair_loss[pair_loss["eps"] == 0].groupby(keys)[["loss", "accuracy"]].mean()
    attacked = at_attack(pair_loss, attack).groupby(keys)["loss"].mean()
    increase = (attacked / clean["loss"].clip(lower=1e-12) - 1).dropna().unstack("pair_type")
    increase["gap"] = increase["dissimilar"] - increase["similar"]
    balanced = clean["accuracy"].groupby(["variant", "pair_type"]).mean().groupby(
        "variant").mean()
    return increase.reset_index(), balanced.to_dict()
