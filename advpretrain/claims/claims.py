"""The claims stage: every row (C1-C6) into results/claims.csv and paper_figures/claims.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.claims.images import image_claims
from advpretrain.claims.markdown import claims_markdown
from advpretrain.claims.simulation import Claims
from advpretrain.core import fileio
from advpretrain.core.tables import read_csvs


def claims_table(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """The claims frame from the workflow's CSVs.

    inputs: dict of path lists: ``supervised_summary``, ``supervised_robustness``, and where
    present ``supervised_movement``, ``supervised_exact``, ``supervised_convergence``,
    ``contrastive_summary``,
    ``pair_loss``, ``pair_attack``,
    ``downstream_supervised``, ``downstream_contrastive``, ``images_<dataset>`` (absent: the
    claim is "not evaluated").
    """
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
    return claims.table.frame()


def claims(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The claims table as CSV (``outputs["csv"]``) and Markdown (``outputs["md"]``)."""
    frame = claims_table(settings, inputs)
    fileio.write_csv(outputs["csv"], frame)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(claims_markdown(frame, settings["claims"]))
