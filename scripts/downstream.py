"""Rule downstream: clean downstream heads on every frozen layer of one pre-training job."""

from advpretrain.simulation.downstream import downstream
from advpretrain.workflow.run import run

run(snakemake, downstream)  # noqa: F821 (snakemake is injected by Snakemake)
