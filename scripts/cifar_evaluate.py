"""Snakemake entry point: clean, PGD and AutoAttack accuracy and purification of one variant."""

from advpretrain.cifar.evaluate import evaluate
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    evaluate(sm.config, sm.input.data, sm.input.encoder, sm.input.head, sm.wildcards.variant,
             sm.output.metrics, sm.output.purification, sm.output.meta)
