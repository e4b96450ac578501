# Shared helpers: config validation (before any job), stage settings, code inputs, targets.
# Every rule's params.settings is built by advpretrain.settings from the config: the stage reads
# that and nothing else, so a config change reruns exactly the jobs whose settings it changes.
# Its code inputs are the package modules its script imports (advpretrain.workflow.code_inputs).
import os

from advpretrain.workflow import params
from advpretrain.workflow.code_inputs import code_inputs
from advpretrain.workflow.config import ConfigError, validate_config
from advpretrain.workflow.figures import figure_inputs, plot_module, sim_csv as registry_csv

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SIM = config["simulation"]
SEEDS = list(range(SIM["seeds"]))
RESULTS = "results"
PAPER_FIGURES = "paper_figures"
SCRIPTS = os.path.join(workflow.basedir, "scripts")
# Final targets, and the figures: {name: {input name: CSV paths}}, from the figure registry
# (advpretrain.workflow.figures: each figure's plot function, inputs and settings, declared once).
ALL_TARGETS = []
FIGURES = figure_inputs(config)


def code(rule_name, *modules):
    """Code inputs of a rule: the package modules its script, scripts/<rule>.py, (and
    ``modules``) import."""
    return code_inputs(os.path.join(SCRIPTS, f"{rule_name}.py"), *modules)


def benchmark_file(rule_name, *wildcards):
    """Where Snakemake's `benchmark:` records a job's wall time and memory."""
    name = "_".join(f"{{{w}}}" for w in wildcards)
    return f"{RESULTS}/benchmarks/{rule_name}/{name}.tsv"


def sim_csv(name, tasks=("supervised",), activations=None):
    """Evaluation CSVs of the simulation jobs (default: the main activation)."""
    return registry_csv(config, name, tasks, activations)


def reported(path, name, category, **labels):
    """Mark an output for `snakemake --report`, captioned by report/captions/<name>.rst.

    A name without its own caption file gets report/captions/_default.rst (add one: docs/report.md).
    """
    captions = os.path.join(workflow.basedir, "report", "captions")
    caption = os.path.join(captions, f"{name}.rst")
    if not os.path.exists(caption):
        caption = os.path.join(captions, "_default.rst")
    return report(path, caption=caption, category=category, labels={"name": name, **labels})


def data_files(wildcards=None):
    return expand(f"{RESULTS}/data/seed{{seed}}.npz", seed=SEEDS)
