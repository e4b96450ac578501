"""Rule downstream_blend: study (a), pre-trained layers blended toward purity 1."""

from advpretrain.simulation.downstream_blend import downstream_blend
from advpretrain.workflow.run import run

run(snakemake, downstream_blend)  # noqa: F821 (snakemake is injected by Snakemake)
