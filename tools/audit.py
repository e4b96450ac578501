"""`make audit`: the pinned packages checked against a vulnerability database with pip-audit.

Every exact pin of the locks and of the files installed beside them (requirements/dev.lock, which
holds job.lock; nodeps.txt; pip.txt; audit.txt, this audit's own) goes to pip-audit as one
name==version list, without resolving anything (``--no-deps --disable-pip``). pip-audit runs from
its own environment (.venv-audit, requirements/audit.txt), so that its own dependencies never
touch the locked .venv.

A package the service cannot look up is *not audited*, and pip-audit still says "No known
vulnerabilities found" for it. So this script says plainly how many pins were checked: when none
could be (no vulnerability service reachable, as on a machine that sees a package mirror only),
it says so and exits 2; a known vulnerability exits 1; all checked and clean exits 0.

    python tools/audit.py [--service pypi|osv] [requirement files...]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDITED = [ROOT / "requirements" / name for name in ("dev.lock", "nodeps.txt", "pip.txt",
                                                            "audit.txt")]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([^\s;#]+)")
CLEAN, VULNERABLE, NOT_CHECKED = 0, 1, 2


def exact_pins(paths: list[Path]) -> dict[str, str]:
    """{canonical name: version} of every exact pin (``==`` or ``===``) in the requirement
    files."""
    found = {}
    for path in paths:
        for line in path.read_text().splitlines():
            match = PIN.match(line.strip())
            if match:
                found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def summarise(report: dict, service: str) -> tuple[int, list[str]]:
    """(exit status, lines to print) from pip-audit's JSON report."""
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    checked = len(dependencies) - len(skipped)
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            lines.append(f"VULNERABLE {dependency['name']} {dependency['version']}: "
                         f"{vuln['id']} (fixed in {fixed})")
    if dependencies and not checked:
        lines.append(f"NOT AUDITED: no vulnerability service reachable ({service}): none of the "
                     f"{len(dependencies)} pinned packages could be looked up, so nothing is "
                     "known about their vulnerabilities (run `make audit` where the service is "
                     "reachable, or try `.venv-audit/bin/python tools/audit.py --service osv`)")
        return NOT_CHECKED, lines
    if skipped:
        lines.append(f"not audited ({len(skipped)} of {len(dependencies)}): " + ", ".join(
            f"{d['name']} {d.get('version', '')}".strip() for d in skipped))
    lines.append(f"{checked} of {len(dependencies)} pinned packages checked against {service}: "
                 f"{len(vulnerable)} with a known vulnerability")
    return (VULNERABLE if vulnerable else NOT_CHECKED if skipped else CLEAN), lines


def audit(paths: list[Path], service: str) -> int:
    pins = exact_pins(paths)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listed:
        listed.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    command = [sys.executable, "-m", "pip_audit", "-r", listed.name, "--no-deps", "--disable-pip",
               "--progress-spinner", "off", "--format", "json",
               "--vulnerability-service", service]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    finally:
        Path(listed.name).unlink()
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        # pip-audit stops with a traceback when the service's host cannot be reached at all.
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"NOT AUDITED: the vulnerability service ({service}) cannot be reached: {reason}")
        return NOT_CHECKED
    status, lines = summarise(report, service)
    print("\n".join(lines))
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=AUDITED)
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    args = parser.parse_args(argv)
    return audit(args.files, args.service)


if __name__ == "__main__":
    sys.exit(main())
