"""Snakemake overhead: dry-run time of the paper DAG and time of a no-op rerun.

Usage: python -m benchmarks.workflow_overhead [--configfile F ...] [--workdir DIR]
                                              [--target T ...] [--out X.json]
--workdir: a folder where the targets were already built with those config files (for the
no-op rerun); without it only the dry run of the paper DAG is timed. The no-op rerun is itself
a dry run first, so a folder that is not a finished build is reported and nothing is run.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import write_result

REPO = Path(__file__).resolve().parent.parent


def timed(*args, cwd):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, result.stdout + result.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", nargs="+", default=[str(REPO / "config" / "config.yaml")])
    parser.add_argument("--workdir", help="a folder holding a finished build of the targets")
    parser.add_argument("--target", nargs="*", default=[], help="targets of the no-op rerun")
    parser.add_argument("--out", default="benchmarks/results/workflow_overhead.json")
    args = parser.parse_args()
    numbers = {}
    dry, _ = timed("--dry-run", "--cores", "2", "--configfile", *args.configfile, cwd=REPO)
    numbers["dry_run_seconds"] = round(dry, 2)
    if args.workdir:
        rerun = [*args.target, "--cores", "2", "--directory", args.workdir,
                 "--configfile", *args.configfile]
        _, text = timed(*rerun, "--dry-run", cwd=args.workdir)
        if "Nothing to be done" not in text:
            raise SystemExit(f"{args.workdir} is not a finished build of {args.target}")
        noop, _ = timed(*rerun, cwd=args.workdir)
        numbers["noop_rerun_seconds"] = round(noop, 2)
    write_result(args.out, numbers)


if __name__ == "__main__":
    main()
