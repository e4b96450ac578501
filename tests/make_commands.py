"""The snakemake command lines a make target runs (``make -n``), parsed by the pinned Snakemake's
own argument parser: shared by the Makefile's lint test and the workflow test of `make figures`."""

import os
import shlex
import subprocess

from conftest import REPO

VENV_BIN = ".venv/bin"


def _refuse(*args, **kwargs):
    raise ValueError(args[-1] if args else "refused")


def run_make(*arguments: str) -> str:
    """``make`` in the repository as a user would type it: no CONFIG or PROFILE from the
    environment, and none of a calling make's flags (`make test` runs the tests under make)."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"CONFIG", "PROFILE", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=REPO,
                          capture_output=True, text=True, check=True, env=env).stdout


def make_snakemake_commands(target: str, **variables: str) -> list:
    """The parsed arguments of every snakemake line that ``make <target>`` would run, with only
    ``variables`` set (none from the environment or a calling make)."""
    from snakemake.cli import get_argument_parser

    lines = run_make("-n", target, *(f"{k}={v}" for k, v in variables.items()))
    parsed = []
    # Only the snakemake lines: the set-up recipe make prints when .venv is stale is not shell
    # that shlex reads line by line (its lines end in a backslash).
    for line in lines.splitlines():
        if not line.startswith(f"{VENV_BIN}/snakemake "):
            continue
        parser = get_argument_parser()
        parser.exit = parser.error = _refuse
        try:
            parsed.append(parser.parse_args(shlex.split(line)[1:]))
        except ValueError as error:
            raise ValueError(f"snakemake refuses `{line}`: {error}") from None
    return parsed
