"""The Makefile: every target runs Snakemake with the one CONFIG and PROFILE it is given (so
`make figures` after `make reproduce` sees the same settings), targets before --configfile (which
takes every word after it), and `make help` lists every target."""

import re

import pytest
from conftest import REPO
from make_commands import make_snakemake_commands, run_make

pytestmark = pytest.mark.lint

CONFIG = "config/config.yaml config/gpu_budget.yaml"
PROFILE = "profiles/slurm"
# target -> (the snakemake targets it builds, the overlay it adds after CONFIG)
TARGETS = {"reproduce": (["all", "notebooks"], []),
           "figures": (["export_figures", "results/claims.csv"], []),
           "simulations": ([], ["config/cpu_only.yaml"]),
           "cifar10": ([], ["config/cifar10_on.yaml"]), "sensitivity": (["sensitivity"], []),
           "mechanism": (["mechanism"], []), "notebooks": (["notebooks"], []),
           "dry-run": (["all", "notebooks"], []), "report": ([], [])}


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_runs_the_given_config_and_profile(target):
    commands = make_snakemake_commands(target, CONFIG=CONFIG, PROFILE=PROFILE)
    assert commands, f"make {target} runs no snakemake"
    targets, overlay = TARGETS[target]
    for args in commands:
        assert list(map(str, args.configfile)) == [*CONFIG.split(), *overlay]
        assert str(args.workflow_profile) == PROFILE
        if not args.report:
            assert list(args.targets) == targets


def test_without_variables_the_paper_config_and_no_profile():
    for target in ("reproduce", "figures"):
        for args in make_snakemake_commands(target):
            assert list(map(str, args.configfile)) == ["config/config.yaml"]
            assert args.workflow_profile is None


def test_make_help_lists_every_target_in_one_line_each():
    makefile = (REPO / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    lines = run_make("help").splitlines()
    assert [line.split()[0] for line in lines] == phony
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_side_by_side_labels_every_line_and_exits_with_the_first_failure():
    """tools/side_by_side.py (the workflow stage's two halves): each command's lines, labelled,
    and the first non-zero exit status; a call without LABEL=command is refused."""
    import subprocess
    import sys

    tool = str(REPO / "tools" / "side_by_side.py")
    fails = f"{sys.executable} -c 'print(1); raise SystemExit(3)'"
    done = subprocess.run([sys.executable, tool, f"ok={sys.executable} -c 'print(2)'",
                           f"fails={fails}"], capture_output=True, text=True)
    assert done.returncode == 3
    assert {"[ok] 2", "[fails] 1", "[ok] exit status 0", "[fails] exit status 3"} <= set(
        done.stdout.splitlines()), done.stdout
    refused = subprocess.run([sys.executable, tool, "echo"], capture_output=True, text=True)
    assert refused.returncode == 1 and "LABEL=" in refused.stderr
