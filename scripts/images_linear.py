"""Rule images_linear: clean linear heads (SLF) of every downstream task on a frozen encoder."""

from advpretrain.images.linear import images_linear
from advpretrain.workflow.run import run

run(snakemake, images_linear)  # noqa: F821 (snakemake is injected by Snakemake)
