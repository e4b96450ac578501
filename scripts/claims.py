"""Rule claims: the claims table."""

from advpretrain.claims import write_claims
from advpretrain.workflow import run

run(snakemake, write_claims)  # noqa: F821 (snakemake is injected by Snakemake)
