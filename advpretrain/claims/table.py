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

from advpretrain.core.statistics import holm, p_greater, t_interval

SUPPORTED, NOT_SUPPORTED = "supported", "not supported"
INDICATIVE, NOT_EVALUATED = "indicative (one run)", "not evaluated"
COLUMNS = ["claim", "scope", "statement", "statistic", "control", "n_seeds", "estimate",
           "ci_low", "ci_high", "p_value", "verdict", "detail", "source"]


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


def means_text(table: pd.DataFrame, names, digits=3) -> str:
    return ", ".join(f"{name} {table[name].mean():.{digits}f}" for name in names
                     if name in table)
