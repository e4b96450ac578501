"""Running a stage as the body of a Snakemake job.

``run(snakemake, stage)`` is all a script in scripts/ does: the stage gets the rule's
``settings`` param (and nothing else of the config), its named input and output paths, and any
further params as keywords (but ``code``, which its provenance records); its log gets everything
it prints; its provenance JSON is written.
This module must stay importable without torch: the Snakefile imports the package.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

RECORD_ENV = "ADVPRETRAIN_RECORD_SETTINGS"


def _paths(named: Any) -> dict[str, Any]:
    """Snakemake's named inputs or outputs as {name: path or list of paths}."""
    return {name: value if isinstance(value, str) else list(value)
            for name, value in named.items()}


def run(snakemake: Any, stage: Callable[..., Mapping | None]) -> None:
    """Run ``stage(settings, inputs, outputs, **other params)`` as the body of a Snakemake job.

    Threads come from the rule; everything printed goes to the rule's log. The stage returns
    what its provenance should add (seeds, timings); the provenance JSON is written to the
    output named ``meta`` when there is one. A ``UserError`` ends the job with its message as the
    log's last line; any other exception is logged with its traceback and re-raised.
    """
    from advpretrain.core import fileio
    from advpretrain.core.canonical import Recorder
    from advpretrain.core.errors import UserError

    # The stage's module imported torch already if it computes with it; the stages that only
    # read tables (figures, claims, reports) start without it, seconds sooner.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, int(snakemake.threads)))
    params = dict(snakemake.params.items())
    settings = params.pop("settings")
    code = params.pop("code", None)
    recording = os.environ.get(RECORD_ENV)
    view = Recorder(settings) if recording else settings
    inputs, outputs = _paths(snakemake.input), _paths(snakemake.output)
    wildcards = dict(snakemake.wildcards.items())
    log_path = snakemake.log[0] if snakemake.log else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr
    with stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        print(f"[{snakemake.rule}] {wildcards or ''}", flush=True)
        try:
            extra = stage(view, inputs, outputs, **params) or {}
            if "meta" in outputs:
                written = [path for name, path in outputs.items() if name != "meta"
                           for path in ([path] if isinstance(path, str) else path)]
                fileio.write_json(outputs["meta"], fileio.provenance(
                    snakemake.rule, wildcards, settings, inputs, written, code=code, **extra))
        except UserError as error:
            print(f"error: {error}", flush=True)
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc(file=stream)
            raise
    if recording:
        _record_reads(Path(recording), snakemake.rule, wildcards, view)


def _record_reads(folder: Path, rule: str, wildcards: dict, view: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = "_".join([rule, *map(str, wildcards.values())])
    (folder / f"{name}.json").write_text(json.dumps({
        "rule": rule, "wildcards": wildcards,
        "unread": sorted(".".join(map(str, path)) for path in view.unread())}, indent=1))
