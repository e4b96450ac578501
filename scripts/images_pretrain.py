"""Rule images_pretrain: one variant's encoder for one seed."""

from advpretrain.images.train import pretrain
from advpretrain.workflow import run

run(snakemake, pretrain)  # noqa: F821 (snakemake is injected by Snakemake)
