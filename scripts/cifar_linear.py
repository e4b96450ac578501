"""Rule cifar_linear: clean linear head on one variant's frozen encoder."""

from advpretrain.workflow import run
from advpretrain.cifar.train import train_linear

run(snakemake, train_linear)  # noqa: F821 (snakemake is injected by Snakemake)
