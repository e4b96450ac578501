"""Snakemake entry point: the claims table (results/claims.csv, paper_figures/claims.md)."""

from advpretrain.claims import write_claims
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    inputs = {key: list(sm.input[key]) for key in sm.input.keys() if key != "code"}
    write_claims(sm.config, inputs, sm.output.csv, sm.output.md)
