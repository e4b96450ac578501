"""Rule cifar_evaluate: clean, PGD and AutoAttack accuracy and purification of one variant."""

from advpretrain.images.evaluate import evaluate
from advpretrain.workflow import run

run(snakemake, evaluate)  # noqa: F821 (snakemake is injected by Snakemake)
