"""Rule figure: one figure from its CSVs."""

from advpretrain.figures.figure import figure
from advpretrain.workflow.run import run

run(snakemake, figure)  # noqa: F821 (snakemake is injected by Snakemake)
