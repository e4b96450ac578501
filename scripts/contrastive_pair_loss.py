"""Snakemake entry point: similar / dissimilar pair losses of one contrastive pre-training job."""

from advpretrain.contrastive import evaluate_pair_loss
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    outputs = {name: sm.output[name] for name in ("pair_loss", "pair_loss_training")}
    evaluate_pair_loss(sm.config, sm.input.data, sm.input.model, sm.input.log_csv,
                       sm.wildcards.task, sm.wildcards.activation, outputs, sm.output.meta)
