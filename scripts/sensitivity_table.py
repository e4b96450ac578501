"""Rule sensitivity_table: every point's verdicts side by side, and how far each generalises."""

from advpretrain.claims.studies import sensitivity_table
from advpretrain.workflow.run import run

run(snakemake, sensitivity_table)  # noqa: F821 (snakemake is injected by Snakemake)
