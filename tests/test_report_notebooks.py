"""`snakemake --report` and the notebooks, built from the test config (docs/report.md).

One module-scoped run: the session's whole-DAG run (conftest.workflow_run) copied to a fresh
directory (with its tiny CIFAR archive, tests/test_cifar_data.py), then the whole DAG (a no-op),
the notebooks and the report. The copy keeps the other tests' byte-identity checks untouched.
"""

import re
import shutil

import pytest
import yaml

from conftest import REPO, TEST_CONFIG, run_snakemake
from test_cifar_data import write_cifar_archive

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def built(workflow_run, tmp_path_factory, module_config):
    workdir = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(workflow_run, workdir, symlinks=True)
    archive_dir = workdir / module_config["cifar"]["data"]["root"]
    if not archive_dir.exists():  # conftest's whole-DAG run writes it; not rewritten (mtime)
        write_cifar_archive(archive_dir)
    run_snakemake(workdir, "all", "notebooks")
    run_snakemake(workdir, "--report", "results/report.html")
    return workdir


@pytest.fixture(scope="module")
def module_config():
    return yaml.safe_load(TEST_CONFIG.read_text())


def test_report_has_every_figure_with_its_caption(built):
    report = (built / "results" / "report.html").read_text()
    captions = REPO / "report" / "captions"
    for png in sorted((built / "paper_figures").glob("*.png")):
        assert png.name in report, f"{png.name} is not in the report"
        caption = captions / f"{png.stem}.rst"
        assert caption.exists(), f"no caption for {png.stem}: add {caption.relative_to(REPO)}"
    # A caption's opening words, as rendered (rst -> html): the report carries the texts.
    first = re.sub(r"[*`\\]", "", (captions / "purity_distribution.rst").read_text().split(".")[0])
    assert first.strip() in re.sub(r"<[^>]+>", "", report)


def test_notebooks_run_on_the_test_config(built):
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.py"))
    assert notebooks
    for name in notebooks:
        html = built / "results" / "notebooks" / f"{name}.html"
        assert html.exists(), f"{name} was not executed"
        text = html.read_text()
        assert "data:image/png" in text or name == "04_claims", f"{name} shows no figure"
        assert "jp-OutputArea-output" in text and "Traceback" not in text
