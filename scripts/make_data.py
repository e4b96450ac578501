"""Snakemake entry point: one seed's sparse-coding data set."""

from advpretrain.simulation import make_data
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    make_data(sm.config, sm.params.seed_index, sm.output.data, sm.output.meta)
