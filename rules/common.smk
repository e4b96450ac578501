# Shared helpers: config validation (before any job), package inputs, thread and env settings.
import os
import sys

# The package is imported from this checkout, here and in every job; no install step needed.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])
)

from advpretrain.config import validate_config, ConfigError  # noqa: E402
from advpretrain.simulation import variant_table  # noqa: E402

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SIM = config["simulation"]
SEEDS = list(range(SIM["seeds"]))
RESULTS = "results"
FIGURES = "paper_figures"
# Final targets; each rules file adds its own.
ALL_TARGETS = []


def package(*modules):
    """The package files a rule's script imports: Snakemake reruns the rule when they change."""
    common = ["__init__", "fileio", "seeding", "workflow", "config", "progress"]
    return [f"advpretrain/{name}.py" for name in dict.fromkeys(common + list(modules))]
