"""Rule figure: one figure from its CSVs."""

from advpretrain.workflow import run
from advpretrain.plotting import draw

run(snakemake, draw)  # noqa: F821 (snakemake is injected by Snakemake)
