"""Rule images_external: a user-given encoder checkpoint through the same heads and attacks."""

from advpretrain.images.external import evaluate_external
from advpretrain.workflow import run

run(snakemake, evaluate_external)  # noqa: F821 (snakemake is injected by Snakemake)
