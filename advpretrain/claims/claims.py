"""The claims stage: every row (C1-C6) into results/claims.csv and paper_figures/claims.md, each
deciding row first checked on the theory's known answer (``table.calibrate``), the budget range
of C2 and C5, the training-by-evaluation budget map and the multiverse of analysis choices.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from advpretrain.claims.images import image_claims
from advpretrain.claims.markdown import answers_rst, claims_html, claims_markdown
from advpretrain.claims.multiverse import budget_map, multiverse
from advpretrain.claims.simulation import Claims
from advpretrain.claims.table import COLUMNS, FAILS_FOR_IDEAL, HOLDS_FOR_IDEAL, calibrate
from advpretrain.core import fileio
from advpretrain.core.tables import read_csvs


class CachedInputs(dict):
    """The claims' input CSVs, each read once however many rule sets read it."""

    def __init__(self, inputs: Mapping):
        super().__init__(inputs)
        self.frames: dict = {}


ALL_PARTS = ("purity", "clean_accuracy", "vulnerability", "node_movement", "pairs",
             "mainly_dissimilar", "downstream")


def simulation_rows(settings: Mapping, inputs: Mapping, ideal_as: str | None = None,
                    options: Mapping | None = None, parts=ALL_PARTS) -> Claims:
    """The rows of C1-C5 (``parts`` of them) under ``options``, with the ideal as
    ``ideal_as`` (or as itself)."""
    claims = Claims(settings, inputs, ideal_as=ideal_as, options=options)
    steps = {"purity": lambda: claims.purity("C1", "supervised"),
             "clean_accuracy": claims.clean_accuracy, "vulnerability": claims.vulnerability,
             "node_movement": claims.node_movement,
             "contrastive_purity": lambda: claims.purity("C3", "contrastive"),
             "pairs": claims.pairs, "mainly_dissimilar": claims.mainly_dissimilar,
             "downstream": lambda: [claims.downstream(t) for t in ("supervised", "contrastive")]}
    order = ["purity", "clean_accuracy", "vulnerability", "node_movement",
             "contrastive_purity", "pairs", "mainly_dissimilar", "downstream"]
    for step in order:
        if step in parts or (step == "contrastive_purity" and "purity" in parts):
            steps[step]()
    return claims


def calibrated(settings: Mapping, inputs: Mapping, options: Mapping | None = None,
               with_images: bool = False, parts=ALL_PARTS) -> pd.DataFrame:
    """C1-C5 (and C6 with ``with_images``) under ``options``, each deciding row's verdict
    checked on the known answer: the same rules with the ideal in place of the adversarial
    and of the clean variant, and the budgets beyond the ideal's certified reach."""
    claims = simulation_rows(settings, inputs, options=options, parts=parts)
    if with_images:
        for dataset, off_reason in settings["images"].items():
            key = f"images_{dataset}"
            image_claims(claims.table, dataset, read_csvs(inputs.get(key, [])),
                         ", ".join(inputs.get(key, [])), off_reason, claims.protocol)
    ideal = {kind: simulation_rows(settings, inputs, kind, options, parts).table.frame(
        internal=True) for kind in (HOLDS_FOR_IDEAL, FAILS_FOR_IDEAL)}
    return calibrate(claims.table.frame(internal=True), ideal, claims.inadmissible())


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
    frame = calibrated(settings, inputs, with_images=True)
    return pd.concat([controls.table.frame(), frame[COLUMNS]], ignore_index=True)


def budget_table(settings: Mapping, inputs: Mapping) -> pd.DataFrame:
    """C2's and C5's "robust" hypotheses at every budget of the sandwich grid
    (``Claims.budget_range``), verdicts by the same rule in a family of their own and checked
    on the known answer, with the labels of ``Claims.budget_range`` first."""
    claims = Claims(settings, inputs)
    claims.budget_range()
    if not claims.budget_labels:
        return pd.DataFrame(columns=["group", "norm", "eps", "basis", *COLUMNS])
    ideal = {}
    for kind in (HOLDS_FOR_IDEAL, FAILS_FOR_IDEAL):
        twin = Claims(settings, inputs, ideal_as=kind)
        twin.budget_range()
        ideal[kind] = twin.table.frame(internal=True)
    frame = calibrate(claims.table.frame(internal=True), ideal, claims.inadmissible())
    return pd.concat([pd.DataFrame(claims.budget_labels), frame[COLUMNS]], axis=1)


def claims(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """The claims table as CSV (``outputs["csv"]``) and Markdown (``outputs["md"]``), the budget
    range of C2 and C5 (``outputs["by_budget"]``), the budget map (``outputs["budget_map"]``)
    and the multiverse (``outputs["multiverse"]``, ``outputs["multiverse_md"]``), summarised in
    the Markdown; the same as one HTML page for the report (``outputs["html"]``) and the answer
    claim by claim for its landing page (``outputs["answers"]``, reStructuredText)."""
    inputs = CachedInputs(inputs)
    frame = claims_table(settings, inputs)
    by_budget = budget_table(settings, inputs)
    admissible = Claims(settings, inputs).admissible_budgets()
    by_choice, choices_md = multiverse(settings, inputs, frame, calibrated)
    cells = budget_map(settings, inputs, calibrated)
    fileio.write_csv(outputs["csv"], frame)
    fileio.write_csv(outputs["by_budget"], by_budget)
    fileio.write_csv(outputs["budget_map"], cells)
    fileio.write_csv(outputs["multiverse"], by_choice)
    with fileio.atomic_path(outputs["multiverse_md"]) as tmp:
        tmp.write_text(choices_md)
    with fileio.atomic_path(outputs["md"]) as tmp:
        tmp.write_text(claims_markdown(frame, settings["claims"], by_budget, admissible,
                                       by_choice, cells, settings["reference"]))
    with fileio.atomic_path(outputs["html"]) as tmp:
        tmp.write_text(claims_html(frame, by_choice))
    with fileio.atomic_path(outputs["answers"]) as tmp:
        tmp.write_text(answers_rst(frame))
