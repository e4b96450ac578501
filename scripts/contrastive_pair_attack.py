"""Snakemake entry point: the pair-attack study's CSV (training attacks on one pair type only)."""

from advpretrain.contrastive import pair_attack_study
from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    pair_attack_study(sm.config, sm.input.summary, sm.input.pair_loss, sm.wildcards.activation,
                      sm.output.csv, sm.output.meta)
