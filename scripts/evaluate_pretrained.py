"""Rule evaluate_pretrained: node measures and robustness of one pre-training job."""

from advpretrain.workflow import run
from advpretrain.simulation import evaluate_pretrained

run(snakemake, evaluate_pretrained)  # noqa: F821 (snakemake is injected by Snakemake)
