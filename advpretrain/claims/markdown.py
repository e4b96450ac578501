"""paper_figures/claims.md: the claims table as markdown, with the power its seeds give."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import (
    CONTRADICTED,
    DESCRIPTIVE,
    INCONCLUSIVE,
    POSITIVE_CONTROL,
    SUPPORTED,
)
from advpretrain.core.statistics import detectable_effect, power


def _interval(estimate, low, high) -> str:
    if np.isnan(estimate):
        return "n/a"
    text = f"{estimate:.3f}"
    return text if np.isnan(low) else f"{text} [{low:.3f}, {high:.3f}]"


def budget_verdicts(by_budget: pd.DataFrame) -> pd.DataFrame:
    """One verdict per claim, norm and budget from its two rows (``claims.budget_table``):
    supported where either the ensemble row or the bounds row is (with that evidence),
    contradicted where the ensemble row is (an attack's accuracy is an upper bound), else
    inconclusive; and whether the adversarial nets' attacked accuracy is above the clean nets'."""
    rows = []
    for (group, norm, eps), part in by_budget.groupby(["group", "norm", "eps"], sort=False):
        verdicts = dict(zip(part["basis"], part["verdict"]))
        if SUPPORTED in verdicts.values():
            basis = "bounds" if verdicts.get("bounds") == SUPPORTED else "ensemble"
            verdict = f"{SUPPORTED} ({basis})"
        elif verdicts.get("ensemble") == CONTRADICTED:
            verdict = CONTRADICTED
        else:
            verdict = INCONCLUSIVE
        first = part.iloc[0]
        rows.append({"group": group, "norm": norm, "eps": eps, "verdict": verdict,
                     "adversarial_above": first["adversarial_worst_case"]
                     > first["clean_worst_case"]})
    return pd.DataFrame(rows)


def _budget_lines(by_budget: pd.DataFrame) -> list[str]:
    """The budget range of C2 and C5: each claim's verdict at each budget, and where the
    adversarial and clean nets swap places under attack."""
    if by_budget is None or by_budget.empty:
        return []
    lines = ["", "## Budget range (C2, C5)", "",
             "The \"robust\" hypotheses of C2 and C5 at every budget of the sandwich grid "
             "(results/claims_by_budget.csv, figure claims_by_budget), each on the attack "
             "ensemble (supported only where its convergence was measured) and on the bounds "
             "(certified adversarial minus attacked clean); Holm over these rows as a family of "
             "their own. Crossover: the budgets between which the adversarial nets' attacked "
             "accuracy passes the clean nets'.", "",
             "| claim | norm | verdict by budget | crossover |", "|---|---|---|---|"]
    table = budget_verdicts(by_budget)
    for (group, norm), part in table.groupby(["group", "norm"], sort=False):
        part = part.sort_values("eps")
        cells = "; ".join(f"{eps:g}: {verdict}" for eps, verdict in
                          zip(part["eps"], part["verdict"]))
        above = part["adversarial_above"].to_numpy()
        eps = part["eps"].to_numpy()
        swaps = [f"{eps[i]:g}-{eps[i + 1]:g}" for i in range(len(eps) - 1)
                 if above[i] != above[i + 1]]
        lines.append(f"| {group} | {norm} | {cells} | {', '.join(swaps) or 'none'} |")
    return lines


def claims_markdown(frame: pd.DataFrame, settings: Mapping,
                    by_budget: pd.DataFrame | None = None) -> str:
    level = f"{100 * settings['confidence']:g}%"
    alpha = settings["family_alpha"]
    family = frame[~frame["verdict"].isin([DESCRIPTIVE, "not evaluated",
                                           "indicative (one run)"])
                   & (frame["claim"] != POSITIVE_CONTROL)]
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
        f"family). The `{POSITIVE_CONTROL}` rows are the positive control (C5's hypothesis where "
        "it holds by construction: a clean head on a perfectly purified layer at the small "
        "budgets, certified), a Holm family of their own: they test the pipeline, not the paper, "
        "and must be *supported*.",
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
    lines += _budget_lines(by_budget)
    return "\n".join(lines) + "\n"
