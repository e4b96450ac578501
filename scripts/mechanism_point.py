"""Rule mechanism_point: the claims pipeline at one point of the mechanism study."""

from advpretrain.workflow.run import run
from advpretrain.workflow.studies import mechanism_point

run(snakemake, mechanism_point)  # noqa: F821 (snakemake is injected by Snakemake)
