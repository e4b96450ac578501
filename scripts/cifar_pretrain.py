"""Snakemake entry point: pre-train the ResNet-18 encoder of one CIFAR-10 variant."""

from advpretrain.cifar.train import pretrain
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    pretrain(sm.config, sm.input.data, sm.wildcards.variant, sm.output.encoder, sm.output.log_csv,
             sm.output.meta, sm.params.resume)
