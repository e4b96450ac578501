"""Rule cifar_pretrain: pre-train one CIFAR-10 variant's encoder."""

from advpretrain.workflow import run
from advpretrain.cifar.train import pretrain

run(snakemake, pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
