"""Rule cifar_data: the CIFAR-10 archive verified and split into arrays."""

from advpretrain.workflow import run
from advpretrain.cifar.data import make_cifar_data

run(snakemake, make_cifar_data)  # noqa: F821 (snakemake is injected by Snakemake)
