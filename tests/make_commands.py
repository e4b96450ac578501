"""The snakemake command lines a make target runs (``make -n``), parsed by the pinned Snakemake's
own argument parser: shared by the Makefile's lint test and the workflow test of `make figures`."""

import shlex
import subprocess

from conftest import REPO


def _refuse(*args, **kwargs):
    raise ValueError(args[-1] if args else "refused")


def make_snakemake_commands(target: str, **variables: str) -> list:
    """The parsed arguments of every snakemake line that ``make <target>`` would run."""
    from snakemake.cli import get_argument_parser

    lines = subprocess.run(["make", "-n", target, *(f"{k}={v}" for k, v in variables.items())],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout
    parsed = []
    for line in lines.splitlines():
        words = shlex.split(line)
        if words and words[0].endswith("bin/snakemake"):
            parser = get_argument_parser()
            parser.exit = parser.error = _refuse
            try:
                parsed.append(parser.parse_args(words[1:]))
            except ValueError as error:
                raise ValueError(f"snakemake refuses `{line}`: {error}") from None
    return parsed
