"""Rule run_notebook: one notebook executed on this run's results, as HTML."""

from advpretrain.figures.run_notebook import run_notebook
from advpretrain.workflow.run import run

run(snakemake, run_notebook)  # noqa: F821 (snakemake is injected by Snakemake)
