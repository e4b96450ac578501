"""Rules images_report_<dataset>: the per-seed table, the summary table and the figure."""

from advpretrain.images.report import write_report
from advpretrain.workflow import run

run(snakemake, write_report)  # noqa: F821 (snakemake is injected by Snakemake)
