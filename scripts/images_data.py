"""Rule cifar_data: the CIFAR-10 archive verified and split into arrays."""

from advpretrain.images.data import make_cifar_data
from advpretrain.workflow import run

run(snakemake, make_cifar_data)  # noqa: F821 (snakemake is injected by Snakemake)
