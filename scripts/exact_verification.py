"""Rule exact_verification: exact robustness of a subsample of one supervised job's test points."""

from advpretrain.simulation.exact_verification import exact_verification
from advpretrain.workflow.run import run

run(snakemake, exact_verification)  # noqa: F821 (snakemake is injected by Snakemake)
