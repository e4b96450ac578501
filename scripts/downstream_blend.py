"""Snakemake entry point: study (a), clean pre-trained layers blended toward purity 1."""

from advpretrain.downstream import downstream_blend
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    downstream_blend(sm.config, sm.input.data, sm.input.model, sm.wildcards.activation,
                     sm.output.csv, sm.output.meta)
