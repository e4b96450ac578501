"""The claims table: for each claim, a pre-registered hypothesis, its per-seed statistic against a
control, an interval and a four-way verdict (docs/claims_protocol.md, protocol v3).

Every simulation statistic is paired by seed: the variants of a seed share its data, its
minibatches and (except the re-seeded twin) its initialisation. A claim row compares a measure S
of two variants, D = S(a) - S(b) (e.g. adversarial minus clean pre-training), with what the
same comparison gives for no reason but chance: C = S(twin) - S(clean), the clean variant against
its re-seeded twin (claims.twin_variant). The control counts against whichever verdict is drawn:
support tests D - |C| against the smallest effect, contradiction tests D + |C| (``margins``).

Each row states the *smallest effect that matters* (``smallest_effect``) and, where its statement
uses an absolute word ("robust", "purified", "most", "mainly"), an *absolute criterion*: a
per-seed quantity that must reach a threshold. Intervals are two-sided Student t-intervals of the
per-seed mean at ``claims.confidence``. Verdicts, for the rows that decide (``decides``):

* *supported*: Holm's procedure over the family's one-sided tests of "mean > smallest effect"
  rejects, the absolute criterion's interval lies above its threshold, no guard fails and the
  attack behind the row converged (where that is known);
* *contradicted*: Holm's procedure over the family's reverse one-sided tests ("mean of D + |C| <
  smallest effect", "criterion < threshold"; two per row take twice the smaller p) rejects;
  a row on lower bounds is never contradicted, a row whose attack has not converged only
  through its absolute criterion (an attack's accuracy is an upper bound);
* *inconclusive*: neither; the reason says which part is undecided;
* *untestable*: the same rule, applied to the theory's known answer (``calibrate``), does not
  give the answer the theory gives: the rule cannot decide the statement here.

Rows that cannot decide a claim are *descriptive* (outside the family, with the reason): the
paper's own attack (which the attack ensemble shows overstating robustness) and certified bounds
that certify nothing. A row from one run is *indicative (one run)*; a row whose input was not
built is *not evaluated*, with why. Built from the workflow's CSVs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from advpretrain.core.statistics import holm, p_greater, p_less, t_interval

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
UNTESTABLE = "untestable"
# What the theory's ideal should get from a row's rule: the statement holds of it (the ideal
# stands in for the adversarial variant) or does not (it stands in for the clean variant).
HOLDS_FOR_IDEAL, FAILS_FOR_IDEAL = "adversarial", "clean"
DESCRIPTIVE, INDICATIVE, NOT_EVALUATED = "descriptive", "indicative (one run)", "not evaluated"
# Evidence levels of a robustness number, strongest first.
CERTIFIED, EXACT = "certified bound", "exact verification"
ENSEMBLE, PAPER_ATTACK = "attack ensemble (worst case)", "the paper's attack"
CONVERGED = "converged attack (budget doublings)"
POSITIVE_CONTROL = "control+"  # the claim name of the positive control's rows
AUTOATTACK, MEASURED = "AutoAttack and PGD-20 (per image)", "measured (no attack)"
COLUMNS = ["claim", "scope", "statement", "statistic", "control", "evidence", "n_seeds",
           "estimate", "ci_low", "ci_high", "smallest_effect", "criterion", "criterion_estimate",
           "criterion_low", "criterion_high", "p_value", "p_contra", "verdict", "reason",
           "known_answer", "detail", "source"]


@dataclass
class Criterion:
    """An absolute criterion: the per-seed ``values`` must reach ``threshold``."""

    text: str
    values: pd.Series
    threshold: float


def per_seed(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """(seed x variant) table of ``value`` (mean over any other rows)."""
    return frame.pivot_table(index="seed", columns="variant", values=value, aggfunc="mean")


def margins(table: pd.DataFrame, a: str, b: str, clean: str, twin: str
            ) -> tuple[pd.Series, pd.Series]:
    """Per seed: (D - |C|, D + |C|) with D = table[a] - table[b], C = table[twin] -
    table[clean]: the statistic support is tested on and the one contradiction is tested on."""
    needed = list(dict.fromkeys([a, b, clean, twin]))
    if not set(needed) <= set(table.columns):
        return pd.Series(dtype=float), pd.Series(dtype=float)
    table = table[needed].dropna()
    effect, control = table[a] - table[b], (table[twin] - table[clean]).abs()
    return effect - control, effect + control


def excess(table: pd.DataFrame, a: str, b: str, clean: str, twin: str) -> pd.Series:
    """Per seed: D - |C| (``margins``' first)."""
    return margins(table, a, b, clean, twin)[0]


class Table:
    """Collects claim rows; ``frame`` adds the verdicts (Holm over the deciding rows, for
    support and for contradiction)."""

    def __init__(self, settings: Mapping):
        self.confidence = settings["confidence"]
        self.alpha = settings["family_alpha"]
        self.rows = []

    def add(self, claim, scope, statement, statistic, control, values, *, evidence,
            smallest_effect=0.0, criterion: Criterion | None = None, guard: str | None = None,
            descriptive: str | None = None, lower_bound: bool = False, contra=None,
            unconverged: str | None = None, known: str | None = None, budget=None,
            detail="", source=""):
        """One row. ``values``: the per-seed statistic support is tested on; ``contra``: the one
        contradiction is tested on (default: ``values``; D + |C| where a control is
        subtracted). ``guard``: why the row cannot support its statement, or None;
        ``descriptive``: why the row is outside the family, or None; ``lower_bound``: the
        statistic and criterion are lower bounds of what the statement is about (a certified
        accuracy): never contradicted; ``unconverged``: why the attack behind the row is not
        known to have converged (no support; contradiction through the criterion only);
        ``known``: how the theory's ideal enters the rule's known-answer check (HOLDS_FOR_IDEAL,
        FAILS_FOR_IDEAL, or None: no known answer); ``budget``: (norm, eps) of a robustness
        row, checked for admissibility."""
        values = pd.Series(values, dtype=float).dropna()
        contra = values if contra is None else pd.Series(contra, dtype=float).dropna()
        estimate, low, high = t_interval(values, self.confidence)
        row = {"claim": claim, "scope": scope, "statement": statement, "statistic": statistic,
               "control": control, "evidence": evidence, "n_seeds": len(values),
               "estimate": estimate, "ci_low": low, "ci_high": high,
               "smallest_effect": float(smallest_effect),
               "criterion": "", "criterion_estimate": np.nan, "criterion_low": np.nan,
               "criterion_high": np.nan,
               "p_value": p_greater(values - smallest_effect), "p_contra": np.nan,
               "verdict": "", "reason": "", "known_answer": "", "detail": detail,
               "source": source, "_guard": guard, "_descriptive": descriptive,
               "_threshold": np.nan, "_lower_bound": lower_bound, "_unconverged": unconverged,
               "_known": known, "_budget": budget}
        p_contra = [] if lower_bound or unconverged else [p_less(contra - smallest_effect)]
        if criterion is not None:
            c_values = pd.Series(criterion.values, dtype=float).dropna()
            c_estimate, c_low, c_high = t_interval(c_values, self.confidence)
            row.update(criterion=criterion.text, criterion_estimate=c_estimate,
                       criterion_low=c_low, criterion_high=c_high,
                       _threshold=float(criterion.threshold))
            if not lower_bound:
                p_contra.append(p_less(c_values - criterion.threshold))
        p_contra = [p for p in p_contra if not np.isnan(p)]
        if p_contra:  # two reverse tests in one row: Bonferroni within the row
            row["p_contra"] = min(1.0, len(p_contra) * min(p_contra))
        self.rows.append(row)

    def missing(self, claim, scope, statement, statistic, why):
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "control": "", "evidence": "",
                          "n_seeds": 0, "estimate": np.nan, "ci_low": np.nan,
                          "ci_high": np.nan, "smallest_effect": np.nan, "criterion": "",
                          "criterion_estimate": np.nan, "criterion_low": np.nan,
                          "criterion_high": np.nan, "p_value": np.nan, "p_contra": np.nan,
                          "verdict": NOT_EVALUATED, "reason": why, "known_answer": "",
                          "detail": "", "source": "", "_guard": None, "_descriptive": None,
                          "_threshold": np.nan, "_lower_bound": False, "_unconverged": None,
                          "_known": None, "_budget": None})

    def deciding(self, frame: pd.DataFrame) -> pd.Series:
        """The rows in the family: not descriptive, two or more seeds, a p-value."""
        return (frame["_descriptive"].isna() & (frame["n_seeds"] >= 2)
                & frame["p_value"].notna() & (frame["verdict"] != NOT_EVALUATED))

    def frame(self, internal: bool = False) -> pd.DataFrame:
        """The rows with their verdicts; ``internal`` keeps the private columns (for
        ``calibrate``)."""
        frame = pd.DataFrame(self.rows)
        family = self.deciding(frame)
        rejected = pd.Series(False, index=frame.index)
        rejected[family] = holm(frame.loc[family, "p_value"], self.alpha)
        against = family & frame["p_contra"].notna()
        refuted = pd.Series(False, index=frame.index)
        refuted[against] = holm(frame.loc[against, "p_contra"], self.alpha)
        for i, row in frame.iterrows():
            if row["verdict"] == NOT_EVALUATED:
                continue
            if isinstance(row["_descriptive"], str):
                frame.at[i, "verdict"], frame.at[i, "reason"] = DESCRIPTIVE, row["_descriptive"]
            elif row["n_seeds"] == 1:
                frame.at[i, "verdict"], frame.at[i, "reason"] = INDICATIVE, "one seed"
            elif family[i]:
                frame.at[i, "verdict"], frame.at[i, "reason"] = verdict(row, rejected[i],
                                                                        refuted[i])
            else:
                frame.at[i, "verdict"], frame.at[i, "reason"] = NOT_EVALUATED, "no seeds"
        return frame if internal else frame[COLUMNS]


def verdict(row: Mapping, rejected: bool, refuted: bool = False) -> tuple[str, str]:
    """The verdict of a deciding row and its one-line reason: ``rejected`` (Holm, support) and
    ``refuted`` (Holm, the reverse tests)."""
    delta, threshold = row["smallest_effect"], row["_threshold"]
    has_criterion = not np.isnan(threshold)
    if refuted:  # name the reverse tests that fail (their interval lies below)
        effect_tested = not (_flag(row, "_lower_bound") or isinstance(row.get("_unconverged"),
                                                                         str))
        failing = []
        if effect_tested and row["ci_high"] < delta:
            failing.append(f"the effect is shown below the smallest effect {delta:g}")
        if has_criterion and row["criterion_high"] < threshold:
            failing.append(f"{row['criterion']} is shown to fail")
        if not failing:
            failing.append("the reverse tests reject")
        return CONTRADICTED, " and ".join(failing) + " (Holm, reverse tests)"
    missing = []
    if _flag(row, "_lower_bound") and (
            row["ci_high"] < delta or (has_criterion and row["criterion_high"] < threshold)):
        missing.append("the bound falls short, which shows nothing against the statement (a "
                       "lower bound)")
    if not rejected:
        missing.append(f"the effect is not shown to exceed {delta:g} (Holm)")
    if has_criterion and not row["criterion_low"] > threshold:
        missing.append(f"{row['criterion']} is not shown (interval reaches below {threshold:g})")
    for blocker in (row["_guard"], row.get("_unconverged")):
        if isinstance(blocker, str):
            missing.append(blocker)
    if missing:
        return INCONCLUSIVE, "; ".join(dict.fromkeys(missing))
    reason = f"the interval clears the smallest effect {delta:g}"
    if has_criterion:
        reason += f" and {row['criterion']}"
    return SUPPORTED, reason


def _flag(row: Mapping, key: str) -> bool:
    value = row.get(key)
    return isinstance(value, (bool, np.bool_)) and bool(value)


def calibrate(frame: pd.DataFrame, ideal: Mapping[str, pd.DataFrame],
              inadmissible: Mapping) -> pd.DataFrame:
    """The known-answer check of every deciding row (protocol v3). ``ideal``: for
    HOLDS_FOR_IDEAL and FAILS_FOR_IDEAL, the internal frame of the same rules with the ideal in
    place of the adversarial (resp. clean) variant, rows keyed by (claim, scope).
    ``inadmissible``: {(norm, eps): why} for budgets beyond the ideal's certified reach. A row
    whose ideal twin is not supported (HOLDS_FOR_IDEAL; inconclusive for want of the attack's
    convergence alone passes: that blocks the row's support too), is supported
    (FAILS_FOR_IDEAL), or whose budget is inadmissible becomes *untestable*; every checked row
    says what its ideal got."""
    frame = frame.copy()
    lookups = {kind: {(r["claim"], r["scope"]): r for _, r in twin.iterrows()}
               for kind, twin in ideal.items()}
    decided = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
    for i, row in frame.iterrows():
        kind = row["_known"] if isinstance(row["_known"], str) else None
        budget = row["_budget"] if isinstance(row["_budget"], tuple) else None
        if row["verdict"] not in decided:
            continue
        problems = []
        if budget is not None and tuple(budget) in inadmissible:
            problems.append(inadmissible[tuple(budget)])
        if kind is None:
            frame.at[i, "known_answer"] = "no known answer (no ideal enters this statement)"
        else:
            twin = lookups.get(kind, {}).get((row["claim"], row["scope"]))
            if twin is None:
                problems.append("the ideal was not measured for this rule")
            else:
                # An attack whose convergence is unknown blocks support of the ideal and of
                # the row alike: the rule is then checked on everything but that blocker.
                blocked = (twin["verdict"] == INCONCLUSIVE
                           and isinstance(twin["_unconverged"], str)
                           and twin["reason"] == twin["_unconverged"])
                got = (f"ideal: {twin['verdict']} ({twin['estimate']:.3f})"
                       + (", for want of convergence only" if blocked else ""))
                frame.at[i, "known_answer"] = got
                if kind == HOLDS_FOR_IDEAL and twin["verdict"] != SUPPORTED and not blocked:
                    problems.append("the theory's ideal fails this rule here: "
                                    f"{twin['verdict']}, {twin['reason']}")
                elif kind == FAILS_FOR_IDEAL and twin["verdict"] == SUPPORTED:
                    problems.append("the rule says the same of the theory's ideal, so it cannot "
                                    "tell the ideal from the clean nets")
        if problems:
            frame.at[i, "reason"] = ("; ".join(problems) + f" (the rule alone: {row['verdict']})")
            frame.at[i, "verdict"] = UNTESTABLE
    return frame


def means_text(table: pd.DataFrame, names, digits=3) -> str:
    return ", ".join(f"{name} {table[name].mean():.{digits}f}" for name in names
                     if name in table)
