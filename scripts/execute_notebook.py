"""Snakemake entry point: execute one notebook of notebooks/ on this run's results, as HTML."""

from advpretrain.notebooks import execute_notebook
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    execute_notebook(sm.input.notebook, sm.output.html, workdir=".",
                     timeout=sm.params.cell_timeout)
