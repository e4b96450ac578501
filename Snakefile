# Replication workflow for "Better Representations via Adversarial Training in Pre-Training:
# A Theoretical Perspective" (Xing et al., AISTATS 2024). `make reproduce` runs it end to end.
import os

from snakemake.utils import min_version

min_version("9.0")


# The paper configuration, unless --configfile names others: those replace it rather than being
# merged into it, so a key left out of a small config cannot leak in from the paper one.
if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


# Each configuration's outputs in its own folder (config output_directory): a test or control
# run leaves a finished paper build alone. The rules name repository files by workflow.basedir.
# Only the main process moves there: a job's own Snakemake (a cluster job, a subprocess) starts
# in that folder already. --directory takes precedence.
if workflow.is_main_process:

    workdir: config["output_directory"]


include: "rules/images_common.smk"
include: "rules/data.smk"
include: "rules/simulation.smk"
include: "rules/contrastive.smk"
include: "rules/images.smk"
include: "rules/downstream.smk"
include: "rules/claims.smk"
include: "rules/figures.smk"
include: "rules/notebooks.smk"
include: "rules/studies.smk"


# Jobs that take seconds run on the machine that drives Snakemake, never as cluster jobs.
localrules:
    all,
    figure,
    export_figures,
    claims,
    images_report_cifar10,
    images_report_digits,


rule all:
    default_target: True
    input:
        ALL_TARGETS,
        every_provenance,
