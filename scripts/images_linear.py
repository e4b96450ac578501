"""Rule images_linear: clean linear heads (SLF) of every downstream task on a frozen encoder."""

from advpretrain.images.linear import train_linear
from advpretrain.workflow import run

run(snakemake, train_linear)  # noqa: F821 (snakemake is injected by Snakemake)
