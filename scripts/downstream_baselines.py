"""Rule downstream_baselines: downstream baselines (random, purified, end-to-end adversarial)."""

from advpretrain.simulation.downstream_baselines import downstream_baselines
from advpretrain.workflow.run import run

run(snakemake, downstream_baselines)  # noqa: F821 (snakemake is injected by Snakemake)
