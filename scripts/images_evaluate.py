"""Rule images_evaluate: clean, PGD and AutoAttack accuracy of the heads, and purification."""

from advpretrain.images.evaluate import evaluate
from advpretrain.workflow import run

run(snakemake, evaluate)  # noqa: F821 (snakemake is injected by Snakemake)
