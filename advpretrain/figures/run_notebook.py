"""Execute the jupytext notebooks in notebooks/ and write them as HTML (rules/notebooks.smk).

A notebook is a percent-format ``.py`` file; it is converted in memory (jupytext), run top to
bottom by a ``python3`` kernel of the interpreter running this code (nbclient; jupyter_client
replaces the kernelspec's ``python`` by ``sys.executable``), and exported with its outputs
(nbconvert). The notebooks read the results of the directory named by ``ADVPRETRAIN_WORKDIR``.
"""

import os
import sys
from pathlib import Path

from advpretrain.core.fileio import atomic_path
from advpretrain.workflow.names import RESULTS as RESULTS_DIR

# What the notebooks share: where the run's results are, and how to show one of its figures.
WORKDIR = Path(os.environ.get("ADVPRETRAIN_WORKDIR", "."))
RESULTS = WORKDIR / RESULTS_DIR
ACTIVATION = os.environ.get("ADVPRETRAIN_ACTIVATION", "gate")
# nbconvert's lab template without the two scripts it loads from a CDN (require.js, for widgets,
# and MathJax, for LaTeX; the notebooks use neither): the HTML opens offline without an error
# (tests/workflow/test_report_notebooks.py opens it in Chromium with the network cut).
OFFLINE_TEMPLATE = (
    "{%- extends 'index.html.j2' -%}"
    "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}"
    "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}"
)


def show_figure(name):
    """Show a figure the workflow drew (results/figures/<name>.png)."""
    from IPython.display import Image, display

    display(Image(filename=str(RESULTS / "figures" / f"{name}.png")))


def run_notebook(settings, inputs, outputs, options) -> None:
    """Run ``inputs["notebook"]`` (jupytext .py) in the current directory's results with the
    main activation of the run (``settings["activation"]``); write ``outputs["html"]``.

    A failing cell raises (nbclient's CellExecutionError names the cell and its traceback), so
    the rule fails and no HTML is left behind. ``options.cell_timeout``: seconds per cell.
    """
    import jinja2
    import jupytext
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    source, html_path, timeout = inputs["notebook"], outputs["html"], options.cell_timeout
    workdir = Path(".").resolve()
    notebook = jupytext.read(source)
    os.environ["ADVPRETRAIN_WORKDIR"] = str(workdir)
    os.environ["ADVPRETRAIN_ACTIVATION"] = settings["activation"]
    print(f"executing {source} in {workdir} with {sys.executable}", flush=True)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    for cell in notebook.cells:  # no timing metadata: it only adds noise to the HTML
        cell.get("metadata", {}).pop("execution", None)
    templates = jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})
    exporter = HTMLExporter(extra_loaders=[templates], template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(notebook)
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(body, encoding="utf-8")
    print(f"wrote {html_path}", flush=True)
