"""Snakemake entry point: node measures and robustness of one pre-training job."""

from advpretrain.simulation import evaluate_pretrained, job_variants
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    outputs = {name: sm.output[name] for name in ("nodes", "summary", "robustness", "coefficients")}
    evaluate_pretrained(sm.config, sm.input.data, sm.input.model, sm.wildcards.task,
                        sm.wildcards.activation, outputs, sm.output.meta,
                        variants=job_variants(sm.config, sm.wildcards.task,
                                              sm.wildcards.activation))
