"""The studies' tables: every point's claims verdicts side by side (docs/sensitivity.md,
docs/mechanism.md).

A row is one hypothesis of the claims table (claim and scope); the same protocol decides it at
every point (its own Holm family, its own seeds). The sensitivity study asks how far each row's
verdict generalises: a row *holds* at a point where it is supported there, counted over the
points where it decides (supported, contradicted or inconclusive). The mechanism study asks
which combination of mechanisms *restores* the paper's claim, i.e. makes the row supported.
Built from the points' claims tables; the mechanism study also from each point's node summaries
and downstream tables (``mechanism_measures``: what the gate's reach and the heads rest on).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from advpretrain.claims.table import CONTRADICTED, INCONCLUSIVE, SUPPORTED, UNTESTABLE
from advpretrain.core import fileio

DECIDING = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
ROW = ["claim", "scope"]
ROW_COLUMNS = [*ROW, "statement", "evidence", "n_seeds", "estimate", "ci_low", "ci_high",
               "smallest_effect", "verdict", "reason"]
# The long table of each study: the point, its place in the study's design, then the row.
LONG_COLUMNS = ["point", "axes", "changes", *ROW_COLUMNS]
MECHANISM_LONG_COLUMNS = ["point", "levels", "budget", "changes", *ROW_COLUMNS,
                          "criterion_estimate", "criterion_low", "criterion_high"]
SUMMARY_COLUMNS = [*ROW, "statement", "centre_verdict", "n_points", "supported", "contradicted",
                   "inconclusive", "untestable", "holds", "breaks_at"]


def _describe(changes: Mapping) -> str:
    return "; ".join(f"{key}={value}" for key, value in changes.items()) or "none"


def point_rows(settings: Mapping, paths: list[str], design: str = "axes",
               columns: list[str] = LONG_COLUMNS, order: list[str] | None = None) -> pd.DataFrame:
    """The long table: one line per point and row of C1-C5 and the positive control that
    decides (or is untestable) at some point; ``design``: the points' {name: label} of their
    place in the design (the sensitivity study's axes, the mechanism study's levels, in
    ``order`` where given); further columns of ``columns`` come from the points' settings."""
    frames = []
    for point, path in zip(settings["points"], paths, strict=True):
        frame = pd.read_csv(path)
        frame = frame[~frame["claim"].str.startswith(tuple(settings["excluded_claims"]))].copy()
        frame["point"] = point["name"]
        names = order or list(point[design])
        frame[design] = "; ".join(f"{name}={point[design][name]}" for name in names)
        frame["changes"] = _describe(point["changes"])
        for column in columns:
            if column in point and column not in (design, "changes"):
                frame[column] = point[column]
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    deciding = rows[rows["verdict"].isin([*DECIDING, UNTESTABLE])][ROW].drop_duplicates()
    rows = rows.merge(deciding, on=ROW)
    return rows[columns]


def _summary(rows: pd.DataFrame, centre: str) -> pd.DataFrame:
    """Per row: its verdict at the centre, and on how many of the points where its rule is
    testable it holds (the untestable points counted apart); where the centre's verdict
    changes (for a supported row, the points where it is not; else where it is)."""
    lines = []
    for (claim, scope), part in rows.groupby(ROW, sort=False):
        at_centre = part.loc[part["point"] == centre, "verdict"]
        centre_verdict = at_centre.iloc[0] if len(at_centre) else "not in the centre's table"
        untestable = int((part["verdict"] == UNTESTABLE).sum())
        part = part[part["verdict"].isin(DECIDING)]
        counts = part["verdict"].value_counts()
        if centre_verdict == SUPPORTED:
            changed = part[part["verdict"] != SUPPORTED]
        else:
            changed = part[part["verdict"] == SUPPORTED]
        lines.append({
            "claim": claim, "scope": scope,
            "statement": part["statement"].iloc[0] if len(part) else "",
            "centre_verdict": centre_verdict, "n_points": len(part),
            **{verdict: int(counts.get(verdict, 0)) for verdict in DECIDING},
            "untestable": untestable,
            "holds": f"holds on {int(counts.get(SUPPORTED, 0))} of {len(part)} settings"
                     + (f" ({untestable} untestable)" if untestable else ""),
            "breaks_at": ", ".join(f"{point} ({verdict})" for point, verdict in
                                   zip(changed["point"], changed["verdict"])) or "none"})
    return pd.DataFrame(lines, columns=SUMMARY_COLUMNS)


def _markdown(settings: Mapping, summary: pd.DataFrame) -> str:
    points = settings["points"]
    lines = [
        "# How far the claims' verdicts generalise: the sensitivity study",
        "",
        "Written by the workflow (rule `sensitivity_table`, `make sensitivity`) from the claims "
        "table of each point: the same pipeline and the same protocol (docs/claims_protocol.md) "
        "run at the paper config (the *centre*) and at settings we had to guess, one axis at a "
        "time and a seeded random design of joint changes. Every point, the centre included, "
        "also takes the study's own settings below, so the centre's verdicts can differ from "
        "claims.md. A row *holds* at a point where it is supported there; *breaks at* lists the "
        "points whose verdict differs from the centre's in that respect. Figures: "
        "[verdict map](sensitivity_map.png), [effects along each axis](sensitivity_effects.png); "
        "discussion: docs/replication_notes.md.",
        "",
        f"The study's own settings, at every point: {_describe(settings['study'])}.",
        "",
        "| point | changes |",
        "|---|---|",
        *(f"| {point['name']} | {_describe(point['changes'])} |" for point in points),
        "",
        "| claim | scope | hypothesis | verdict at the centre | generalises | supported / "
        "contradicted / inconclusive / untestable | breaks at |",
        "|---|---|---|---|---|---|---|",
    ]
    for line in summary.itertuples(index=False):
        lines.append(f"| {line.claim} | {line.scope} | {line.statement} | {line.centre_verdict} "
                     f"| {line.holds} | {line.supported} / {line.contradicted} / "
                     f"{line.inconclusive} / {line.untestable} | {line.breaks_at} |")
    return "\n".join(lines) + "\n"


def sensitivity_table(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The long table (results/sensitivity/verdicts.csv, the figures read it), the per-row
    summary (paper_figures/sensitivity.csv) and its markdown page."""
    rows = point_rows(settings, inputs["points"])
    summary = _summary(rows, settings["centre"])
    fileio.write_csv(outputs["verdicts"], rows)
    fileio.write_csv(outputs["csv"], summary)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(_markdown(settings, summary))


# The mechanism study.

MECHANISM_SUMMARY_COLUMNS = [*ROW, "statement", "n_points", "supported", "contradicted",
                             "inconclusive", "untestable", "restored_at", "not_restored_at"]
SHORT = {SUPPORTED: "S", CONTRADICTED: "C", INCONCLUSIVE: "I", UNTESTABLE: "U"}


def _mechanism_summary(rows: pd.DataFrame, points: list[str]) -> pd.DataFrame:
    """Per row: the points where it is supported (the paper's claim restored) and those where
    it decides otherwise (with their verdicts); then its verdict at each point, a column each
    (blank where the point's table lacks the row)."""
    lines = []
    for (claim, scope), part in rows.groupby(ROW, sort=False):
        verdicts = dict(zip(part["point"], part["verdict"], strict=True))
        deciding = part[part["verdict"].isin(DECIDING)]
        counts = part["verdict"].value_counts()
        restored = deciding[deciding["verdict"] == SUPPORTED]
        not_restored = part[part["verdict"].isin([CONTRADICTED, INCONCLUSIVE, UNTESTABLE])]
        lines.append({
            "claim": claim, "scope": scope, "statement": part["statement"].iloc[0],
            "n_points": len(deciding),
            **{verdict: int(counts.get(verdict, 0)) for verdict in (*DECIDING, UNTESTABLE)},
            "restored_at": ", ".join(restored["point"]) or "none",
            "not_restored_at": ", ".join(f"{point} ({verdict})" for point, verdict in
                                         zip(not_restored["point"], not_restored["verdict"],
                                             strict=True)) or "none",
            **{point: verdicts.get(point, "") for point in points}})
    return pd.DataFrame(lines, columns=[*MECHANISM_SUMMARY_COLUMNS, *points])


def _mechanism_markdown(settings: Mapping, summary: pd.DataFrame) -> str:
    points, factors = settings["points"], settings["factors"]
    numbers = {point["name"]: f"P{index}" for index, point in enumerate(points, start=1)}
    lines = [
        "# Which mechanism restores the paper's claims: the mechanism study",
        "",
        "Written by the workflow (rule `mechanism_table`, `make mechanism`) from the claims table "
        "of each point: the same pipeline and the same protocol (docs/claims_protocol.md) run at "
        "combinations of levels of the factors below, each point its own Holm family. A point "
        "*restores* a row where the row is supported there, the verdict the paper claims; *not "
        "restored at* lists the points where the row is contradicted, inconclusive or "
        "untestable. Figure: [robust accuracy per point](mechanism.png); design: "
        "docs/mechanism.md.",
        "",
        f"The study's own settings, at every point: {_describe(settings['study'])}.",
        "",
        "| | point | " + " | ".join(factors) + " | claims' budget |",
        "|---|---|" + "---|" * len(factors) + "---|",
        *(f"| {numbers[point['name']]} | {point['name']} | "
          + " | ".join(point["levels"][factor] for factor in factors)
          + f" | {point['budget']:g} |" for point in points),
        "",
        "| claim | scope | hypothesis | restored at (supported) | not restored at |",
        "|---|---|---|---|---|",
    ]
    for _, line in summary.iterrows():
        restored = [number for name, number in numbers.items() if line[name] == SUPPORTED]
        other = [f"{number} ({line[name]})" for name, number in numbers.items()
                 if line[name] in (CONTRADICTED, INCONCLUSIVE, UNTESTABLE)]
        lines.append(f"| {line['claim']} | {line['scope']} | {line['statement']} | "
                     f"{', '.join(restored) or 'none'} ({len(restored)} of {line['n_points']}) "
                     f"| {', '.join(other) or 'none'} |")
    lines += [
        "",
        "Verdict at each point: S supported, C contradicted, I inconclusive, U untestable, "
        "d descriptive, blank: not in the point's table.",
        "",
        "| claim | scope | " + " | ".join(numbers.values()) + " |",
        "|---|---|" + "---|" * len(numbers),
    ]
    for _, line in summary.iterrows():
        cells = [SHORT.get(line[name], "d" if line[name] else "") for name in numbers]
        lines.append(f"| {line['claim']} | {line['scope']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# The mechanism measures of a point, per pre-training task and variant, each a mean over seeds:
# of the hidden layer (advpretrain.model.measures; the last two of the supervised nets only) ...
LAYER_MEASURES = ["purity_all", "row_norm_median", "effective_threshold_median",
                  "reachable_share", "lit_absent_share", "moved_present_share"]
# ... and of its clean downstream head: its weight on impure and unused nodes, and its robust
# accuracy (worst case of the attack ensemble) at the point's budget, the C5 rows' criterion.
HEAD_MEASURES = ["head_weight_impure", "head_weight_unused"]
MEASURE_COLUMNS = ["point", "task", "variant", *LAYER_MEASURES, *HEAD_MEASURES,
                   "downstream_worst_case"]
TASKS = ("supervised", "contrastive")


def mechanism_measures(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """One line per point, task and shown variant: the ``LAYER_MEASURES`` from the point's node
    summary and the ``HEAD_MEASURES`` and robust accuracy of its downstream heads."""
    lines = []
    for index, point in enumerate(settings["points"]):
        for task in TASKS:
            summary = pd.read_csv(inputs[f"{task}_summary"][index])
            summary = summary[summary["measure"].isin(LAYER_MEASURES)]
            layer = summary.pivot_table(index="variant", columns="measure", values="value")
            heads = pd.read_csv(inputs[f"{task}_downstream"][index])
            at_budget = heads[(heads["attack"] == "worst_case") & (heads["norm"] == point["norm"])
                              & np.isclose(heads["eps"], point["budget"])]
            head = heads.drop_duplicates(["variant", "seed"]).groupby("variant")[
                HEAD_MEASURES].mean()
            head["downstream_worst_case"] = at_budget.groupby("variant")["accuracy"].mean()
            frame = layer.join(head, how="outer").reindex(settings["variants"]).rename_axis(
                "variant")
            lines.append(frame.reset_index().assign(point=point["name"], task=task))
    return pd.concat(lines, ignore_index=True).reindex(columns=MEASURE_COLUMNS)


def _measures_markdown(settings: Mapping, measures: pd.DataFrame) -> str:
    numbers = {point["name"]: f"P{index}" for index, point in enumerate(settings["points"], 1)}
    columns = [*LAYER_MEASURES, *HEAD_MEASURES, "downstream_worst_case"]
    lines = [
        "",
        "## What the layers and heads rest on",
        "",
        "Mean over seeds, per point, pre-training task and variant: the layer's mean purity over "
        "all nodes, its live rows' median norm and median effective l2 threshold (the distance "
        "at which a node's gate flips), the share of live nodes the claims' budget reaches, and "
        "(supervised nets) the share of the attack's successes that light a node whose feature is "
        "absent or only move present ones; the clean downstream head's weight on impure and on "
        "unused nodes and its robust accuracy at the point's budget "
        "([mechanism_measures.csv](mechanism_measures.csv)).",
        "",
        "| point | task | variant | " + " | ".join(columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for line in measures.itertuples(index=False):
        cells = ["" if pd.isna(getattr(line, column)) else f"{getattr(line, column):.3f}"
                 for column in columns]
        lines.append(f"| {numbers[line.point]} | {line.task} | {line.variant} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def mechanism_table(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The long table (results/mechanism/verdicts.csv, the figure reads it: each point's levels,
    budget and rows with their criterion), the per-row summary (paper_figures/mechanism.csv:
    where each row is restored, its verdict at every point) and its markdown page."""
    rows = point_rows(settings, inputs["points"], "levels", MECHANISM_LONG_COLUMNS,
                      settings["factors"])
    summary = _mechanism_summary(rows, [point["name"] for point in settings["points"]])
    measures = mechanism_measures(settings, inputs)
    fileio.write_csv(outputs["verdicts"], rows)
    fileio.write_csv(outputs["csv"], summary)
    fileio.write_csv(outputs["measures"], measures)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(_mechanism_markdown(settings, summary)
                       + _measures_markdown(settings, measures))
