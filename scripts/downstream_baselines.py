"""Snakemake entry point: downstream baselines (random, purified, end-to-end adversarial)."""

from advpretrain.downstream import downstream_baselines
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    downstream_baselines(sm.config, sm.input.data, sm.wildcards.activation, sm.output.csv,
                         sm.output.meta)
