"""Rule claims: the claims table."""

from advpretrain.workflow import run
from advpretrain.claims import write_claims

run(snakemake, write_claims)  # noqa: F821 (snakemake is injected by Snakemake)
