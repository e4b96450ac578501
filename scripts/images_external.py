"""Rule images_external: a user-given encoder checkpoint through the same heads and attacks."""

from advpretrain.images.external import images_external
from advpretrain.workflow.run import run

run(snakemake, images_external)  # noqa: F821 (snakemake is injected by Snakemake)
