"""Snakemake entry point: draw one figure from its CSV inputs with its "module.function"."""

import importlib
from pathlib import Path

from advpretrain.workflow import job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job(sm):
    module, function = sm.params.plot.rsplit(".", 1)
    plot = getattr(importlib.import_module(f"advpretrain.{module}"), function)
    inputs = {key: list(sm.input[key]) for key in sm.input.keys() if key != "code"}
    plot(inputs, sm.config, Path(sm.output.pdf).with_suffix(""))
