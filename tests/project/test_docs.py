"""The docs match the code: the generated config reference is current, and every file or
folder the docs name exists."""

import ast
import re
import shlex
import subprocess
from pathlib import Path

import pytest
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


# The project describes itself and generic machines ("a 2-core x86-64 host, no GPU"), never the
# place or the tools it was built with.
BUILT_ELSEWHERE = re.compile(r"\b(?:this session|session's host|workplace|device tool|"
                             r"these machines|lent to|budget_left|give_back|files_fetch|"
                             r"firecracker)\b", re.I)


def test_the_project_speaks_of_itself_not_of_where_it_was_built():
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}"
             for path in _tracked(".md", ".py", ".sh", ".yaml", ".yml", ".smk", ".toml", ".cfg",
                                  ".txt", "Makefile", "Snakefile")
             if path != Path(__file__).resolve()
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if BUILT_ELSEWHERE.search(line)]
    assert not found, "\n".join(found)


def test_the_built_elsewhere_finder_finds_a_planted_phrase():
    assert BUILT_ELSEWHERE.search("measured on this session's host")
    assert not BUILT_ELSEWHERE.search("measured on a 2-core x86-64 host, equivalent to that")


def _tracked(*suffixes):
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    return [REPO / name for name in listed if name.endswith(suffixes) and (REPO / name).is_file()]


def _top_level_names(path):
    """What a module defines at its top level: functions, classes, assigned and imported names."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target)
                      if isinstance(name, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names


def _resolves(dotted):
    """``advpretrain.a.b[.NAME]``: a module or package of the package, or a name one defines."""
    parts = dotted.split(".")
    for length in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:length])
        module = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if module.is_file():
            rest = parts[length:]
            return not rest or (len(rest) == 1 and rest[0] in _top_level_names(module))
    return False


# A dotted name of the package; not a placeholder (``params.X``) or a build folder (.egg-info).
DOTTED = re.compile(r"\badvpretrain(?:\.(?!X\b|egg\b)\w+)+")


def test_every_dotted_name_of_the_package_in_code_and_docs_exists():
    wrong = [f"{path.relative_to(REPO)}: {name}" for path in _tracked(".py", ".md", ".smk")
             if path != Path(__file__).resolve()
             for name in sorted(set(DOTTED.findall(path.read_text()))) if not _resolves(name)]
    assert not wrong, "\n".join(wrong)


def test_the_dotted_name_finder_finds_a_wrong_one():
    assert _resolves("advpretrain.model.networks.ACTIVATIONS")
    assert not _resolves("advpretrain.networks.ACTIVATIONS")


PACKAGES = sorted(path.parent for path in (REPO / "advpretrain").rglob("__init__.py"))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_each_package_docstring_names_its_modules_and_only_them(package):
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    named = set(re.findall(r"``([a-z_][a-z0-9_]*)``", docstring))
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    modules |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    defined = set().union(*(_top_level_names(package / f"{name}.py") for name in modules
                            if (package / f"{name}.py").is_file()))
    assert not modules - named, f"modules the docstring does not name: {sorted(modules - named)}"
    unknown = named - modules - defined
    assert not unknown, f"names in the docstring that are no module here: {sorted(unknown)}"
