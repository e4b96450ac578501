"""The claims table: for each claim, a pre-registered hypothesis, its per-seed statistic against a
control, an interval and a three-way verdict (docs/claims_protocol.md).

Every simulation statistic is paired by seed: the variants of a seed share its data, its
minibatches and (except the re-seeded twin) its initialisation. A claim row compares a measure S
of two variants, D = S(a) - S(b) (e.g. adversarial minus clean pre-training), with what the
same comparison gives for no reason but chance: C = S(twin) - S(clean), the clean variant against
its re-seeded twin (claims.twin_variant). The row's per-seed value is the *excess over the
control*, D - |C|: an effect counts only where it exceeds the clean-to-clean difference of the
same seed.

Each row states the *smallest effect that matters* (``smallest_effect``) and, where its statement
uses an absolute word ("robust", "purified", "most", "mainly"), an *absolute criterion*: a
per-seed quantity that must reach a threshold. Intervals are two-sided Student t-intervals of the
per-seed mean at ``claims.confidence``. Verdicts, for the rows that decide (``decides``):

* *supported*: the one-sided t-test of "mean > smallest effect" is rejected by Holm's procedure
  over every deciding row with two or more seeds (family-wise level ``claims.family_alpha``), the
  absolute criterion's interval lies above its threshold, no guard fails and the attack behind
  the row converged (where that is known);
* *contradicted*: the interval lies wholly below the smallest effect, or the absolute criterion's
  interval lies wholly below its threshold;
* *inconclusive*: neither; the reason says which part is undecided.

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

from advpretrain.core.statistics import holm, p_greater, t_interval

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
DESCRIPTIVE, INDICATIVE, NOT_EVALUATED = "descriptive", "indicative (one run)", "not evaluated"
# Evidence levels of a robustness number, strongest first.
CERTIFIED, EXACT = "certified bound", "exact verification"
ENSEMBLE, PAPER_ATTACK = "attack ensemble (worst case)", "the paper's attack"
CONVERGED = "converged attack (budget doublings)"
POSITIVE_CONTROL = "control+"  # the claim name of the positive control's rows
AUTOATTACK, MEASURED = "AutoAttack and PGD-20 (per image)", "measured (no attack)"
COLUMNS = ["claim", "scope", "statement", "statistic", "control", "evidence", "n_seeds",
           "estimate", "ci_low", "ci_high", "smallest_effect", "criterion", "criterion_estimate",
           "criterion_low", "criterion_high", "p_value", "verdict", "reason", "detail", "source"]


@dataclass
class Criterion:
    """An absolute criterion: the per-seed ``values`` must reach ``threshold``."""

    text: str
    values: pd.Series
    threshold: float


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


class Table:
    """Collects claim rows; ``frame`` adds the verdicts (Holm over the deciding rows)."""

    def __init__(self, settings: Mapping):
        self.confidence = settings["confidence"]
        self.alpha = settings["family_alpha"]
        self.rows = []

    def add(self, claim, scope, statement, statistic, control, values, *, evidence,
            smallest_effect=0.0, criterion: Criterion | None = None, guard: str | None = None,
            descriptive: str | None = None, lower_bound: bool = False, detail="", source=""):
        """One row. ``guard``: why the row cannot support its statement (e.g. a degenerate
        network), or None; ``descriptive``: why the row is outside the family, or None;
        ``lower_bound``: the statistic and criterion are lower bounds of what the statement
        is about (a certified accuracy), so falling short shows nothing against it: the row is
        then inconclusive, never contradicted."""
        values = pd.Series(values, dtype=float).dropna()
        estimate, low, high = t_interval(values, self.confidence)
        row = {"claim": claim, "scope": scope, "statement": statement, "statistic": statistic,
               "control": control, "evidence": evidence, "n_seeds": len(values),
               "estimate": estimate, "ci_low": low, "ci_high": high,
               "smallest_effect": float(smallest_effect),
               "criterion": "", "criterion_estimate": np.nan, "criterion_low": np.nan,
               "criterion_high": np.nan,
               "p_value": p_greater(values - smallest_effect), "verdict": "",
               "reason": "", "detail": detail, "source": source,
               "_guard": guard, "_descriptive": descriptive, "_threshold": np.nan,
               "_lower_bound": lower_bound}
        if criterion is not None:
            c_values = pd.Series(criterion.values, dtype=float).dropna()
            c_estimate, c_low, c_high = t_interval(c_values, self.confidence)
            row.update(criterion=criterion.text, criterion_estimate=c_estimate,
                       criterion_low=c_low, criterion_high=c_high,
                       _threshold=float(criterion.threshold))
        self.rows.append(row)

    def missing(self, claim, scope, statement, statistic, why):
        self.rows.append({"claim": claim, "scope": scope, "statement": statement,
                          "statistic": statistic, "control": "", "evidence": "",
                          "n_seeds": 0, "estimate": np.nan, "ci_low": np.nan,
                          "ci_high": np.nan, "smallest_effect": np.nan, "criterion": "",
                          "criterion_estimate": np.nan, "criterion_low": np.nan,
                          "criterion_high": np.nan, "p_value": np.nan,
                          "verdict": NOT_EVALUATED, "reason": why, "detail": "", "source": "",
                          "_guard": None, "_descriptive": None, "_threshold": np.nan,
                          "_lower_bound": False})

    def deciding(self, frame: pd.DataFrame) -> pd.Series:
        """The rows in the family: not descriptive, two or more seeds, a p-value."""
        return (frame["_descriptive"].isna() & (frame["n_seeds"] >= 2)
                & frame["p_value"].notna() & (frame["verdict"] != NOT_EVALUATED))

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        family = self.deciding(frame)
        rejected = pd.Series(False, index=frame.index)
        rejected[family] = holm(frame.loc[family, "p_value"], self.alpha)
        for i, row in frame.iterrows():
            if row["verdict"] == NOT_EVALUATED:
                continue
            if isinstance(row["_descriptive"], str):
                frame.at[i, "verdict"], frame.at[i, "reason"] = DESCRIPTIVE, row["_descriptive"]
            elif row["n_seeds"] == 1:
                frame.at[i, "verdict"], frame.at[i, "reason"] = INDICATIVE, "one seed"
            elif family[i]:
                frame.at[i, "verdict"], frame.at[i, "reason"] = verdict(row, rejected[i])
            else:
                frame.at[i, "verdict"], frame.at[i, "reason"] = NOT_EVALUATED, "no seeds"
        return frame[COLUMNS]


def verdict(row: Mapping, rejected: bool) -> tuple[str, str]:
    """The three-way verdict of a deciding row and its one-line reason."""
    delta, threshold = row["smallest_effect"], row["_threshold"]
    has_criterion = not np.isnan(threshold)
    missing = []
    lower = row.get("_lower_bound")
    if isinstance(lower, (bool, np.bool_)) and lower and (
            row["ci_high"] < delta or (has_criterion and row["criterion_high"] < threshold)):
        missing.append("the bound falls short, which shows nothing against the statement (a "
                       "lower bound)")
    elif row["ci_high"] < delta:
        return CONTRADICTED, (f"the interval lies below the smallest effect {delta:g}")
    elif has_criterion and row["criterion_high"] < threshold:
        return CONTRADICTED, (f"absolute criterion fails: {row['criterion']} "
                              f"(interval below {threshold:g})")
    if not rejected:
        missing.append(f"the effect is not shown to exceed {delta:g} (Holm)")
    if has_criterion and not row["criterion_low"] > threshold:
        missing.append(f"{row['criterion']} is not shown (interval reaches below {threshold:g})")
    if isinstance(row["_guard"], str):
        missing.append(row["_guard"])
    if missing:
        return INCONCLUSIVE, "; ".join(missing)
    reason = f"the interval clears the smallest effect {delta:g}"
    if has_criterion:
        reason += f" and {row['criterion']}"
    return SUPPORTED, reason


def means_text(table: pd.DataFrame, names, digits=3) -> str:
    return ", ".join(f"{name} {table[name].mean():.{digits}f}" for name in names
                     if name in table)
