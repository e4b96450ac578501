"""Rules images_report_<dataset>: the per-seed table and the summary table."""

from advpretrain.images.report import images_report
from advpretrain.workflow.run import run

run(snakemake, images_report)  # noqa: F821 (snakemake is injected by Snakemake)
