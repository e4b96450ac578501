"""Glue between Snakemake and the package: running a stage from a script, and code inputs.

``run(snakemake, stage)`` is all a script in scripts/ does: the stage gets the rule's
``settings`` param (and nothing else of the config), its named input and output paths, and any
further params as keywords; its log gets everything it prints; its provenance JSON is written.

``code_inputs(script)`` lists the package modules a script imports, directly or not, so that a
rule reruns when code it runs changes, and only then. Modules that cannot change a result
(``RESULT_NEUTRAL``: progress lines, messages, this glue) are left out, so editing a log message
reruns nothing. This module must stay importable without torch: the Snakefile imports it.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "advpretrain"
PACKAGE_DIR = Path(__file__).resolve().parent
RESULT_NEUTRAL = frozenset({f"{PACKAGE}.{name}" for name in ("progress", "errors", "workflow",
                                                             "config", "config_docs",
                                                             "images.cost")})
RECORD_ENV = "ADVPRETRAIN_RECORD_SETTINGS"


# ---------------------------------------------------------------- import graph

def module_file(name: str) -> Path | None:
    """The file of package module ``name`` (dotted), or None if it is not one of ours."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = PACKAGE_DIR.joinpath(*name.split(".")[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path, module: str | None) -> set[str]:
    """Package modules that the file ``path`` (module ``module``, None for a script) imports."""
    package = None
    if module is not None:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            names.add(source)
            # ``from pkg import mod`` imports a submodule when one has that name.
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in names if module_file(name) is not None}


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """{module: package modules it imports} for every module of the package."""
    graph = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = frozenset(_imported_names(path, module) - {module})
    return graph


def _with_parents(module: str) -> list[str]:
    """A module and the packages Python initialises to import it."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def dependencies(roots: Iterable[str]) -> set[str]:
    """Every package module that importing ``roots`` executes (parents included)."""
    graph, seen, todo = import_graph(), set(), [p for r in roots for p in _with_parents(r)]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(p for name in graph.get(module, ()) for p in _with_parents(name))
    return seen


def code_inputs(script: str | Path, *modules: str) -> list[str]:
    """Files of the package modules a script (and any extra ``modules``, e.g. a plot function's
    module chosen at run time) depends on, less the result-neutral ones: a rule's code inputs."""
    roots = _imported_names(Path(script), None) | set(modules)
    return sorted(str(module_file(m)) for m in dependencies(roots) - RESULT_NEUTRAL)


# ---------------------------------------------------------------- running a stage

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
    import torch  # here, not at module level: the Snakefile imports this module to parse

    from . import fileio
    from .canonical import Recorder
    from .errors import UserError

    torch.set_num_threads(max(1, int(snakemake.threads)))
    params = dict(snakemake.params.items())
    settings = params.pop("settings")
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
                    snakemake.rule, wildcards, settings, inputs, written, **extra))
        except UserError as error:
            print(f"error: {error}", flush=True)
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc(file=stream)
            raise
    if recording:
        _record(Path(recording), snakemake.rule, wildcards, view)


def _record(folder: Path, rule: str, wildcards: dict, view: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = "_".join([rule, *map(str, wildcards.values())])
    (folder / f"{name}.json").write_text(json.dumps({
        "rule": rule, "wildcards": wildcards,
        "unread": sorted(".".join(map(str, path)) for path in view.unread())}, indent=1))
