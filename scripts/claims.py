"""Rule claims: the claims table."""

from advpretrain.claims.claims import claims
from advpretrain.workflow.run import run

run(snakemake, claims)  # noqa: F821 (snakemake is injected by Snakemake)
