"""Rule mechanism_table: every point's verdicts side by side, and which points restore each."""

from advpretrain.claims.studies import mechanism_table
from advpretrain.workflow.run import run

run(snakemake, mechanism_table)  # noqa: F821 (snakemake is injected by Snakemake)
