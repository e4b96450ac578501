"""Regenerate the locks and the conda env files from requirements/*.in (`make lock`).

    python3.11 tools/lock.py             # resolve both locks, then write the env files
    python3.11 tools/lock.py --envs-only # only rewrite envs/*.yaml from the current locks

    python3.11 tools/lock.py --keep-versions  # the same versions, hashes written anew

Nothing but pip: a scratch virtual environment (this interpreter's bundled pip) runs
`pip install --dry-run --ignore-installed --quiet --report` on requirements/dev.in; the report's
list of what would be installed becomes requirements/dev.lock (one `name==version` a pin, names
normalised, sorted). requirements/job.in is then resolved with dev.lock as constraints, so the
two locks agree on every package they share. A pin written with `===` in an .in file (torch)
makes that resolution take the registry build, never a local `+cpu` wheel from a find-links
folder (`==2.13.0` admits `2.13.0+cpu`, which pip prefers). The locks then say plain `==`: their
hashes admit the registry's files only, so an install takes those. Same inputs, same lock text,
apart from what the registry serves.

Every pin carries its hashes, so that `make setup` installs with `--require-hashes`: the sha256
of every file the registry (PyPI's JSON simple API, PEP 691) serves for that version, for any
platform, as pip-compile --generate-hashes writes them, plus the file pip chose here where it
came from elsewhere (a local index). The hand-written pin files (nodeps.txt, pip.txt, audit.txt)
keep their pins and comments and get their hashes the same way.

Finally envs/workflow.yaml (the jobs' conda env, from job.lock) and envs/dev.yaml (the driver's,
from dev.lock) are written with every pin spelled out: Snakemake hashes only the yaml, so a lock
change must change the yaml to rebuild the env.

This is a developer tool: it must not import advpretrain, and needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
ENVS = ROOT / "envs"
PYTHON_CONDA = "3.11.7"  # the conda envs' interpreter; .venv takes whatever 3.11 `make setup` has
# Packages installed with --no-deps after dev.lock; they must never enter a lock.
NODEPS = REQUIREMENTS / "nodeps.txt"
# Hand-written pin files: lock.py adds their hashes and keeps everything else.
HAND_PINNED = [NODEPS, REQUIREMENTS / "pip.txt", REQUIREMENTS / "audit.txt"]
REGISTRY = "https://pypi.org/simple"
SDIST = re.compile(r"\.(tar\.gz|tar\.bz2|zip)$")
# pip warns once per local index that lacks a project; noise, not a problem.
PIP_NOISE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(===|==)\s*([^\s;#]+)\s*$")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(path: Path) -> list[str]:
    """The lines of a requirements file with `\\` continuations joined, comments and `--hash`
    options dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return [re.sub(r"\s--hash=\S+", "", f" {line}").strip() for line in lines]


def read_requirements(path: Path) -> dict[str, tuple[str, str]]:
    """{name: (operator, version)} of an .in / .lock / .txt file, following `-r` includes.

    Only exact pins (`==`, `===`) and bare names (operator and version empty) are allowed.
    """
    pins: dict[str, tuple[str, str]] = {}
    for line in logical_lines(path):
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            pins.update(read_requirements(path.parent / line.split(None, 1)[1]))
            continue
        match = REQUIREMENT.match(line)
        if match:
            pins[canonical(match[1])] = (match[2], match[3])
        elif re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", line):
            pins[canonical(line)] = ("", "")
        else:
            raise SystemExit(f"{path}: cannot read {line!r} (only `name`, `name==v`, `name===v`)")
    return pins


def pip_version(python: Path) -> str:
    out = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def resolve(python: Path, infile: Path, report: Path, constraints: Path | None = None,
            no_deps: bool = False) -> dict:
    """pip's installation report for `infile` (nothing is installed)."""
    command = [str(python), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), "-r", str(infile)]
    if constraints is not None:
        command += ["-c", str(constraints)]
    if no_deps:
        command.append("--no-deps")
    done = subprocess.run(command, capture_output=True, text=True, cwd=infile.parent)
    messages = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and not PIP_NOISE.match(line)]
    if done.returncode != 0:
        name = infile.relative_to(ROOT)
        raise SystemExit(f"pip could not resolve {name}:\n" + "\n".join(messages))
    for line in messages:
        print(f"  pip: {line}", file=sys.stderr)
    return json.loads(report.read_text())


def pins_from_report(report: dict, infile: Path) -> dict[str, tuple[str, str]]:
    """{name: (operator, version)} of everything pip would install; `===` where the .in says so."""
    wanted = read_requirements(infile)
    pins = {}
    for item in report["install"]:
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        operator, pinned = wanted.get(name, ("==", ""))
        if operator == "===" and version != pinned:
            raise SystemExit(f"{name}: pip chose {version}, not {pinned} (a local build?)")
        pins[name] = (operator or "==", version)
    for name, (_, version) in wanted.items():
        if name not in pins:
            raise SystemExit(f"{name} from {infile.name} is missing from pip's report")
        if version and pins[name][1] != version:
            raise SystemExit(f"{name}: pip chose {pins[name][1]}, {infile.name} pins {version}")
    excluded = set(read_requirements(NODEPS))
    if excluded & set(pins):
        raise SystemExit(f"{sorted(excluded & set(pins))} belong in {NODEPS.name}, not in a lock")
    return dict(sorted(pins.items()))


def chosen_hashes(report: dict) -> dict[str, set[str]]:
    """{name: {sha256 of the file pip chose here}} from an installation report."""
    chosen = {}
    for item in report["install"]:
        name = canonical(item["metadata"]["name"])
        archive = item.get("download_info", {}).get("archive_info")
        if archive is None:
            raise SystemExit(f"{name}: pip chose {item['download_info']['url']}, not an archive")
        digest = archive.get("hashes", {}).get("sha256")
        if digest is None and archive.get("hash", "").startswith("sha256="):
            digest = archive["hash"].split("=", 1)[1]
        chosen[name] = {digest} if digest else set()
    return chosen


def file_version(filename: str, name: str) -> str | None:
    """The version in a wheel's or an sdist's file name, if the file is of project `name`."""
    if filename.endswith(".whl"):
        project, version = filename.split("-")[:2]
        return version if canonical(project) == name else None
    project = "[-_.]+".join(re.escape(part) for part in name.split("-"))  # name is canonical
    match = re.fullmatch(project + r"-(\d[^-]*)", SDIST.sub("", filename), re.IGNORECASE)
    return match[1] if match and SDIST.search(filename) else None


def registry_hashes(name: str, version: str) -> set[str]:
    """sha256 of every file the registry serves for name==version (empty if it has no such
    project: a package of a local index only)."""
    request = urllib.request.Request(f"{REGISTRY}/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            files = json.load(response)["files"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return set()
        raise SystemExit(f"{REGISTRY}/{name}/: {error}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise SystemExit(f"cannot reach {REGISTRY} for the hashes of {name}: {error}") from None
    return {f["hashes"]["sha256"] for f in files
            if "sha256" in f["hashes"] and file_version(f["filename"], name) == version}


def add_hashes(pins: dict[str, tuple[str, str]], chosen: dict[str, set[str]]
               ) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """{name: ("==", version, sorted hashes)}: the registry's files and pip's choice here."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        served = dict(zip(pins, pool.map(lambda item: registry_hashes(item[0], item[1][1]),
                                         pins.items())))
    hashed = {}
    for name, (_, version) in pins.items():
        digests = served[name] | chosen.get(name, set())
        if not digests:
            raise SystemExit(f"{name}=={version}: no file hash known (registry or pip's choice)")
        # Plain == in every lock: the hashes, not the operator, keep out a local +cpu build.
        hashed[name] = ("==", version, tuple(sorted(digests)))
    return hashed


def pin_lines(pins: dict[str, tuple]) -> list[str]:
    """One exact pin a line, without hashes (constraints, messages)."""
    return [f"{name}{pin[0]}{pin[1]}" for name, pin in pins.items()]


def hashed_lines(pins: dict[str, tuple[str, str, tuple[str, ...]]], indent: str = "    "
                 ) -> list[str]:
    """Requirements-file lines: each pin, then its hashes as `\\` continued `--hash` options."""
    lines = []
    for name, (operator, version, digests) in pins.items():
        lines.append(f"{name}{operator}{version} \\")
        lines += [f"{indent}--hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else "")
                  for i, digest in enumerate(digests)]
    return lines


def lock_text(name: str, pins: dict[str, tuple[str, str, tuple[str, ...]]], how: str) -> str:
    header = [
        f"# Exact pins of every package, generated from requirements/{name}.in by `make lock`.",
        "# Do not edit by hand. CPython 3.11, Linux x86_64; tools/lock.py ran",
        f"# {how}.",
        "# Hashes: every file of the version on the registry (install with --require-hashes);",
        "# they also keep out a local torch +cpu build, which `==` alone would admit.",
    ]
    return "\n".join(header + hashed_lines(pins)) + "\n"


def read_hashed(path: Path) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """{name: (operator, version, hashes)} of a hashed pin file."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = {}
    for line in (line.split("#", 1)[0].strip() for line in text.splitlines()):
        match = REQUIREMENT.match(re.sub(r"\s--hash=\S+", "", line))
        if match:
            digests = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
            pins[canonical(match[1])] = (match[2], match[3], digests)
    return dict(sorted(pins.items()))


def hand_pinned_text(path: Path, pins: dict[str, tuple[str, str, tuple[str, ...]]]) -> str:
    """A hand-written pin file with its comment lines kept and its pins hashed, in file order."""
    comments = [line for line in path.read_text().splitlines() if line.startswith("#")]
    order = list(read_requirements(path))
    return "\n".join(comments + hashed_lines({name: pins[name] for name in order})) + "\n"


JOB_ENV_HEADER = """\
# GENERATED by `make lock` (tools/lock.py) from requirements/job.lock: do not edit by hand.
# The conda environment of every rule's job (`snakemake --software-deployment-method conda`):
# Python and exactly the pins of requirements/job.lock, written out (no `-r` path: Snakemake copies
# this file into .snakemake/conda/ and hashes only its text, so a lock change must change it).
#
# What a job in this env relies on besides these packages: Snakemake's `script:` preamble appends
# the driver's sys.path (snakemake.common.get_snakemake_searchpaths(): the driver's site-packages
# and, through the .pth file of `make setup`'s editable install, the repository root) to the job's
# sys.path. So `snakemake` itself (needed to unpickle the job's `snakemake` object) and
# `advpretrain` come from the driver, which must therefore be the same Python minor version (3.11)
# and be reachable from the node running the job. Packages found in this env come first.
# Not built in CI: conda-forge cannot be reached there.
"""

DEV_ENV_HEADER = """\
# GENERATED by `make lock` (tools/lock.py) from requirements/dev.lock: do not edit by hand.
# The driver environment (Snakemake, the SLURM executor, tests, linters and every job package) for
# those who prefer conda to `make setup`'s .venv:
#     conda env create -n advpretrain-dev -f envs/dev.yaml
#     conda run -n advpretrain-dev pip install --no-deps -r requirements/nodeps.txt
#     conda run -n advpretrain-dev pip install --no-deps --no-build-isolation -e .
# requirements/nodeps.txt (torchattacks, a test-time cross-check whose stale pins would pull an
# old `requests`) is left out of this file: a conda pip section cannot say --no-deps. Hence the
# second command, for the test suite and anything else that imports torchattacks.
# Not built in CI: conda-forge cannot be reached there.
"""


def env_text(header: str, pins: dict[str, tuple[str, str, tuple[str, ...]]]) -> str:
    """A conda env file; each pip entry is one requirements line with its hashes (conda writes
    the entries to a requirements file for pip, which then requires hashes for all)."""
    lines = [header.rstrip("\n"), "channels:", "  - conda-forge",
             "  - nodefaults", "dependencies:", f"  - python={PYTHON_CONDA}", "  - pip", "  - pip:"]
    for name, (operator, version, digests) in pins.items():
        options = " ".join(f"--hash=sha256:{digest}" for digest in digests)
        lines.append(f"      - {name}{operator}{version} {options}")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else None
    if old != text:
        path.write_text(text)
    print(f"{path.relative_to(ROOT)}: {'unchanged' if old == text else 'written'}")


def write_envs() -> None:
    write(ENVS / "workflow.yaml", env_text(JOB_ENV_HEADER, read_hashed(REQUIREMENTS / "job.lock")))
    write(ENVS / "dev.yaml", env_text(DEV_ENV_HEADER, read_hashed(REQUIREMENTS / "dev.lock")))


def lock(keep_versions: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="advpretrain-lock-") as scratch:
        scratch = Path(scratch)
        venv.create(scratch / "venv", with_pip=True)
        python = scratch / "venv" / "bin" / "python"
        how = f"pip {pip_version(python)} install --dry-run --ignore-installed --report"
        held = None
        if keep_versions:  # the current dev.lock as constraints: only the hashes are new
            held = scratch / "held.txt"
            held.write_text("\n".join(pin_lines(read_requirements(REQUIREMENTS / "dev.lock")))
                            + "\n")

        report = resolve(python, REQUIREMENTS / "dev.in", scratch / "dev.json", held)
        dev = pins_from_report(report, REQUIREMENTS / "dev.in")
        chosen = chosen_hashes(report)
        constraints = scratch / "dev-constraints.txt"
        constraints.write_text("\n".join(pin_lines(dev)) + "\n")
        job = pins_from_report(resolve(python, REQUIREMENTS / "job.in", scratch / "job.json",
                                       constraints), REQUIREMENTS / "job.in")
        differ = {name for name in job if job[name] != dev.get(name)}
        if differ:
            raise SystemExit(f"job.lock and dev.lock disagree on {sorted(differ)}")
        hand = {}
        for path in HAND_PINNED:
            report = resolve(python, path, scratch / f"{path.stem}.json", no_deps=True)
            hand[path] = add_hashes(read_requirements(path), chosen_hashes(report))

    dev = add_hashes(dev, chosen)
    job = {name: dev[name] for name in job}
    for path, pins in hand.items():
        write(path, hand_pinned_text(path, pins))
    write(REQUIREMENTS / "dev.lock", lock_text("dev", dev, how + " -r dev.in"))
    write(REQUIREMENTS / "job.lock", lock_text("job", job, how + " -r job.in -c <dev.lock>"))
    print(f"dev.lock: {len(dev)} packages, job.lock: {len(job)} packages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs-only", action="store_true",
                        help="only rewrite envs/*.yaml from the current locks (no network)")
    parser.add_argument("--keep-versions", action="store_true",
                        help="resolve with the current dev.lock as constraints (new hashes only)")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != (3, 11):
        raise SystemExit("the locks are for CPython 3.11: run tools/lock.py with python3.11")
    if not args.envs_only:
        lock(args.keep_versions)
    write_envs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
