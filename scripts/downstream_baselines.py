"""Rule downstream_baselines: downstream baselines (random, purified, end-to-end adversarial)."""

from advpretrain.downstream import downstream_baselines
from advpretrain.workflow import run

run(snakemake, downstream_baselines)  # noqa: F821 (snakemake is injected by Snakemake)
