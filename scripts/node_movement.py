"""Rule node_movement: how far attacks move one pre-training job's hidden representations."""

from advpretrain.movement import node_movement
from advpretrain.workflow import run

run(snakemake, node_movement)  # noqa: F821 (snakemake is injected by Snakemake)
