"""Rule evaluate_pretrained: node measures and robustness of one pre-training job."""

from advpretrain.simulation.evaluate_pretrained import evaluate_pretrained
from advpretrain.workflow.run import run

run(snakemake, evaluate_pretrained)  # noqa: F821 (snakemake is injected by Snakemake)
