"""The claims stage: every row (C1-C6) into results/claims.csv and paper_figures/claims.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.claims.images import image_claims
from advpretrain.claims.markdown import claims_markdown
from advpretrain.claims.simulation import Claims
from advpretrain.claims.table import COLUMNS
from advpretrain.core import fileio
from advpretrain.core.tables import read_csvs


def claims_table(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """The claims frame from the workflow's CSVs.

    inputs: dict of path lists: ``supervised_summary``, ``supervised_robustness``, and where
    present ``supervised_movement``, ``supervised_exact``, ``supervised_convergence``,
    ``contrastive_summary``, ``pair_loss``, ``pair_attack``, ``downstream_supervised``,
    ``downstream_contrastive``, ``downstream_baselines``, ``downstream_blend``,
    ``images_<dataset>`` (absent: the claim is "not evaluated").
    """
    # The positive control checks the pipeline, not the paper: a Holm family of its own, first.
    controls = Claims(settings, inputs)
    controls.positive_control()
    claims = Claims(settings, inputs)
    claims.purity("C1", "supervised")
    claims.clean_accuracy()
    claims.vulnerability()
    claims.node_movement()
    claims.purity("C3", "contrastive")
    claims.pairs()
    claims.mainly_dissimilar()
    for task in ("supervised", "contrastive"):
        claims.downstream(task)
    for dataset, off_reason in settings["images"].items():
        key = f"images_{dataset}"
        image_claims(claims.table, dataset, read_csvs(inputs.get(key, [])),
                     ", ".join(inputs.get(key, [])), off_reason, claims.protocol)
    return pd.concat([controls.table.frame(), claims.table.frame()], ignore_index=True)


def budget_table(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """C2's and C5's "robust" hypotheses at every budget of the sandwich grid
    (``Claims.budget_range``), verdicts by the same rule in a family of their own, with the
    labels of ``Claims.budget_range`` first."""
    claims = Claims(settings, inputs)
    claims.budget_range()
    if not claims.budget_labels:
        return pd.DataFrame(columns=["group", "norm", "eps", "basis", *COLUMNS])
    return pd.concat([pd.DataFrame(claims.budget_labels), claims.table.frame()], axis=1)


def claims(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The claims table as CSV (``outputs["csv"]``) and Markdown (``outputs["md"]``), and the
    budget range of C2 and C5 (``outputs["by_budget"]``, summarised in the Markdown)."""
    frame = claims_table(settings, inputs)
    by_budget = budget_table(settings, inputs)
    fileio.write_csv(outputs["csv"], frame)
    fileio.write_csv(outputs["by_budget"], by_budget)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(claims_markdown(frame, settings["claims"], by_budget))
