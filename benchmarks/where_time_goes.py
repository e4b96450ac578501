"""Where a finished build's job time goes: per rule, along the critical path, and in start-up.

Usage: python -m benchmarks.where_time_goes [results_dir] [--json X.json]
                                            [--startup S.json | --no-startup] [--repeats N]
       python -m benchmarks.where_time_goes --scripts-only [--json S.json]

What it reads, in the folder that holds ``results_dir`` (the build's working directory):

* the Snakemake logs, ``.snakemake/log/*.snakemake.log``: every job's rule, wildcards, inputs and
  outputs (hence the DAG: a job depends on the jobs that wrote its inputs) and its start and
  finish (to the second); a job rerun in a later log replaces the earlier one;
* the benchmark files, ``results_dir/benchmarks/**.tsv`` (Snakemake ``benchmark:``): the job's
  wall time to the millisecond and its CPU time, used instead of the log's seconds where present;
* the provenance JSONs beside the outputs: a stage that records its own ``timing.wall_seconds``
  (the real-image stages) gives a measured overhead, job time minus the stage's time.

The job logs under results/logs carry no times, so they add nothing here.

Start-up is measured, not read: for each rule's script (``scripts/<rule>.py``, or the longest
rule-name prefix that has one: ``images_report_digits`` -> ``images_report.py``), a fresh
interpreter runs what a Snakemake ``script:`` job runs before any work (the preamble's snakemake
imports, then the script's own imports) and the process's whole wall time is taken (the fastest
of ``--repeats``). A rule's start-up share is that time times its job count, over all job time.
``--startup`` reuses the ``startup`` section of an earlier ``--json`` file.

That probe sees only what a script imports before its first line of work. ``--modules FILE``
adds what each job's process had loaded when it ended, recorded during the build by
``benchmarks/module_probe`` (its docstring says how): imports made at run time, such as
``torch._dynamo`` by any ``torch.optim.Optimizer``, show there.
"""

import argparse
import ast
import csv
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
# What the preamble of every `script:` job imports before the script
# (snakemake/script/__init__.py: unpickling the job's `snakemake` object needs these).
PREAMBLE = ("import pickle\nfrom snakemake.logging import logger\n"
            "from snakemake.iocontainers import Snakemake")
PROBE = """import time
start = time.perf_counter()
{preamble}
preamble = time.perf_counter()
{imports}
print(preamble - start, time.perf_counter() - preamble)
"""
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
FINISHED = re.compile(r"^Finished jobid: (\d+)")


@dataclass
class Job:
    rule: str
    start: float
    fields: dict = field(default_factory=dict)
    end: float | None = None
    seconds: float | None = None       # job time: the benchmark's where there is one
    cpu_seconds: float | None = None
    stage_seconds: float | None = None  # what the stage itself timed (provenance)

    def paths(self, key):
        value = self.fields.get(key, "")
        return [os.path.normpath(p) for p in value.split(", ")] if value else []

    @property
    def outputs(self):
        return self.paths("output")

    @property
    def wildcards(self):
        return self.fields.get("wildcards", "")


def parse_log(path: Path) -> list[Job]:
    """The finished jobs of one Snakemake log, with their fields and times."""
    jobs, by_id, now, current = [], {}, None, None
    for line in path.read_text(errors="replace").splitlines():
        if stamp := STAMP.match(line):
            now = datetime.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
            current = None
        elif (match := JOB.match(line)) and now is not None:
            current = Job(match.group(1), now)
        elif current is not None and line.startswith("    ") and ":" in line:
            key, _, value = line.strip().partition(":")
            current.fields[key] = value = value.strip()
            if key == "jobid":
                by_id[value] = current
        elif (match := FINISHED.match(line)) and match.group(1) in by_id:
            job = by_id.pop(match.group(1))
            job.end = now
            job.seconds = now - job.start
            jobs.append(job)
            current = None
        else:
            current = None
    return jobs


def read_benchmark(path: Path) -> dict:
    """Mean wall and CPU seconds of a benchmark TSV (several rows when a job was repeated)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    mean = lambda key: sum(float(r[key]) for r in rows) / len(rows)  # noqa: E731
    return {"s": mean("s"), "cpu_time": mean("cpu_time") if "cpu_time" in rows[0] else None}


def stage_seconds(workdir: Path, job: Job) -> float | None:
    """The stage's own wall time, from a provenance JSON among the job's outputs."""
    for output in job.outputs:
        if output.endswith(".json") and (workdir / output).is_file():
            try:
                timing = json.loads((workdir / output).read_text()).get("timing")
            except (json.JSONDecodeError, AttributeError):
                continue
            if isinstance(timing, dict) and "wall_seconds" in timing:
                return float(timing["wall_seconds"])
    return None


def load_jobs(results: Path) -> tuple[list[Job], int]:
    """The build's jobs (the latest run of each set of outputs) and how many were superseded."""
    workdir = results.resolve().parent
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    latest = {}
    total = 0
    for log in logs:
        for job in parse_log(log):
            total += 1
            latest[tuple(sorted(job.outputs))] = job
    jobs = sorted(latest.values(), key=lambda j: (j.start, j.end))
    for job in jobs:
        benchmark = job.fields.get("benchmark")
        if benchmark and (workdir / benchmark).is_file():
            numbers = read_benchmark(workdir / benchmark)
            job.seconds, job.cpu_seconds = numbers["s"], numbers["cpu_time"]
        job.stage_seconds = stage_seconds(workdir, job)
    return jobs, total - len(jobs)


def critical_path(jobs: list[Job]) -> list[Job]:
    """The chain of dependent jobs with the largest summed job time."""
    writer = {path: job for job in jobs for path in job.outputs}
    needs = {id(job): {id(writer[p]) for p in job.paths("input") if p in writer} - {id(job)}
             for job in jobs}
    by_id = {id(job): job for job in jobs}
    best, before = {}, {}
    for key in TopologicalSorter(needs).static_order():
        parent = max(needs[key], key=lambda k: best[k], default=None)
        best[key] = by_id[key].seconds + (best[parent] if parent is not None else 0.0)
        before[key] = parent
    key = max(best, key=best.get, default=None)
    chain = []
    while key is not None:
        chain.append(by_id[key])
        key = before[key]
    return chain[::-1]


def script_of(rule: str) -> Path | None:
    """scripts/<rule>.py, or that of the longest prefix of the rule's name that has one."""
    parts = rule.split("_")
    for end in range(len(parts), 0, -1):
        path = SCRIPTS / f"{'_'.join(parts[:end])}.py"
        if path.is_file():
            return path
    return None


def script_imports(script: Path) -> str:
    """The script's top-level import statements."""
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body
                     if isinstance(node, ast.Import | ast.ImportFrom))


def _run_probe(code: str) -> tuple[float, list[float]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                            capture_output=True, text=True)
    return time.perf_counter() - start, [float(x) for x in result.stdout.split()]


def measure_startup(script: Path, repeats: int = 1) -> dict:
    """A fresh job process up to the first line of work: wall time, and the preamble's and the
    script's imports inside it (fastest of ``repeats``)."""
    code = PROBE.format(preamble=PREAMBLE, imports=script_imports(script))
    runs = [_run_probe(code) for _ in range(repeats)]
    wall, (preamble, imports) = min(runs)
    return {"process_seconds": round(wall, 3), "preamble_import_seconds": round(preamble, 3),
            "script_import_seconds": round(imports, 3)}


def interpreter_seconds(repeats: int = 1) -> float:
    return round(min(_run_probe("print(0, 0)")[0] for _ in range(repeats)), 3)


def summarise(jobs: list[Job], startup: dict | None, superseded: int) -> dict:
    total = sum(job.seconds for job in jobs)
    rules = {}
    for job in jobs:
        row = rules.setdefault(job.rule, {"jobs": 0, "job_seconds": 0.0, "cpu_seconds": None,
                                          "overhead_seconds": [], "script": None})
        row["jobs"] += 1
        row["job_seconds"] += job.seconds
        if job.cpu_seconds is not None:
            row["cpu_seconds"] = (row["cpu_seconds"] or 0.0) + job.cpu_seconds
        if job.stage_seconds is not None:
            row["overhead_seconds"].append(job.seconds - job.stage_seconds)
    startup_total = 0.0
    for rule, row in rules.items():
        script = script_of(rule)
        row["script"] = script.name if script else None
        row["share"] = row["job_seconds"] / total if total else 0.0
        overheads = row.pop("overhead_seconds")
        row["measured_overhead_per_job"] = sum(overheads) / len(overheads) if overheads else None
        per_job = (startup or {}).get(row["script"], {}).get("process_seconds")
        row["startup_per_job"] = per_job
        row["startup_seconds"] = per_job * row["jobs"] if per_job is not None else None
        startup_total += row["startup_seconds"] or 0.0
    chain = critical_path(jobs)
    starts, ends = [j.start for j in jobs], [j.end for j in jobs]
    return {
        "jobs": len(jobs), "superseded_jobs": superseded, "job_seconds": total,
        "wall_seconds": max(ends) - min(starts) if jobs else 0.0,
        "rules": dict(sorted(rules.items(), key=lambda item: -item[1]["job_seconds"])),
        "critical_path": {"seconds": sum(j.seconds for j in chain),
                          "jobs": [{"rule": j.rule, "wildcards": j.wildcards,
                                    "seconds": j.seconds} for j in chain]},
        "startup": startup,
        "startup_seconds": startup_total if startup else None,
        "startup_share": startup_total / total if startup and total else None,
    }


def _number(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(summary: dict) -> str:
    lines = [f"{summary['jobs']} jobs, {_number(summary['job_seconds'])} s of job time, "
             f"{_number(summary['wall_seconds'], 0)} s from the first job's start to the last "
             f"one's finish"
             + (f" ({summary['superseded_jobs']} earlier runs of the same jobs left out)"
                if summary["superseded_jobs"] else "") + ".", "",
             "| rule | jobs | job time (s) | share | CPU time (s) | start-up per job (s) "
             "| start-up (s) | measured overhead per job (s) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for rule, row in summary["rules"].items():
        lines.append(f"| {rule} | {row['jobs']} | {_number(row['job_seconds'])} | "
                     f"{row['share']:.1%} | {_number(row['cpu_seconds'])} | "
                     f"{_number(row['startup_per_job'], 2)} | {_number(row['startup_seconds'])} "
                     f"| {_number(row['measured_overhead_per_job'], 2)} |")
    share = summary["startup_share"]
    lines.append(f"| **total** | {summary['jobs']} | {_number(summary['job_seconds'])} | 100.0% | "
                 f"| | {_number(summary['startup_seconds'])} | |")
    if share is not None:
        lines += ["", f"Start-up (process start and imports before any work): "
                      f"{_number(summary['startup_seconds'])} s, {share:.1%} of the job time."]
    path = summary["critical_path"]
    lines += ["", f"Critical path (the chain of dependent jobs with the most job time): "
                  f"{_number(path['seconds'])} s in {len(path['jobs'])} jobs.", "",
              "| # | rule | wildcards | job time (s) |", "| ---: | --- | --- | ---: |"]
    lines += [f"| {i} | {job['rule']} | {job['wildcards']} | {_number(job['seconds'])} |"
              for i, job in enumerate(path["jobs"], 1)]
    return "\n".join(lines)


def startup_markdown(startup: dict) -> str:
    lines = [f"Bare interpreter: {startup['interpreter']:.2f} s. Per script, a fresh process "
             "up to its first line of work:", "",
             "| script | process (s) | snakemake preamble imports (s) | script imports (s) |",
             "| --- | ---: | ---: | ---: |"]
    for script, row in startup.items():
        if script != "interpreter":
            lines.append(f"| {script} | {row['process_seconds']:.2f} | "
                         f"{row['preamble_import_seconds']:.2f} | "
                         f"{row['script_import_seconds']:.2f} |")
    return "\n".join(lines)


def job_modules(probe: Path) -> dict:
    """{script: {"processes", "mean_seconds", "loaded"}} from a module probe's JSON lines; a
    Snakemake job's temporary script ``tmpXXXX.<name>.py`` counts as ``<name>.py``."""
    by_script = {}
    for line in probe.read_text().splitlines():
        row = json.loads(line)
        name = row["script"]
        if name.startswith("tmp") and name.count(".") >= 2:
            name = name.split(".", 1)[1]
        by_script.setdefault(name, []).append(row)
    return {name: {"processes": len(rows),
                   "mean_seconds": sum(row["seconds"] for row in rows) / len(rows),
                   "loaded": sorted({module for row in rows for module in row["loaded"]})}
            for name, rows in sorted(by_script.items())}


def modules_markdown(modules: dict) -> str:
    lines = ["Heavy modules loaded by the end of each job's process (module probe):", "",
             "| script | processes | mean seconds alive | modules |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {name} | {row['processes']} | {row['mean_seconds']:.1f} | "
              f"{', '.join(row['loaded'])} |" for name, row in modules.items()]
    return "\n".join(lines)


def measure_scripts(scripts, repeats) -> dict:
    startup = {"interpreter": interpreter_seconds(repeats)}
    for script in sorted(set(scripts)):
        startup[script.name] = measure_startup(script, repeats)
        print(f"measured {script.name}: {startup[script.name]['process_seconds']:.2f} s",
              file=sys.stderr, flush=True)
    return startup


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", help="the build's results folder")
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--startup", help="reuse the start-up measured into this --json file")
    parser.add_argument("--no-startup", action="store_true", help="do not measure start-up")
    parser.add_argument("--scripts-only", action="store_true",
                        help="only measure the start-up of every script in scripts/")
    parser.add_argument("--repeats", type=int, default=1, help="start-up runs per script")
    parser.add_argument("--modules", help="a module probe's JSON lines from the same build")
    args = parser.parse_args(argv)
    if args.scripts_only:
        summary = {"startup": measure_scripts(SCRIPTS.glob("*.py"), args.repeats)}
        text = startup_markdown(summary["startup"])
    else:
        results = Path(args.results)
        jobs, superseded = load_jobs(results)
        if not jobs:
            raise SystemExit(f"no finished jobs in {results.resolve().parent}/.snakemake/log: "
                             "give the results folder of a finished build")
        if args.startup:
            startup = json.loads(Path(args.startup).read_text())["startup"]
        elif args.no_startup:
            startup = None
        else:
            startup = measure_scripts(filter(None, map(script_of, {j.rule for j in jobs})),
                                      args.repeats)
        summary = summarise(jobs, startup, superseded)
        text = markdown(summary) + ("\n\n" + startup_markdown(startup) if startup else "")
    if args.modules:
        summary["modules"] = job_modules(Path(args.modules))
        text += "\n\n" + modules_markdown(summary["modules"])
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
