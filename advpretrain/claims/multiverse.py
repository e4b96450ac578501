"""The verdicts under every defensible analysis choice (the multiverse) and the training-budget
by evaluation-budget map of C2 and C5, both from the workflow's existing outputs.

Each choice changes one thing of the protocol (v3) at a time: an analysis choice of
``simulation.ANALYSIS_CHOICES`` (the earlier protocols' among them), the evaluation budget (every
budget of the sandwich grid, the training budget kept), or the training budget matched to the
evaluation budget (the eps sweep's nets); the same known-answer check runs under each. A
protocol row "holds under k of n analysis choices" where k of the n choices that can evaluate it
support it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from advpretrain.claims.simulation import ANALYSIS_CHOICES
from advpretrain.claims.table import CONTRADICTED, INCONCLUSIVE, SUPPORTED, UNTESTABLE

DECIDED = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, UNTESTABLE)
KEEP = ["claim", "scope", "verdict", "estimate", "ci_low", "ci_high", "criterion_estimate",
        "reason"]
# The budget map's rows: the "robust" hypotheses of C2 and C5 after supervised pre-training.
MAP_ROWS = {
    "C2": ["supervised, worst_case", "supervised, certified vs worst case",
           "supervised, converged attack"],
    "C5": ["downstream after supervised pre-training, worst_case",
           "downstream after supervised pre-training, certified vs worst case"],
}


def choices(settings: Mapping) -> list[tuple[str, str, dict]]:
    """(choice, value, options) of every analysis choice, the protocol's first."""
    reference = settings["reference"]
    specs = [("protocol v3", "as registered", {})]
    for key, values in ANALYSIS_CHOICES.items():
        specs += [(key, value, {key: value}) for value in values[1:]]
    grid = [float(eps) for eps in settings["budget_grid"].get(reference["norm"], [])]
    specs += [("evaluation budget", f"{reference['norm']} {eps:g}", {"eps": eps})
              for eps in grid if eps != float(reference["eps"])]
    specs += [("training budget = evaluation budget", f"{v['norm']} {v['eps']:g}",
               {"adversarial_variant": v["variant"], "eps": float(v["eps"])})
              for v in settings["sweep"] if v["norm"] == reference["norm"]
              and float(v["eps"]) in grid]
    previous = {"purity_rule": "all_nodes", "pair_statistic": "relative_loss_increase",
                "control_rule": "subtracted_both_ways",
                "nodes_rule": "relative_movement_vs_adversarial"}
    v2_train = [v for v in settings["sweep"] if v["norm"] == reference["norm"]
                and float(v["eps"]) == 0.5]
    specs.append(("protocol v2", "its choices, trained and evaluated at l2 0.5" if v2_train
                  else "its choices", {**previous, **({"adversarial_variant":
                                                       v2_train[0]["variant"], "eps": 0.5}
                                                      if v2_train else {})}))
    return specs


def multiverse(settings: Mapping, inputs: Mapping, protocol_frame: pd.DataFrame,
               calibrated: Callable) -> tuple[pd.DataFrame, str]:
    """Every choice's verdict of every deciding protocol row (tidy), and its Markdown."""
    frames = []
    for choice, value, options in choices(settings):
        frame = (protocol_frame if not options else calibrated(settings, inputs, options))
        frame = frame[frame["verdict"].isin(DECIDED) & frame["claim"].str.match(r"C[1-5]$")]
        frames.append(frame[KEEP].assign(choice=choice, value=value))
    table = pd.concat(frames, ignore_index=True)[["choice", "value", *KEEP]]
    return table, multiverse_markdown(table)


def holds_under(table: pd.DataFrame) -> pd.DataFrame:
    """Per protocol row (claim, scope): its verdict under the protocol, and in how many of the
    choices that evaluate it each verdict comes out."""
    protocol = table[table["choice"] == "protocol v3"]
    rows = []
    for row in protocol.itertuples(index=False):
        same = table[(table["claim"] == row.claim) & (table["scope"] == row.scope)]
        counts = same["verdict"].value_counts()
        rows.append({"claim": row.claim, "scope": row.scope, "verdict": row.verdict,
                     "choices": len(same), "supported": int(counts.get(SUPPORTED, 0)),
                     "contradicted": int(counts.get(CONTRADICTED, 0)),
                     "inconclusive": int(counts.get(INCONCLUSIVE, 0)),
                     "untestable": int(counts.get(UNTESTABLE, 0))})
    return pd.DataFrame(rows)


def multiverse_markdown(table: pd.DataFrame) -> str:
    lines = ["# The claims under every analysis choice (multiverse)", "",
             "Written by the workflow (rule `claims`, advpretrain/claims/multiverse.py) from its "
             "own outputs: each choice changes one thing of the registered protocol (v3; "
             "docs/claims_protocol.md) and reruns the same rules and the same known-answer "
             "check. \"holds under k of n\": k of the n choices that can evaluate the row "
             "support it. results/multiverse.csv has every estimate.", "",
             "| claim | scope | protocol v3 | holds under | contradicted | inconclusive | "
             "untestable |", "|---|---|---|---|---|---|---|"]
    for row in holds_under(table).itertuples(index=False):
        lines.append(f"| {row.claim} | {row.scope} | {row.verdict} | {row.supported} of "
                     f"{row.choices} | {row.contradicted} | {row.inconclusive} | "
                     f"{row.untestable} |")
    lines += ["", "## Verdict by choice", "",
              "| choice | value | " + " | ".join(["C1", "C2", "C3", "C4", "C5"]) + " |",
              "|---|---|---|---|---|---|---|"]
    for (choice, value), part in table.groupby(["choice", "value"], sort=False):
        cells = []
        for claim in ("C1", "C2", "C3", "C4", "C5"):
            counts = part[part["claim"] == claim]["verdict"].value_counts()
            cells.append(", ".join(f"{v[:5]} {n}" for v, n in counts.items()) or "-")
        lines.append(f"| {choice} | {value} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def budget_map(settings: Mapping, inputs: Mapping, calibrated: Callable) -> pd.DataFrame:
    """C2's and C5's "robust" hypotheses (after supervised pre-training) for every training
    budget (the adversarial variant and the eps sweep's nets) at every evaluation budget of the
    grid: one verdict per cell (supported where a row on any evidence is, untestable where the
    ensemble row is, contradicted where an attack row is, else inconclusive)."""
    reference = settings["reference"]
    trained = [{"variant": settings["claims"]["adversarial_variant"],
                "eps": float(settings["adversarial_budget"]["eps"])}]
    trained += [{"variant": v["variant"], "eps": float(v["eps"])} for v in settings["sweep"]
                if v["norm"] == reference["norm"]]
    rows = []
    for train in sorted(trained, key=lambda t: t["eps"]):
        for eps in settings["budget_grid"].get(reference["norm"], []):
            frame = calibrated(settings, inputs, {"adversarial_variant": train["variant"],
                                                  "eps": float(eps)}, parts=("vulnerability",
                                                                             "downstream"))
            for claim, scopes in MAP_ROWS.items():
                part = frame[(frame["claim"] == claim) & frame["scope"].isin(scopes)]
                if part.empty:
                    continue
                rows.append({"claim": claim, "train_variant": train["variant"],
                             "train_eps": train["eps"], "eval_eps": float(eps),
                             "matched": train["eps"] == float(eps),
                             "verdict": cell_verdict(part, scopes[0]),
                             "adversarial_worst_case": first(part, scopes[0],
                                                             "criterion_estimate"),
                             "effect": first(part, scopes[0], "estimate")})
    return pd.DataFrame(rows)


def first(part: pd.DataFrame, scope: str, column: str) -> float:
    values = part.loc[part["scope"] == scope, column]
    return float(values.iloc[0]) if len(values) else float("nan")


def cell_verdict(part: pd.DataFrame, ensemble_scope: str) -> str:
    verdicts = dict(zip(part["scope"], part["verdict"]))
    if verdicts.get(ensemble_scope) == UNTESTABLE:
        return UNTESTABLE
    if SUPPORTED in verdicts.values():
        return SUPPORTED
    if CONTRADICTED in verdicts.values():
        return CONTRADICTED
    return INCONCLUSIVE
