"""`snakemake --report` and the notebooks, built from the test config (docs/report.md).

One module-scoped run: the session's whole-DAG run (conftest.workflow_run) copied to a fresh
directory, then the whole DAG (a no-op), the notebooks and the report. The copy keeps the
session's build untouched.
"""

import re
import shutil

import pytest
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def built(workflow_run, repo_copy, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(workflow_run, workdir, symlinks=True)
    run_snakemake(workdir, "all", "notebooks", repo=repo_copy)
    run_snakemake(workdir, "--report", "results/report.html", repo=repo_copy)
    return workdir


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
