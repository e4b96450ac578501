"""Snakemake entry point: pre-train every variant and seed of one task and activation at once."""

from advpretrain.simulation import job_variants, pretrain
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    pretrain(sm.config, sm.input.data, sm.wildcards.task, sm.wildcards.activation,
             sm.output.model, sm.output.log_csv, sm.output.meta, resume_path=sm.params.resume,
             variants=job_variants(sm.config, sm.wildcards.task, sm.wildcards.activation))
