"""Rule pretrain: pre-train every variant and seed of one task and activation."""

from advpretrain.simulation import pretrain
from advpretrain.workflow import run

run(snakemake, pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
