# Shared helpers: config validation (before any job), stage settings, code params, targets.
# Every rule's params.settings is built by advpretrain.workflow.params from the config: the stage
# reads that and nothing else, so a config change reruns exactly the jobs whose settings it
# changes. Its params.code fingerprints what its script and the package modules it imports do
# (advpretrain.workflow.code_inputs.code_fingerprints): a statement changed there reruns it; a
# comment, a docstring or a touch does not (the profiles leave out the "code" trigger, a
# script's mtime).
import os

from snakemake.iocontainers import Wildcards

from advpretrain.workflow import params
from advpretrain.workflow.code_inputs import code_fingerprints
from advpretrain.workflow.config import ConfigError, validate_config
from advpretrain.workflow.figures import PAPER, figure_category
from advpretrain.workflow.names import PAPER_FIGURES, RESULTS
from advpretrain.workflow.figures import MECHANISM_MEASURES, figure_files, study_verdicts
from advpretrain.workflow.figures import figure_inputs, plot_module, sim_csv as registry_csv

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SIM = config["simulation"]
SEEDS = list(range(SIM["seeds"]))
SCRIPTS = os.path.join(workflow.basedir, "scripts")
# Final targets, and the figures: {name: {input name: CSV paths}}, from the figure registry
# (advpretrain.workflow.figures: each figure's plot function, inputs and settings, declared once).
ALL_TARGETS = []
FIGURES = figure_inputs(config)


def code(rule_name, *modules):
    """The code param of a rule: fingerprints of its script, scripts/<rule>.py, and of the
    package modules it (and ``modules``) import."""
    return code_fingerprints(os.path.join(SCRIPTS, f"{rule_name}.py"), *modules)


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


# {rule: the inputs its provenance input is made from}: what `all` follows to every JSON.
PROVENANCE_READS = {}


def _paths(item, wildcards):
    """The paths of inputs given as in `input:` (paths, patterns in the job's wildcards, lists,
    mappings, functions of wildcards)."""
    if callable(item):
        return _paths(item(wildcards), wildcards)
    if isinstance(item, dict):
        return [p for value in item.values() for p in _paths(value, wildcards)]
    if isinstance(item, str):
        return expand(item, **dict(wildcards.items()))
    return [p for value in item for p in _paths(value, wildcards)]


def _producers(path):
    """(rule, wildcards, its provenance JSON or None) of the rules that write ``path``."""
    for producer in workflow.rules:
        if producer.name != "all" and producer.is_producer(path):
            wildcards = producer.get_wildcards(path)
            meta = producer.output.get("meta")
            yield producer, wildcards, meta and str(meta.apply_wildcards(wildcards))


def provenance(rule_name, *inputs):
    """The provenance JSONs (``meta`` outputs) of the jobs that write ``inputs`` (given as in
    `input:`), as the ``provenance`` input of the rule called ``rule_name``."""
    PROVENANCE_READS[rule_name] = inputs

    def metas(wildcards):
        return sorted(
            {meta for path in _paths(inputs, wildcards) for *_, meta in _producers(path) if meta}
        )

    return metas


def every_provenance(wildcards):
    """Input of `all`: the provenance JSON of every job the targets need, found by following
    each rule's provenance inputs from the targets. Snakemake remakes a missing output only
    when a target, or a job that reruns, needs it: so a deleted JSON is rebuilt."""
    found, seen, todo = set(), set(), list(ALL_TARGETS)
    while todo:
        path = todo.pop()
        for producer, job_wildcards, meta in _producers(path):
            job = (producer.name, tuple(sorted(job_wildcards.items())))
            if job in seen:
                continue
            seen.add(job)
            found.update([meta] if meta else [])
            reads = PROVENANCE_READS.get(producer.name, ())
            todo.extend(_paths(reads, Wildcards(fromdict=job_wildcards)))
    return sorted(found)


def data_files(wildcards=None):
    return expand(f"{RESULTS}/data/seed{{seed}}.npz", seed=SEEDS)
