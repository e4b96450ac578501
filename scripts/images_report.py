"""Rule cifar_report: the CIFAR-10 table and purification figure."""

from advpretrain.images.report import write_report
from advpretrain.workflow import run

run(snakemake, write_report)  # noqa: F821 (snakemake is injected by Snakemake)
