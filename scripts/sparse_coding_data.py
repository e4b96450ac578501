"""Rule sparse_coding_data: one seed's sparse-coding data set."""

from advpretrain.sparse_coding import make_data
from advpretrain.workflow import run

run(snakemake, make_data)  # noqa: F821 (snakemake is injected by Snakemake)
