"""Rule pair_attack_study: the pair-attack study's table."""

from advpretrain.simulation.pair_attack_study import pair_attack_study
from advpretrain.workflow.run import run

run(snakemake, pair_attack_study)  # noqa: F821 (snakemake is injected by Snakemake)
