# Shared helpers: config validation (before any job), stage settings, code params, targets.
# Every rule's params.settings is built by advpretrain.settings from the config: the stage reads
# that and nothing else, so a config change reruns exactly the jobs whose settings it changes.
# Its params.code fingerprints what its script and the package modules it imports do
# (advpretrain.workflow.code_fingerprints): a statement changed there reruns it; a comment, a
# docstring or a touch does not (the profiles leave out the "code" trigger, a script's mtime).
import os

from advpretrain import settings as stage
from advpretrain.config import ConfigError, validate_config
from advpretrain.workflow import code_fingerprints

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SIM = config["simulation"]
SEEDS = list(range(SIM["seeds"]))
RESULTS = "results"
PAPER_FIGURES = "paper_figures"
SCRIPTS = os.path.join(workflow.basedir, "scripts")
# Final targets, and the figures: {name: {input name: CSV paths}}; each rules file adds its own.
# A figure's plot function and settings come from advpretrain.settings.figure.
ALL_TARGETS = []
FIGURES = {}


def code(rule_name, *modules):
    """The code param of a rule: fingerprints of its script, scripts/<rule>.py, and of the
    package modules it (and ``modules``) import."""
    return code_fingerprints(os.path.join(SCRIPTS, f"{rule_name}.py"), *modules)


def plot_module(name):
    """The module of a figure's plot function ("advpretrain.<module>")."""
    plot_file = stage.figure(config, name)["plot"].rsplit(".", 1)[0]
    return f"advpretrain.{plot_file}"


def benchmark_file(rule_name, *wildcards):
    """Where Snakemake's `benchmark:` records a job's wall time and memory."""
    name = "_".join(f"{{{w}}}" for w in wildcards)
    return f"{RESULTS}/benchmarks/{rule_name}/{name}.tsv"


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
    return report(path, caption=caption, category=category, labels={"name": name, **labels})


def provenance(*inputs):
    """An input function: the provenance JSONs (``meta`` outputs) of the jobs that write
    ``inputs``, given as in `input:` (paths, patterns in the job's wildcards, lists, mappings,
    functions of wildcards). Snakemake remakes a missing output only when some job or target
    needs it: each rule names the JSONs of what it reads, so that a deleted one is rebuilt."""

    def paths(item, wildcards):
        if callable(item):
            return paths(item(wildcards), wildcards)
        if isinstance(item, dict):
            return [p for value in item.values() for p in paths(value, wildcards)]
        if isinstance(item, str):
            return expand(item, **dict(wildcards.items()))
        return [p for value in item for p in paths(value, wildcards)]

    def metas(wildcards):
        found = set()
        for path in paths(list(inputs), wildcards):
            for producer in workflow.rules:
                meta = producer.output.get("meta")
                if meta is not None and producer.is_producer(path):
                    found.add(str(meta.apply_wildcards(producer.get_wildcards(path))))
        return sorted(found)

    return metas


def data_files(wildcards=None):
    return expand(f"{RESULTS}/data/seed{{seed}}.npz", seed=SEEDS)
