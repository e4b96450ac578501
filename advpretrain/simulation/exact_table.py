"""The exact-verification table of paper_figures/: per activation, variant and budget, how far
the sandwich of the exact verification closes on its subsample (rule exact_verification).

Each row pools the networks of a variant (every seed): the points decided robust, broken and
undecided, the exact robust accuracy's bounds (mean over seeds of the robust share and of the
robust-and-undecided share), the sandwich's width (their difference: the undecided share), the
attack ensemble's robust accuracy on the same points (an upper bound at least the exact lower
one) and whether the sandwich closed to ``closed_width`` or less.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.core import fileio
from advpretrain.core.tables import read_csvs

KEYS = ["activation", "variant", "norm", "eps"]
HEADERS = {"activation": "activation", "variant": "variant", "norm": "norm", "eps": "eps",
           "networks": "nets", "points": "points / net", "robust": "robust",
           "broken": "broken", "undecided": "undecided", "lower": "exact lower",
           "upper": "exact upper", "width": "width", "attack_accuracy": "ensemble",
           "closed": "closed"}


def exact_rows(summary: pd.DataFrame, closed_width: float) -> pd.DataFrame:
    """The table's rows from the stacked exact_summary.csv tables (module docstring)."""
    grouped = summary.groupby(KEYS, sort=False)
    table = grouped[["robust", "broken", "undecided"]].sum()
    table.insert(0, "points", grouped["points"].max())
    table.insert(0, "networks", grouped.size())
    table = table.join(grouped[["lower", "upper", "width", "attack_accuracy"]].mean())
    table["closed"] = table["width"] <= closed_width + 1e-12
    return table.reset_index()


def markdown(table: pd.DataFrame, closed_width: float) -> str:
    def cell(column, value):
        if column in ("lower", "upper", "width", "attack_accuracy"):
            return f"{value:.3f}"
        if column == "closed":
            return "yes" if value else "no"
        return f"{value:g}" if column == "eps" else str(value)

    lines = ["# Exact verification on a subsample", "",
             "Written by the workflow (rule `exact_table`) from `exact_summary.csv`: each point "
             "of a fixed seeded subsample decided exactly (MILP with HiGHS for l_inf, MIQCP with "
             "SCIP for l2) as robust, broken (a counterexample re-checked on the float32 network) "
             "or undecided (node or time limit). The exact robust accuracy lies in [exact lower, "
             "exact upper] (means over seeds); width = undecided share; ensemble = the attack "
             "ensemble's robust accuracy on the same points; closed: width at most "
             f"{closed_width:g}.", "",
             "| " + " | ".join(HEADERS.values()) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in HEADERS) + " |"
              for _, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def exact_table(settings: Mapping, inputs: Mapping, outputs: Mapping) -> dict:
    """paper_figures/exact_verification.{csv,md} from every exact_summary.csv."""
    table = exact_rows(read_csvs(inputs["summaries"]), float(settings["closed_width"]))
    fileio.write_csv(outputs["csv"], table)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(markdown(table, float(settings["closed_width"])))
    return {}
