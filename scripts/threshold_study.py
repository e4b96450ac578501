"""Rule threshold_study: pre-training, downstream heads and the sandwich at one gate threshold."""

from advpretrain.simulation.threshold_study import threshold_study
from advpretrain.workflow.run import run

run(snakemake, threshold_study)  # noqa: F821 (snakemake is injected by Snakemake)
