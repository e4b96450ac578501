"""`snakemake --report` and the notebooks, built from the test config (docs/report.md).

One module-scoped run: the session's whole-DAG run (conftest.workflow_run) copied to a fresh
directory, then the whole DAG (a no-op), the notebooks and the report. The copy keeps the
session's build untouched.

The pages are also opened in headless Chromium (tests/browser.py: the DevTools protocol over a
pipe, network cut): every figure must decode and no page may log an error. Without Chromium
those tests skip, unless ADVPRETRAIN_BROWSER_TEST=1 (set by .ci/run, which installs Debian's
`chromium`): then they fail.
"""

import base64
import os
import re
import shutil

import pandas as pd
import pytest
from browser import Browser, find_chromium
from conftest import REPO, run_snakemake

from advpretrain.claims.markdown import claim_answers

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


def test_the_landing_page_gives_the_answer_claim_by_claim(built):
    """The report's first page (report/workflow.rst) carries the claims stage's answer for
    every claim and setting, and the claims come readable (an HTML table, not only a CSV)."""
    report = (built / "results" / "report.html").read_text()
    answers = (built / "results" / "claims_answers.rst").read_text().splitlines()
    assert answers and "What this run found" in report
    text = re.sub(r"<[^>]+>", "", report.replace("\\n", " ").replace("\\u003c", "<")
                  .replace("\\u003e", ">"))
    for line in answers:
        claim = re.match(r"\* \*\*(.+?)\*\* \((.+?)\): \*\*(.+?)\*\*", line)
        assert claim, line
        words = " ".join(part.replace("\\", "") for part in claim.groups())
        assert re.sub(r"\s+", " ", words) in re.sub(r"\s+", " ", text.replace(" (", " ")
                                                      .replace("): ", " ")), line
    assert "claims.html" in report


def test_notebooks_run_on_the_test_config(built):
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.py"))
    assert notebooks
    for name in notebooks:
        html = built / "results" / "notebooks" / f"{name}.html"
        assert html.exists(), f"{name} was not executed"
        text = html.read_text()
        assert "data:image/png" in text or name == "04_claims", f"{name} shows no figure"
        assert "jp-OutputArea-output" in text and "Traceback" not in text


# In the browser. A figure renders if its <img> decodes to a nonzero width and, for an embedded
# image, its bytes decode completely in Chromium's own decoder (ImageDecoder, complete frames
# only: an <img> shows a cut-short PNG as far as it goes, without an error).
FIGURE_PROBLEM = """const figureProblem = async img => {
  if (!img) return "not shown";
  try { await img.decode(); } catch (error) { return `the <img> does not decode (${error})`; }
  if (!img.naturalWidth) return "the <img> has width 0";
  const type = (img.src.match(/^data:([^;,]+)/) || [])[1];
  if (type && window.ImageDecoder && await ImageDecoder.isTypeSupported(type)) {
    try {
      const data = await (await fetch(img.src)).arrayBuffer();
      await new ImageDecoder({data, type}).decode({completeFramesOnly: true});
    } catch (error) { return `its ${type} data do not decode completely (${error})`; }
  }
  return "";
};
"""

# The report is a single-page app: a result is shown when its entry is clicked, which calls
# app.setView (Snakemake's result_view_button.js); the check does the same for every image
# result, in turn, and waits for the <img> it renders.
REPORT_FIGURES = FIGURE_PROBLEM + """(async () => {
  const pause = ms => new Promise(resolve => setTimeout(resolve, ms));
  const until = async (test, ms) => {
    for (const end = Date.now() + ms; !test(); await pause(50)) if (Date.now() > end) return false;
    return true;
  };
  const started = await until(() => typeof app !== "undefined" && typeof results !== "undefined"
                                     && document.querySelector("#app").childElementCount, 30000);
  if (!started) return null;
  const figures = [];
  for (const [path, entry] of Object.entries(results)) {
    if (!entry.mime_type.startsWith("image/")) continue;
    app.setView({content: "img", contentPath: entry.data_uri, resultPath: path});
    const shown = () => [...document.images].find(i => i.getAttribute("src") === entry.data_uri);
    await until(() => shown() && shown().complete, 20000);
    figures.push({name: path, problem: await figureProblem(shown())});
  }
  return figures;
})()"""

# A static page (a notebook's HTML): every <img>, named by its cell's prompt.
PAGE_FIGURES = FIGURE_PROBLEM + """Promise.all([...document.images].map(async (img, index) => {
  const prompt = img.closest(".jp-Cell")?.querySelector(".jp-InputPrompt");
  return {name: `figure ${index + 1} (cell ${prompt ? prompt.textContent.trim() : "?"})`,
          problem: await figureProblem(img)};
}))"""

BROWSER_REQUIRED = os.environ.get("ADVPRETRAIN_BROWSER_TEST") == "1"


@pytest.fixture(scope="session")
def chromium():
    """Chromium's path; session-scoped so that it comes before the build: without Chromium the
    browser tests skip (or fail) at once."""
    executable = find_chromium()
    if executable is None:
        if BROWSER_REQUIRED:
            pytest.fail("ADVPRETRAIN_BROWSER_TEST=1 but no Chromium is installed "
                        "(`apt-get install chromium`, as .ci/run does)")
        pytest.skip("Chromium is not installed; set ADVPRETRAIN_BROWSER_TEST=1 to require it")
    return executable


@pytest.fixture(scope="module")
def browser(chromium):
    with Browser(chromium) as opened:
        yield opened


def page_problems(browser, path, figures_js):
    """(figures checked, problems): every figure that did not decode to a nonzero width and
    every error the page logged, each named."""
    page = browser.open(path)
    try:
        figures = page.evaluate(figures_js)
        errors = [f"{path.name}: {error}" for error in page.errors()]
    finally:
        page.close()
    if figures is None:
        return [], [f"{path.name}: the report's app did not start", *errors]
    problems = [f"{path.name}: {figure['name']} does not render: {figure['problem']}"
                for figure in figures if figure["problem"]]
    return figures, problems + errors


def test_report_renders_in_a_browser(browser, built):
    figures, problems = page_problems(browser, built / "results" / "report.html",
                                      REPORT_FIGURES)
    assert not problems, "\n".join(problems)
    shown = {figure["name"] for figure in figures}
    for png in sorted((built / "paper_figures").glob("*.png")):
        assert str(png.relative_to(built)) in shown, f"{png.name} was not shown"


# The report's first page as a reader sees it, once its app has drawn it.
LANDING_TEXT = """(async () => {
  const pause = ms => new Promise(resolve => setTimeout(resolve, ms));
  for (const end = Date.now() + 30000; Date.now() < end; await pause(50))
    if (typeof app !== "undefined" && document.querySelector("#app").childElementCount
        && document.body.innerText.includes("What this run found")) break;
  return document.body.innerText;
})()"""


def test_the_verdicts_are_visible_on_the_report_s_first_page(browser, built):
    """Each claim's answer, as the claims stage decides it from results/claims.csv, shows on the
    landing page in Chromium: "C1 (supervised): contradicted; <reason>"."""
    page = browser.open(built / "results" / "report.html")
    try:
        text = page.evaluate(LANDING_TEXT)
    finally:
        page.close()
    answers = claim_answers(pd.read_csv(built / "results" / "claims.csv", keep_default_na=False))
    assert len(answers)
    for row in answers.itertuples(index=False):
        assert f"{row.claim} ({row.setting}): {row.answer}; {row.reason}" in text, row


def test_notebooks_render_in_a_browser(browser, built):
    problems = []
    for html in sorted((built / "results" / "notebooks").glob("*.html")):
        figures, found = page_problems(browser, html, PAGE_FIGURES)
        problems += found
        if not figures and html.stem != "04_claims":
            problems.append(f"{html.name}: no figure")
    assert not problems, "\n".join(problems)


def test_browser_check_names_a_broken_figure_and_an_error(browser, built, tmp_path):
    """The two checks above on broken copies: the report with one figure's PNG cut to half its
    bytes (an <img> still shows the top half), and a notebook with a console error and an
    uncaught exception injected."""
    report = (built / "results" / "report.html").read_text()
    png = built / "paper_figures" / "purity_distribution.png"
    data = png.read_bytes()
    embedded = f"filename={png.name};base64,"
    assert embedded + base64.b64encode(data).decode() in report, "the PNG is not embedded as is"
    broken = tmp_path / "report.html"
    broken.write_text(report.replace(embedded + base64.b64encode(data).decode(),
                                     embedded + base64.b64encode(data[: len(data) // 2]).decode()))
    _, problems = page_problems(browser, broken, REPORT_FIGURES)
    assert problems and all(f"{png.name} does not render" in p for p in problems), problems

    notebook = sorted((built / "results" / "notebooks").glob("*.html"))[0]
    injected = "<script>console.error('injected error'); null.oops;</script></body>"
    broken = tmp_path / notebook.name
    broken.write_text(notebook.read_text().replace("</body>", injected, 1))
    _, problems = page_problems(browser, broken, PAGE_FIGURES)
    assert any("console.error: injected error" in p for p in problems), problems
    assert any("uncaught exception: TypeError" in p for p in problems), problems
