"""Rule evaluate_pair_loss: similar / dissimilar pair losses of one contrastive job."""

from advpretrain.simulation.evaluate_pair_loss import evaluate_pair_loss
from advpretrain.workflow.run import run

run(snakemake, evaluate_pair_loss)  # noqa: F821 (snakemake is injected by Snakemake)
