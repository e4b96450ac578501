# Walk-through notebooks (notebooks/*.py, jupytext percent format) executed on this run's results
# and written as HTML: `snakemake notebooks` (or `make notebooks`; `make reproduce` builds them
# too). Not part of `all`: they read the results, they add none. A notebook is built only when every figure and rule it reads is in
# the workflow (a rules file that is not included drops its notebook, not the run).
from advpretrain.workflow.figures import notebook_figures

NOTEBOOK_DIR = os.path.join(workflow.basedir, "notebooks")


# {notebook: (figures it shows, CSVs it reads, rules that must be included, wanted by config)}
NOTEBOOK_SPECS = {
    "01_supervised_purification": (
        notebook_figures("01_supervised_purification"),
        sim_csv("summary")
        + sim_csv("robustness")
        + sim_csv("movement")
        + [f"{RESULTS}/claims_by_budget.csv"],
        {"evaluate_pretrained", "node_movement", "claims"},
        True,
    ),
    "02_contrastive": (
        notebook_figures("02_contrastive"),
        sim_csv("summary", tasks=("contrastive",))
        + sim_csv("pair_loss", tasks=("contrastive",))
        + sim_csv("pair_attack", tasks=("contrastive_pair_attack",)),
        {"evaluate_pretrained"},
        True,
    ),
    "03_downstream": (
        notebook_figures("03_downstream"),
        [],
        {"downstream", "downstream_baselines"},
        True,
    ),
    "04_claims": ([], [f"{RESULTS}/claims.csv"], {"claims"}, True),
    "05_real_images": (
        [],
        [
            path
            for dataset in IMAGES_ON
            for path in (
                images_per_seed(dataset),
                f"{PAPER_FIGURES}/{dataset}_table.csv",
                f"{PAPER_FIGURES}/{dataset}_results.png",
            )
        ],
        {"images_evaluate"},
        bool(IMAGES_ON),
    ),
}
RULES_INCLUDED = {rule.name for rule in workflow.rules}
# {notebook: input paths}: the figures' PNGs and CSVs, and the notebook's own CSVs.
NOTEBOOKS = {
    name: list(
        dict.fromkeys(
            [f"{RESULTS}/figures/{figure}.png" for figure in figures]
            + [path for figure in figures for paths in FIGURES[figure].values() for path in paths]
            + csvs
        )
    )
    for name, (figures, csvs, needed, wanted) in NOTEBOOK_SPECS.items()
    if wanted
    and all(figure in FIGURES for figure in figures)
    and needed <= RULES_INCLUDED
    and os.path.exists(os.path.join(NOTEBOOK_DIR, f"{name}.py"))
}


rule run_notebook:
    input:
        notebook=os.path.join(NOTEBOOK_DIR, "{notebook}.py"),
        results=lambda wildcards: NOTEBOOKS[wildcards.notebook],
        provenance=provenance("run_notebook", lambda wildcards: NOTEBOOKS[wildcards.notebook]),
    output:
        html=f"{RESULTS}/notebooks/{{notebook}}.html",
        meta=f"{RESULTS}/notebooks/{{notebook}}.json",
    log:
        f"{RESULTS}/logs/notebooks/{{notebook}}.log",
    wildcard_constraints:
        notebook="|".join(NOTEBOOKS) or "none",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        code=code("run_notebook"),
        settings=params.run_notebook(config),
        options=params.untracked(cell_timeout=600),
    script:
        "../scripts/run_notebook.py"


rule notebooks:
    default_target: False
    input:
        expand(rules.run_notebook.output.html, notebook=NOTEBOOKS),
