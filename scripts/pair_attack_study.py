"""Rule pair_attack_study: the pair-attack study's table."""

from advpretrain.workflow import run
from advpretrain.contrastive import pair_attack_study

run(snakemake, pair_attack_study)  # noqa: F821 (snakemake is injected by Snakemake)
