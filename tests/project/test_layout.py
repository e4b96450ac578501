"""The package's layout rules: rule X -> scripts/X.py -> a function X; no name defined twice;
imports only down the layers; no import cycle; no private name imported across modules."""

from __future__ import annotations

import ast
import functools
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import REPO, TEST_CONFIG

from advpretrain.workflow.code_inputs import (
    LAYERS,
    area_of,
    import_graph,
    layer_violations,
    module_file,
)

pytestmark = pytest.mark.lint
PACKAGE = REPO / "advpretrain"
PARAMS = "advpretrain.workflow.params"


@functools.cache
def rule_scripts() -> dict[str, str]:
    """{rule: its script's stem} of every rule the Snakefile defines, those a loop generates
    (images_report_<dataset>, <study>_point) included, as Snakemake itself parses them."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings, StorageSettings

    with tempfile.TemporaryDirectory() as workdir, SnakemakeApi() as api:
        workflow = api.workflow(resource_settings=ResourceSettings(),
                                config_settings=ConfigSettings(configfiles=[TEST_CONFIG]),
                                storage_settings=StorageSettings(),
                                snakefile=REPO / "Snakefile", workdir=Path(workdir))
        workflow.dag()  # parses the Snakefile
        return {rule.name: Path(rule.script).stem for rule in workflow._workflow.rules
                if rule.script}


def top_level_names(path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
    return names


def test_every_rule_script_calls_the_function_of_its_name():
    scripts = rule_scripts()
    assert {"pretrain", "images_report_digits", "mechanism_point", "figure"} <= set(scripts)
    for rule, script in scripts.items():
        # images_report_<dataset> rules share scripts/images_report.py
        assert rule == script or rule.startswith(script + "_"), (rule, script)
        tree = ast.parse((REPO / "scripts" / f"{script}.py").read_text())
        imported = {alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                    and node.module != "advpretrain.workflow.run" for alias in node.names}
        assert imported == {script}, f"scripts/{script}.py imports {imported}"
        call = [node.value for node in tree.body if isinstance(node, ast.Expr)][-1]
        assert ast.unparse(call) == f"run(snakemake, {script})", script


def test_no_name_is_defined_in_two_modules():
    """Outside the params builders (each named as its rule, apart from the stages), every
    function and class name of the package is defined once."""
    where = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if module.startswith(PARAMS):
            continue
        for name in top_level_names(path):
            where[name].append(module)
    twice = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert not twice, twice


def test_params_builders_mirror_the_rules():
    builders = set()
    for path in (PACKAGE / "workflow" / "params").glob("*.py"):
        builders.update(n for n in top_level_names(path) if not n.startswith("_"))
    stems = set(rule_scripts().values())
    assert stems <= builders, stems - builders


def test_imports_go_down_the_layers_only():
    areas = {area for layer in LAYERS for area in layer}
    for module in import_graph():
        if module != "advpretrain":
            assert area_of(module)[1] in areas
    assert layer_violations() == []


def test_every_layer_is_a_whole_area():
    """Each layer lists whole subpackages (no module singled out to sit below its own area, as
    the attack core once did), and every subpackage has its layer."""
    areas = [area for layer in LAYERS for area in layer]
    assert all("." not in area for area in areas), areas
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert sorted(areas) == sorted(packages)


def test_layer_check_catches_an_upward_import(monkeypatch):
    graph = dict(import_graph())
    graph["advpretrain.core.tables"] = graph["advpretrain.core.tables"] | {
        "advpretrain.claims.table"}
    monkeypatch.setattr("advpretrain.workflow.code_inputs.import_graph", lambda: graph)
    assert layer_violations() == ["advpretrain.core.tables imports advpretrain.claims.table"]


def test_no_private_name_is_imported_across_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("advpretrain"):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")
                           and module_file(f"{node.module}.{a.name}") is None]
                assert not private, f"{path.relative_to(REPO)} imports {private}"
