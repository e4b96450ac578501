"""Rule cifar_evaluate: clean, PGD and AutoAttack accuracy and purification of one variant."""

from advpretrain.workflow import run
from advpretrain.cifar.evaluate import evaluate

run(snakemake, evaluate)  # noqa: F821 (snakemake is injected by Snakemake)
