"""Rule images_data: a data set's train / validation / test arrays."""

from advpretrain.images.data import images_data
from advpretrain.workflow.run import run

run(snakemake, images_data)  # noqa: F821 (snakemake is injected by Snakemake)
