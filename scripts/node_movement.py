"""Rule node_movement: how far attacks move one pre-training job's hidden representations."""

from advpretrain.simulation.node_movement import node_movement
from advpretrain.workflow.run import run

run(snakemake, node_movement)  # noqa: F821 (snakemake is injected by Snakemake)
