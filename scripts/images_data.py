"""Rule images_data: a data set's train / validation / test arrays."""

from advpretrain.images.data import make_data
from advpretrain.workflow import run

run(snakemake, make_data)  # noqa: F821 (snakemake is injected by Snakemake)
