"""paper_figures/claims.md: the claims table as markdown, with the power its seeds give."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import CONTRADICTED, DESCRIPTIVE, SUPPORTED
from advpretrain.core.statistics import detectable_effect, power


def _interval(estimate, low, high) -> str:
    if np.isnan(estimate):
        return "n/a"
    text = f"{estimate:.3f}"
    return text if np.isnan(low) else f"{text} [{low:.3f}, {high:.3f}]"


def claims_markdown(frame: pd.DataFrame, settings: Mapping) -> str:
    level = f"{100 * settings['confidence']:g}%"
    alpha = settings["family_alpha"]
    family = frame[~frame["verdict"].isin([DESCRIPTIVE, "not evaluated",
                                           "indicative (one run)"])]
    rows, seeds = len(family), int(family["n_seeds"].max()) if len(family) else 0
    counts = frame["verdict"].value_counts()
    lines = [
        "# Claims reproduced by this run",
        "",
        "Written by the workflow (rule `claims`) from its CSV outputs, by the protocol of "
        "docs/claims_protocol.md (fixed before the results were read). Each row tests one "
        "hypothesis (listed below, word for word) with a per-seed statistic, paired by seed; most "
        "are an effect (adversarial minus clean pre-training) in excess of its control (the "
        f"re-seeded clean twin). Interval: {level} two-sided t-interval over seeds. A row is "
        "*supported* when Holm's procedure over the deciding rows (one-sided t-tests of \"mean > "
        f"smallest effect\", family-wise level {alpha:g}) rejects and its absolute criterion's "
        "interval clears its threshold; *contradicted* when its interval lies below the smallest "
        "effect or its criterion's interval below its threshold; *inconclusive* otherwise. Rows "
        "of the paper's own attack and vacuous certified bounds are *descriptive* (outside the "
        "family).",
        "",
        f"Power: {rows} deciding rows with up to {seeds} seeds. The strictest Holm step "
        f"(level {alpha:g}/{rows}) needs a mean of {detectable_effect(seeds, rows, alpha):.1f} "
        "per-seed standard deviations beyond the smallest effect; at 2 standard deviations "
        f"its power is {power(seeds, rows, alpha, 2.0):.2f}, so an *inconclusive* row says "
        "little against its hypothesis. Verdicts: " + ", ".join(
            f"{verdict} {count}" for verdict, count in counts.items()) + ".",
        "",
        f"| claim | scope | evidence | statistic | estimate [{level} CI] | smallest effect | "
        "absolute criterion [CI] | p | seeds | verdict | reason | detail |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples(index=False):
        criterion = ""
        if row.criterion:
            interval = _interval(row.criterion_estimate, row.criterion_low, row.criterion_high)
            criterion = f"{row.criterion}: {interval}"
        p_value = "" if np.isnan(row.p_value) else f"{row.p_value:.2g}"
        delta = "" if np.isnan(row.smallest_effect) else f"{row.smallest_effect:g}"
        verdict = (f"**{row.verdict}**" if row.verdict in (SUPPORTED, CONTRADICTED)
                   else row.verdict)
        lines.append(f"| {row.claim} | {row.scope} | {row.evidence} | {row.statistic} | "
                     f"{_interval(row.estimate, row.ci_low, row.ci_high)} | {delta} | "
                     f"{criterion} | {p_value} | {row.n_seeds} | {verdict} | {row.reason} | "
                     f"{row.detail} |")
    lines += ["", "Hypotheses (the statement each row tests):", ""]
    for (claim, scope), statement in frame.groupby(["claim", "scope"], sort=False)[
            "statement"].first().items():
        lines.append(f"- {claim}, {scope}: {statement}")
    return "\n".join(lines) + "\n"
