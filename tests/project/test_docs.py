"""The docs match the code: the generated config reference is current, and every file or
folder the docs name exists."""

import re

from conftest import REPO

from advpretrain.workflow import config_docs

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A backticked repository path: `advpretrain/x.py`, `config/test.yaml`, `rules/cifar.smk`, ...
PATH = re.compile(r"`((?:advpretrain|config|rules|scripts|schemas|envs|requirements|tools|tests|"
                  r"benchmarks|notebooks|profiles|report|docs|ci)/[\w./-]*[\w/])`")


def test_config_reference_is_up_to_date():
    assert config_docs.write_config_reference(["--check"]) == 0, \
        "run `make docs` and commit docs/config_reference.md"


def test_paths_named_in_the_docs_exist():
    missing = {f"{doc.name}: {path}" for doc in DOCS for path in PATH.findall(doc.read_text())
               if "<" not in path and "*" not in path and not (REPO / path).exists()}
    assert not missing, f"the docs name files that do not exist: {sorted(missing)}"
