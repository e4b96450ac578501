"""Snakemake entry point: clean linear head on one variant's frozen encoder."""

from advpretrain.cifar.train import train_linear
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    train_linear(sm.config, sm.input.data, sm.input.encoder, sm.wildcards.variant, sm.output.head,
                 sm.output.log_csv, sm.output.meta, sm.params.resume)
