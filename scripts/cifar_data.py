"""Snakemake entry point: verify (or download) the CIFAR-10 archive and write the split arrays."""

from advpretrain.cifar.data import make_cifar_data
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    make_cifar_data(sm.config, sm.output.data, sm.output.meta)
