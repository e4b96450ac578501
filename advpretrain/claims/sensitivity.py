"""The sensitivity study's table: every point's claims verdicts side by side, and how far each
row's verdict generalises (docs/sensitivity.md).

A row is one hypothesis of the claims table (claim and scope); the same protocol decides it at
every point (its own Holm family, its own seeds). A row *holds* at a point where it is
supported there; it is counted over the points where it decides (supported, contradicted or
inconclusive). Built from the points' claims tables only.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.claims.table import CONTRADICTED, INCONCLUSIVE, SUPPORTED, UNTESTABLE
from advpretrain.core import fileio

DECIDING = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
ROW = ["claim", "scope"]
LONG_COLUMNS = ["point", "axes", "changes", *ROW, "statement", "evidence", "n_seeds", "estimate",
                "ci_low", "ci_high", "smallest_effect", "verdict", "reason"]
SUMMARY_COLUMNS = [*ROW, "statement", "centre_verdict", "n_points", "supported", "contradicted",
                   "inconclusive", "untestable", "holds", "breaks_at"]


def _describe(changes: Mapping) -> str:
    return "; ".join(f"{key}={value}" for key, value in changes.items()) or "none"


def point_rows(settings: Mapping, paths: list[str]) -> pd.DataFrame:
    """The long table: one line per point and deciding row of C1-C5 and the positive control."""
    frames = []
    for point, path in zip(settings["points"], paths, strict=True):
        frame = pd.read_csv(path)
        frame = frame[~frame["claim"].str.startswith(tuple(settings["excluded_claims"]))].copy()
        frame["point"] = point["name"]
        frame["axes"] = "; ".join(f"{axis}={value}" for axis, value in point["axes"].items())
        frame["changes"] = _describe(point["changes"])
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    deciding = rows[rows["verdict"].isin([*DECIDING, UNTESTABLE])][ROW].drop_duplicates()
    rows = rows.merge(deciding, on=ROW)
    return rows[LONG_COLUMNS]


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
