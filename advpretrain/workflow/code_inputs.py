"""Code params of a rule, from the package's import graph (``ast``, no import).

``code_fingerprints(script)`` hashes what a script and the package modules it imports, directly
or not, do: the syntax tree of each file without its docstrings, so a comment, a docstring or a
`touch` reruns nothing, and a changed statement reruns exactly the rules that run it. A rule gets
them as its ``code`` param, keyed by module name (no path: a build can move). Modules that cannot
change a result (``RESULT_NEUTRAL``: progress lines, messages, the plumbing) are left out, so
editing a log message reruns nothing. ``LAYERS`` orders the package's areas: a module imports
only from its own area or a lower layer (tested).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "advpretrain"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
RESULT_NEUTRAL = frozenset({f"{PACKAGE}.{name}" for name in (
    "core.progress", "core.errors", "workflow", "workflow.run", "workflow.code_inputs",
    "workflow.config", "workflow.config_docs", "workflow.generated", "images.cost")})
# The package's areas, lowest first: a module imports only modules of its own area or of a lower
# layer (``layer_violations``). The attack core (``attack``) sits below the model, whose training
# adversary uses it, and the evaluation; the two real-data branches (simulations, images) share
# a layer and never import each other; the claims read everything's tables.
LAYERS = (
    ("core",),
    ("workflow",),
    ("attack",),
    ("model",),
    ("evaluation",),
    ("figures",),
    ("simulation", "images"),
    ("claims",),
)


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


def area_of(module: str) -> tuple[int, str]:
    """(layer index, area) of a package module: the longest area prefix in ``LAYERS``."""
    best = None
    for index, areas in enumerate(LAYERS):
        for area in areas:
            name = f"{PACKAGE}.{area}"
            if (module == name or module.startswith(name + ".")) and (
                    best is None or len(area) > len(best[1])):
                best = (index, area)
    if best is None:
        raise ValueError(f"{module} is in no area of LAYERS")
    return best


def layer_violations() -> list[str]:
    """Imports that go up the layers or sideways into another area of the same layer."""
    found = []
    for module, imported in import_graph().items():
        if module == PACKAGE:
            continue
        layer, area = area_of(module)
        for name in imported:
            if name == PACKAGE:
                continue
            other_layer, other_area = area_of(name)
            if other_layer > layer or (other_layer == layer and other_area != area):
                found.append(f"{module} imports {name}")
    return sorted(found)
