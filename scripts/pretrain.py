"""Rule pretrain: pre-train every variant and seed of one task and activation."""

from advpretrain.simulation.pretrain import pretrain
from advpretrain.workflow.run import run

run(snakemake, pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
