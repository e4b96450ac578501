"""Snakemake entry point: the CIFAR-10 table and the purification summary and figure."""

from advpretrain.cifar.report import write_report
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    variants = sm.params.variants
    stage_meta = zip(sm.input.pretrain_meta, sm.input.linear_meta, sm.input.evaluate_meta)
    write_report(sm.input.metrics, sm.input.purification, dict(zip(variants, stage_meta)),
                 variants, **dict(sm.output.items()))
