"""Glue between Snakemake and the package: running a stage from a script, and its code params.

``run(snakemake, stage)`` is all a script in scripts/ does: the stage gets the rule's
``settings`` param (and nothing else of the config), its named input and output paths, and any
further params as keywords (but ``code``, which its provenance records); its log gets everything
it prints; its provenance JSON is written.

``code_fingerprints(script)`` hashes what a script and the package modules it imports, directly
or not, do: the syntax tree of each file without its docstrings, so a comment, a docstring or a
`touch` reruns nothing, and a changed statement reruns exactly the rules that run it. A rule gets
them as its ``code`` param, keyed by module name (no path: a build can move). Modules that cannot
change a result (``RESULT_NEUTRAL``: progress lines, messages, this glue) are left out, so editing
a log message reruns nothing. This module must stay importable without torch: the Snakefile
imports it.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
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


def code_modules(script: str | Path, *modules: str) -> list[str]:
    """The package modules a script (and any extra ``modules``, e.g. a plot function's module
    chosen at run time) depends on, less the result-neutral ones."""
    roots = _imported_names(Path(script), None) | set(modules)
    return sorted(dependencies(roots) - RESULT_NEUTRAL)


_DEFINITIONS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@cache
def syntax_fingerprint(path: Path) -> str:
    """A hash of what the Python file ``path`` does: its syntax tree (no comments, layout or
    line numbers) without docstrings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, _DEFINITIONS) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def code_fingerprints(script: str | Path, *modules: str) -> dict[str, str]:
    """{the script as scripts/<name>, each module it depends on (``code_modules``): its
    ``syntax_fingerprint``}: a rule's ``code`` param."""
    script = Path(script).resolve()
    return {f"{script.parent.name}/{script.name}": syntax_fingerprint(script),
            **{module: syntax_fingerprint(module_file(module))
               for module in code_modules(script, *modules)}}


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
        _record(Path(recording), snakemake.rule, wildcards, view)


def _record(folder: Path, rule: str, wildcards: dict, view: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = "_".join([rule, *map(str, wildcards.values())])
    (folder / f"{name}.json").write_text(json.dumps({
        "rule": rule, "wildcards": wildcards,
        "unread": sorted(".".join(map(str, path)) for path in view.unread())}, indent=1))
