"""Rule sparse_coding_data: one seed's sparse-coding data set."""

from advpretrain.simulation.sparse_coding_data import sparse_coding_data
from advpretrain.workflow.run import run

run(snakemake, sparse_coding_data)  # noqa: F821 (snakemake is injected by Snakemake)
