"""paper_figures/claims.md: the claims table as markdown, with the power its seeds give."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.multiverse import holds_under
from advpretrain.claims.table import (
    CONTRADICTED,
    DESCRIPTIVE,
    INCONCLUSIVE,
    INDICATIVE,
    NOT_EVALUATED,
    POSITIVE_CONTROL,
    SUPPORTED,
    UNTESTABLE,
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
    contradicted where the ensemble row is (an attack's accuracy is an upper bound), untestable
    where the ensemble row is (the budget is beyond the ideal's reach, or the ideal fails the
    rule), else inconclusive; and whether the adversarial nets' attacked accuracy is above the
    clean nets'."""
    rows = []
    for (group, norm, eps), part in by_budget.groupby(["group", "norm", "eps"], sort=False):
        verdicts = dict(zip(part["basis"], part["verdict"]))
        if verdicts.get("ensemble") == UNTESTABLE:
            verdict = UNTESTABLE
        elif SUPPORTED in verdicts.values():
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
             "their own; *untestable* where the budget is beyond the ideal's certified reach or "
             "the ideal fails the rule. Crossover: the budgets between which the adversarial "
             "nets' attacked accuracy passes the clean nets'.", "",
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


def _admissible_lines(admissible: pd.DataFrame | None, settings: Mapping) -> list[str]:
    if admissible is None or admissible.empty:
        return ["", "## Admissible budgets", "", "The ideal variant was not measured: no budget "
                "is known to be admissible, and every known-answer check fails.", ""]
    robust = settings["protocol"]["robust"]
    sources = [c for c in ("pre-trained head", "downstream head") if c in admissible]
    lines = ["", "## Admissible budgets (the known answer's reach)", "",
             "A \"robust\" statement is decided only at a budget where the theory's ideal (the "
             "frozen perfectly purified layer with a clean head) is certified robust at every "
             f"seed: lowest certified accuracy over seeds at least {robust:g}, for its "
             "pre-trained head and its downstream head. The claims' budget is by rule the "
             "largest admissible budget of its norm (*headline*).", "",
             "| norm | eps | " + " | ".join(f"ideal certified, {c}" for c in sources)
             + " | admissible | headline |", "|---|---|" + "---|" * len(sources) + "---|---|"]
    for _, row in admissible.iterrows():
        values = " | ".join(f"{row[c]:.3f}" for c in sources)
        lines.append(f"| {row['norm']} | {row['eps']:g} | {values} | "
                     f"{'yes' if row['admissible'] else 'no'} | "
                     f"{'**yes**' if row['headline'] else ''} |")
    return lines


def _check_headline(admissible: pd.DataFrame | None, reference: Mapping | None) -> str:
    if admissible is None or admissible.empty or reference is None:
        return ""
    top = admissible[(admissible["norm"] == reference["norm"]) & admissible["headline"]]
    if top.empty:
        return (f"No {reference['norm']} budget is admissible: every robustness row is "
                "untestable.")
    eps = float(top["eps"].iloc[0])
    if np.isclose(eps, reference["eps"]):
        return (f"The claims' budget {reference['norm']} eps={reference['eps']:g} is the "
                "headline budget the rule gives.")
    return (f"**The claims' budget {reference['norm']} eps={reference['eps']:g} is not the "
            f"headline budget the rule gives ({eps:g})**: the config should say {eps:g}.")


def _map_lines(cells: pd.DataFrame | None) -> list[str]:
    if cells is None or cells.empty:
        return []
    lines = ["", "## Training budget x evaluation budget (C2, C5 after supervised "
             "pre-training)", "",
             "Each cell: the \"robust\" hypothesis with the nets trained at the row's budget "
             "(the adversarial variant and the eps sweep's nets) evaluated at the column's, by "
             "the same rules and known-answer check (results/claims_budget_map.csv, figure "
             "budget_map); the diagonal (trained where tested) in bold. Cell: verdict "
             "(the adversarial nets' worst-case accuracy).", ""]
    for claim, part in cells.groupby("claim", sort=False):
        evals = sorted(part["eval_eps"].unique())
        lines += [f"{claim}:", "", "| trained at | " + " | ".join(f"{e:g}" for e in evals)
                  + " |", "|---|" + "---|" * len(evals)]
        for train, row in part.groupby("train_eps", sort=True):
            cells_text = []
            for eps in evals:
                cell = row[row["eval_eps"] == eps]
                if cell.empty:
                    cells_text.append("")
                    continue
                text = (f"{cell['verdict'].iloc[0]} "
                        f"({cell['adversarial_worst_case'].iloc[0]:.2f})")
                cells_text.append(f"**{text}**" if bool(cell["matched"].iloc[0]) else text)
            lines.append(f"| {train:g} | " + " | ".join(cells_text) + " |")
        lines.append("")
    return lines


# The rows that decide a claim: the others are shown, not deciding (or not run).
NOT_DECIDING = (DESCRIPTIVE, NOT_EVALUATED, INDICATIVE)


def claim_answers(frame: pd.DataFrame) -> pd.DataFrame:
    """One answer per claim and setting (the claim and the first part of the scope, e.g. C5
    after supervised pre-training), from its deciding rows: *contradicted* when one of them is
    (a part of the claim is shown false), *supported* when all are, *untestable* when all are,
    *partly supported* when some are supported and none contradicted, *inconclusive*
    otherwise. The row that decides: the first contradicted one, else the first not supported
    one, else the first. Columns: claim, setting, answer, rows (each deciding row's scope and
    verdict), reason, evidence, scope (the deciding row's). A claim with no deciding row but
    one not evaluated (C6 without a GPU) is *not evaluated*, with that row's reason."""
    deciding = frame[~frame["verdict"].isin(NOT_DECIDING) & (frame["claim"] != POSITIVE_CONTROL)]
    answers = []  # in the table's order: a claim evaluated, then the ones that were not
    setting = deciding["scope"].str.split(",").str[0]
    for (claim, where), rows in deciding.groupby([deciding["claim"], setting], sort=False):
        verdicts = rows["verdict"]
        if (verdicts == CONTRADICTED).any():
            answer, decider = CONTRADICTED, rows[verdicts == CONTRADICTED].iloc[0]
        elif (verdicts == SUPPORTED).all():
            answer, decider = SUPPORTED, rows.iloc[0]
        elif (verdicts == UNTESTABLE).all():
            answer, decider = UNTESTABLE, rows.iloc[0]
        else:
            answer = "partly supported" if (verdicts == SUPPORTED).any() else INCONCLUSIVE
            decider = rows[verdicts != SUPPORTED].iloc[0]
        answers.append({
            "claim": claim, "setting": where, "answer": answer,
            "rows": "; ".join(f"{r.scope.removeprefix(where).lstrip(', ') or 'main'}: "
                              f"{r.verdict}" for r in rows.itertuples()),
            "reason": decider["reason"], "evidence": decider["evidence"],
            "scope": decider["scope"]})
    unevaluated = frame[(frame["verdict"] == NOT_EVALUATED) & (frame["claim"] != POSITIVE_CONTROL)]
    for row in unevaluated.itertuples():
        if row.claim not in set(deciding["claim"]):  # a claim this run could not evaluate
            answers.append({"claim": row.claim, "setting": row.scope, "answer": NOT_EVALUATED,
                            "rows": "", "reason": row.reason, "evidence": "",
                            "scope": row.scope})
    return pd.DataFrame(answers, columns=["claim", "setting", "answer", "rows", "reason",
                                          "evidence", "scope"])


def _holds(by_choice: pd.DataFrame | None) -> dict:
    """{(claim, scope): "k of n"}: in how many analysis choices a row is supported."""
    return ({} if by_choice is None or by_choice.empty else
            {(r.claim, r.scope): f"{r.supported} of {r.choices}"
             for r in holds_under(by_choice).itertuples(index=False)})


def _rst(text: str) -> str:
    """Text as reStructuredText reads it literally (no emphasis, links or substitutions)."""
    return "".join(f"\\{char}" if char in "\\*`_|[]<>" else char for char in str(text))


def answers_rst(frame: pd.DataFrame) -> str:
    """The answer claim by claim as a reStructuredText list (the report's landing page includes
    it, report/workflow.rst)."""
    lines = [f"* **{_rst(row.claim)}** ({_rst(row.setting)}): **{_rst(row.answer)}**; "
             f"{_rst(row.reason)}" for row in claim_answers(frame).itertuples(index=False)]
    return "\n".join(lines) + "\n"


def claims_html(frame: pd.DataFrame, by_choice: pd.DataFrame | None) -> str:
    """The answer claim by claim and the full table as one HTML page (the report shows it)."""
    holds = _holds(by_choice)
    answers = claim_answers(frame)
    answers["holds under"] = [holds.get((row.claim, row.scope), "")
                              for row in answers.itertuples(index=False)]
    table = frame.drop(columns=["statement", "source"]).assign(
        **{"holds under": [holds.get((row.claim, row.scope), "")
                           for row in frame.itertuples(index=False)]})
    style = ("body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
             "td,th{border:1px solid #ccc;padding:3px 5px;vertical-align:top}")
    return "\n".join([
        "<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>Claims</title>",
        f"<style>{style}</style></head><body>", "<h1>Claims reproduced by this run</h1>",
        "<h2>The answer, claim by claim</h2>",
        answers.drop(columns=["scope"]).to_html(index=False, na_rep=""),
        "<h2>The table (rules: docs/claims_protocol.md; also paper_figures/claims.md)</h2>",
        table.to_html(index=False, na_rep="", float_format=lambda value: f"{value:.3g}"),
        "</body></html>", ""])


def _answer_lines(frame: pd.DataFrame, holds: Mapping) -> list[str]:
    answers = claim_answers(frame)
    control = frame[frame["claim"] == POSITIVE_CONTROL]["verdict"]
    lines = ["## The answer, claim by claim", "",
             "One line per claim and setting, from its deciding rows in the table below: "
             "*contradicted* when one of them is (a part of the claim is shown false), "
             "*supported* when all are, *partly supported* when some are and none is "
             "contradicted, *untestable* when all are, *inconclusive* otherwise; the reason and "
             "evidence are those of the row that decides (the first contradicted, else the "
             "first not supported). *Holds under*: that row's analysis choices that support it "
             "(paper_figures/multiverse.md); other settings: paper_figures/sensitivity.md.", "",
             "| claim | setting | answer | because | evidence | holds under | rows |",
             "|---|---|---|---|---|---|---|"]
    for row in answers.itertuples(index=False):
        answer = (row.answer if row.answer in (INCONCLUSIVE, NOT_EVALUATED)
                  else f"**{row.answer}**")
        lines.append(f"| {row.claim} | {row.setting} | {answer} | {row.reason} | "
                     f"{row.evidence} | {holds.get((row.claim, row.scope), '')} | {row.rows} |")
    if len(control):
        lines += ["", f"Positive control (the pipeline, not the paper): "
                  f"{int((control == SUPPORTED).sum())} of {len(control)} rows supported."]
    return lines + [""]


def claims_markdown(frame: pd.DataFrame, settings: Mapping,
                    by_budget: pd.DataFrame | None = None,
                    admissible: pd.DataFrame | None = None,
                    by_choice: pd.DataFrame | None = None,
                    cells: pd.DataFrame | None = None,
                    reference: Mapping | None = None) -> str:
    level = f"{100 * settings['confidence']:g}%"
    alpha = settings["family_alpha"]
    family = frame[~frame["verdict"].isin(NOT_DECIDING) & (frame["claim"] != POSITIVE_CONTROL)]
    rows, seeds = len(family), int(family["n_seeds"].max()) if len(family) else 0
    counts = frame["verdict"].value_counts()
    holds = _holds(by_choice)
    lines = [
        "# Claims reproduced by this run",
        "",
        *_answer_lines(frame, holds),
        "## The table",
        "",
        "Written by the workflow (rule `claims`) from its CSV outputs, by the protocol v3 of "
        "docs/claims_protocol.md (its text and config committed before the code that computes "
        "its verdicts). Each row tests one hypothesis (listed below, word for word) with a "
        "per-seed statistic, paired by seed; most are an effect (adversarial minus clean "
        "pre-training) beyond its control (the re-seeded clean twin: support tests D - |C|, "
        f"contradiction D + |C|). Interval: {level} two-sided t-interval over seeds. A row is "
        "*supported* when Holm's procedure over the deciding rows (one-sided t-tests of \"mean > "
        f"smallest effect\", family-wise level {alpha:g}) rejects and its absolute criterion's "
        "interval clears its threshold; *contradicted* when Holm's procedure over the reverse "
        "tests rejects; *inconclusive* otherwise; and *untestable* when the same rule, applied "
        "to the theory's known answer (the frozen perfectly purified layer, variant `ideal`), "
        "does not give the theory's answer, or the budget is beyond the ideal's certified "
        "reach (column *known answer*). Rows of the paper's own attack and vacuous certified "
        f"bounds are *descriptive* (outside the family). The `{POSITIVE_CONTROL}` rows are the "
        "positive control (C5's hypothesis where it holds by construction: a clean head on a "
        "perfectly purified layer at the small budgets, certified), a Holm family of their "
        "own: they test the pipeline, not the paper, and must be *supported*. *Holds under*: "
        "in how many of the analysis choices of paper_figures/multiverse.md the row is "
        "supported; how it fares at other settings: paper_figures/sensitivity.md.",
        "",
        f"Power: {rows} deciding rows with up to {seeds} seeds. The strictest Holm step "
        f"(level {alpha:g}/{rows}) needs a mean of {detectable_effect(seeds, rows, alpha):.1f} "
        "per-seed standard deviations beyond the smallest effect; at 2 standard deviations "
        f"its power is {power(seeds, rows, alpha, 2.0):.2f}, so an *inconclusive* row says "
        "little against its hypothesis. Verdicts: " + ", ".join(
            f"{verdict} {count}" for verdict, count in counts.items()) + ".",
        "",
        _check_headline(admissible, reference),
        "",
        f"| claim | scope | evidence | statistic | estimate [{level} CI] | smallest effect | "
        "absolute criterion [CI] | p (support, against) | seeds | verdict | reason | "
        "known answer | holds under | detail |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples(index=False):
        criterion = ""
        if row.criterion:
            interval = _interval(row.criterion_estimate, row.criterion_low, row.criterion_high)
            criterion = f"{row.criterion}: {interval}"
        p_value = "" if np.isnan(row.p_value) else f"{row.p_value:.2g}"
        if not np.isnan(row.p_contra):
            p_value += f", {row.p_contra:.2g}"
        delta = "" if np.isnan(row.smallest_effect) else f"{row.smallest_effect:g}"
        verdict = (f"**{row.verdict}**" if row.verdict in (SUPPORTED, CONTRADICTED, UNTESTABLE)
                   else row.verdict)
        lines.append(f"| {row.claim} | {row.scope} | {row.evidence} | {row.statistic} | "
                     f"{_interval(row.estimate, row.ci_low, row.ci_high)} | {delta} | "
                     f"{criterion} | {p_value} | {row.n_seeds} | {verdict} | {row.reason} | "
                     f"{row.known_answer} | {holds.get((row.claim, row.scope), '')} | "
                     f"{row.detail} |")
    lines += ["", "Hypotheses (the statement each row tests):", ""]
    for (claim, scope), statement in frame.groupby(["claim", "scope"], sort=False)[
            "statement"].first().items():
        lines.append(f"- {claim}, {scope}: {statement}")
    lines += _admissible_lines(admissible, settings)
    lines += _budget_lines(by_budget)
    lines += _map_lines(cells)
    return "\n".join(lines) + "\n"
