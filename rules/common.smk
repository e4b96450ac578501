# Shared helpers: config validation (before any job), package inputs, thread and env settings.
import json
import os
import sys

# The package is imported from this checkout, here and in every job; no install step needed.
sys.path.insert(0, workflow.basedir)
from advpretrain.config import ConfigError, pretraining_section, validate_config  # noqa: E402
from advpretrain.workflow import make_package_importable  # noqa: E402

make_package_importable(workflow.basedir)

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SIM = config["simulation"]
SEEDS = list(range(SIM["seeds"]))
RESULTS = "results"
PAPER_FIGURES = "paper_figures"
# Final targets, and the figures: {name: {"plot": "module.function", input name: CSV paths}},
# where the function lives in advpretrain/<module>.py. Each rules file adds its own.
ALL_TARGETS = []
FIGURES = {}


def settings(section):
    """A config section as canonical text, for params that only trigger reruns: Snakemake compares
    params by their text, so key order (e.g. a config rewritten by a YAML tool) must not count."""
    return json.dumps(section, sort_keys=True)


def figure_inputs(name):
    """A figure's CSV inputs (its entry in FIGURES without the plot function)."""
    return {key: paths for key, paths in FIGURES[name].items() if key != "plot"}


def sim_csv(name, tasks=("supervised",), activations=None):
    """Evaluation CSVs of the simulation jobs (default: the main activation)."""
    activations = activations or [SIM["network"]["activation"]]
    return [
        f"{RESULTS}/simulation/{task}/{act}/{name}.csv" for task in tasks for act in activations
    ]


def reported(path, name, category, **labels):
    """Mark an output for `snakemake --report`, captioned by report/captions/<name>.rst.

    A name without its own caption file gets report/captions/_default.rst (add one: docs/report.md).
    """
    captions = os.path.join(workflow.basedir, "report", "captions")
    caption = os.path.join(captions, f"{name}.rst")
    if not os.path.exists(caption):
        caption = os.path.join(captions, "_default.rst")
    return report(path, caption=caption, category=category,
                  labels={"name": name, **labels})


def data_files(wildcards=None):
    return expand(f"{RESULTS}/data/seed{{seed}}.npz", seed=SEEDS)


def package(*modules):
    """The package files a rule's script imports: Snakemake reruns the rule when they change."""
    common = ["__init__", "fileio", "seeding", "workflow", "config", "progress"]
    return [
        os.path.join(workflow.basedir, "advpretrain", f"{name}.py")
        for name in dict.fromkeys(common + list(modules))
    ]
