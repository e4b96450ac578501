"""Rule cifar_pretrain: pre-train one CIFAR-10 variant's encoder."""

from advpretrain.images.train import pretrain
from advpretrain.workflow import run

run(snakemake, pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
