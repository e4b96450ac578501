"""First stage of `make test`: lint and dry runs, seconds each, before anything trains."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import REPO, planned_rules, run_snakemake

pytestmark = pytest.mark.lint

CONFIGS = REPO / "config"
# Every config combination the docs tell users to run.
SHIPPED = {
    "paper": ["config.yaml"],
    "paper, CPU only": ["config.yaml", "cpu_only.yaml"],
    "paper, GPU budget": ["config.yaml", "gpu_budget.yaml"],
    "paper, CIFAR-10 forced on": ["config.yaml", "cifar10_on.yaml"],
    "test": ["test.yaml"],
}


def tool(name, *args):
    return subprocess.run([sys.executable, "-m", name, *args], cwd=REPO, capture_output=True,
                          text=True)


def test_snakemake_lint_is_clean():
    result = tool("snakemake", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in a good condition" in result.stdout + result.stderr, result.stdout


def test_snakefmt_finds_nothing_to_change():
    result = tool("snakefmt", "--check", "Snakefile", "rules")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    result = tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_plan_a_dag(name, tmp_path):
    result = run_snakemake(tmp_path, "--dry-run", configfile=[CONFIGS / f for f in SHIPPED[name]])
    assert "pretrain" in planned_rules(result.stdout), result.stdout[-2000:]


def test_scripts_are_thin_entry_points():
    """scripts/<rule>.py: one stage function handed to advpretrain.workflow.run, no config."""
    for script in sorted((REPO / "scripts").glob("*.py")):
        tree = ast.parse(script.read_text())
        body = [node for node in tree.body if not isinstance(node, ast.Expr | ast.Import
                                                            | ast.ImportFrom)]
        calls = [node for node in tree.body if isinstance(node, ast.Expr)
                 and isinstance(node.value, ast.Call)]
        assert not body and len(calls) == 1, f"{script.name} does more than run a stage"
        assert ast.unparse(calls[0].value.func) == "run", script.name
        assert "config" not in script.read_text(), f"{script.name} reads the config"
