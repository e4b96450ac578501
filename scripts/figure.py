"""Rule figure: one figure from its CSVs."""

from advpretrain.plotting import draw
from advpretrain.workflow import run

run(snakemake, draw)  # noqa: F821 (snakemake is injected by Snakemake)
