"""Rule sensitivity_point: the claims pipeline at one point of the sensitivity study."""

from advpretrain.workflow.run import run
from advpretrain.workflow.studies import sensitivity_point

run(snakemake, sensitivity_point)  # noqa: F821 (snakemake is injected by Snakemake)
