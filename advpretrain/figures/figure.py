"""The figure stage: draw one registered figure from its CSVs."""

import importlib
from collections.abc import Mapping
from pathlib import Path

from advpretrain.workflow.figures import plot_module


def figure(settings: Mapping, inputs: Mapping, outputs: Mapping) -> None:
    """Call ``plot_<figure>`` of the module the registry names for ``settings["figure"]``."""
    name = settings["figure"]
    plot = getattr(importlib.import_module(plot_module(name)), f"plot_{name}")
    plot(inputs, settings, Path(outputs["pdf"]).with_suffix(""))
