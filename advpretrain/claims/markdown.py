"""paper_figures/claims.md: the claims table as claims_markdown.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import SUPPORTED


def claims_markdown(frame: pd.DataFrame, settings: Mapping) -> str:
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
