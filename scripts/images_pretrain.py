"""Rule images_pretrain: one variant's encoder for one seed."""

from advpretrain.images.train import images_pretrain
from advpretrain.workflow.run import run

run(snakemake, images_pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
