"""Rule cifar_linear: clean linear head on one variant's frozen encoder."""

from advpretrain.images.train import train_linear
from advpretrain.workflow import run

run(snakemake, train_linear)  # noqa: F821 (snakemake is injected by Snakemake)
