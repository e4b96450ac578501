"""Rule run_notebook: one notebook executed on this run's results, as HTML."""

from advpretrain.notebooks import execute_notebook
from advpretrain.workflow import run

run(snakemake, execute_notebook)  # noqa: F821 (snakemake is injected by Snakemake)
