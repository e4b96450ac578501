"""Rule exact_table: the exact-verification table of paper_figures/."""

from advpretrain.simulation.exact_table import exact_table
from advpretrain.workflow.run import run

run(snakemake, exact_table)  # noqa: F821 (snakemake is injected by Snakemake)
