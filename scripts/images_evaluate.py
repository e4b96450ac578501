"""Rule images_evaluate: clean, PGD and AutoAttack accuracy of the heads, and purification."""

from advpretrain.images.evaluate import images_evaluate
from advpretrain.workflow.run import run

run(snakemake, images_evaluate)  # noqa: F821 (snakemake is injected by Snakemake)
