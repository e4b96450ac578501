"""Snakemake entry point: clean downstream heads on every frozen layer of one pre-training job."""

from advpretrain.downstream import downstream
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    downstream(sm.config, sm.input.data, sm.input.model, sm.wildcards.task,
               sm.wildcards.activation, sm.output.csv, sm.output.meta)
