"""Rule cifar_report: the CIFAR-10 table and purification figure."""

from advpretrain.workflow import run
from advpretrain.cifar.report import write_report

run(snakemake, write_report)  # noqa: F821 (snakemake is injected by Snakemake)
