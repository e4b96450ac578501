"""The docs match the code: the generated config reference is current, and every file or
folder the docs name exists."""

import re
import shlex

from conftest import REPO

from advpretrain.workflow import config_docs

DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
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


# Where a snakemake command line is shown: the docs, and the comments of the profiles and envs.
COMMAND_SOURCES = [*DOCS, *sorted(REPO.glob("profiles/*/config.yaml")),
                   *sorted(REPO.glob("envs/*.yaml"))]
# A backticked command (it may wrap onto the next line), or a line of a fenced block.
INLINE_COMMAND = re.compile(r"`((?:\.venv/bin/)?snakemake\s[^`]+)`")
FENCED_COMMAND = re.compile(r"^\s*(?:\$\s+)?((?:\.venv/bin/)?snakemake\s.*)$")


def snakemake_commands(text: str) -> list[str]:
    """The snakemake command lines of a document: inline ones, and those of fenced blocks
    (continued with a backslash), without their trailing comments."""
    commands = [" ".join(match.split()) for match in INLINE_COMMAND.findall(text)]
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        lines = iter(block.replace("\\\n", " ").splitlines())
        commands += [match.group(1) for line in lines if (match := FENCED_COMMAND.match(line))]
    return [re.split(r"\s#\s", command)[0].strip() for command in commands]


def test_every_snakemake_command_shown_parses_with_the_pinned_snakemake():
    """Each command line the docs show is accepted by the pinned Snakemake's own argument
    parser, so a misspelt or removed flag (`--sw-deployment-method`) fails here."""
    from snakemake.cli import get_argument_parser

    commands = {(source.relative_to(REPO), command) for source in COMMAND_SOURCES
                for command in snakemake_commands(source.read_text())}
    assert len(commands) > 10, "the command lines of the docs were not found"
    refused = {}
    for source, command in sorted(commands):
        parser = get_argument_parser()
        parser.exit = parser.error = lambda *args, **kwargs: (_ for _ in ()).throw(
            ValueError(args[-1] if args else "refused"))
        try:
            parser.parse_args(shlex.split(command)[1:])
        except ValueError as error:
            refused[f"{source}: {command}"] = str(error)
    assert not refused, f"Snakemake refuses these command lines: {refused}"


def test_the_command_finder_finds_a_wrong_flag():
    text = "Run `.venv/bin/snakemake --cores all\n  --sw-deployment-method conda`.\n"
    assert snakemake_commands(text) == [
        ".venv/bin/snakemake --cores all --sw-deployment-method conda"]


def test_config_readme_describes_every_config_file():
    text = (REPO / "config" / "README.md").read_text()
    undescribed = [path.name for path in sorted((REPO / "config").glob("*.yaml"))
                   if f"| `{path.name}` |" not in text]
    assert not undescribed, f"config/README.md does not describe {undescribed}"


def test_license_and_citation():
    """An MIT LICENSE that the README states, and a CITATION.cff for the paper and the software."""
    import yaml

    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert "MIT (see `LICENSE`)" in (REPO / "README.md").read_text()
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert {"message", "title", "authors", "version"} <= set(citation)
    paper = citation["preferred-citation"]
    assert [a["family-names"] for a in paper["authors"]] == [
        "Xing", "Lin", "Song", "Xu", "Zeng", "Cheng"]
    assert paper["year"] == 2024 and "AISTATS" in paper["conference"]["name"]
    assert "2401.15248" in paper["identifiers"][0]["value"]
