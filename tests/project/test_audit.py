"""`make audit` (tools/audit.py): what it sends to pip-audit and how it reads the answer, on
made-up reports (no vulnerability service is reachable from the test machines)."""

import importlib.util

from conftest import REPO

spec = importlib.util.spec_from_file_location("audit", REPO / "tools" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def test_every_pin_of_the_installed_files_is_audited():
    pins = audit.exact_pins(audit.AUDITED)
    assert "torch" in pins  # pinned with ===, the registry build
    assert pins["pip"] == "26.2.1" and "torchattacks" in pins and "pip-audit" in pins
    assert "snakemake" in pins and "numpy" in pins
    assert not any(name.startswith("#") for name in pins)


def test_no_package_looked_up_says_nothing_was_checked():
    report = {"dependencies": [{"name": "requests", "version": "2.31.0",
                                "skip_reason": "Dependency not found on PyPI"},
                               {"name": "numpy", "version": "2.0.0",
                                "skip_reason": "Dependency not found on PyPI"}]}
    status, lines = audit.summarise(report, "pypi")
    assert status == audit.NOT_CHECKED
    assert lines == [line for line in lines if line.startswith("NOT AUDITED: no vulnerability "
                                                               "service reachable (pypi)")]
    assert "none of the 2 pinned packages" in lines[0]


def test_a_vulnerability_fails_and_is_named():
    report = {"dependencies": [
        {"name": "pip", "version": "23.2.1",
         "vulns": [{"id": "PYSEC-2023-228", "fix_versions": ["23.3"]}]},
        {"name": "numpy", "version": "2.0.0", "vulns": []}]}
    status, lines = audit.summarise(report, "pypi")
    assert status == audit.VULNERABLE
    assert lines[0] == "VULNERABLE pip 23.2.1: PYSEC-2023-228 (fixed in 23.3)"
    assert lines[-1] == "2 of 2 pinned packages checked against pypi: 1 with a known vulnerability"


def test_a_partial_audit_names_what_was_not_checked():
    report = {"dependencies": [{"name": "numpy", "version": "2.0.0", "vulns": []},
                               {"name": "torch", "version": "2.13.0", "skip_reason": "x"}]}
    status, lines = audit.summarise(report, "osv")
    assert status == audit.NOT_CHECKED
    assert lines[0] == "not audited (1 of 2): torch 2.13.0"
    report["dependencies"].pop()
    assert audit.summarise(report, "osv") == (audit.CLEAN, [
        "1 of 1 pinned packages checked against osv: 0 with a known vulnerability"])
