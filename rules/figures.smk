# Figures from the CSVs alone (seconds, no retraining), then the export into paper_figures/.
# FIGURES (rules/common.smk) maps each figure to its CSV inputs, from the figure registry
# (advpretrain.workflow.figures), which also names its plot function and the settings it reads.


rule figure:
    input:
        unpack(lambda wildcards: FIGURES[wildcards.name]),
        provenance=provenance("figure", lambda wildcards: FIGURES[wildcards.name]),
    output:
        pdf=f"{RESULTS}/figures/{{name}}.pdf",
        png=f"{RESULTS}/figures/{{name}}.png",
        meta=f"{RESULTS}/figures/{{name}}.json",
    log:
        f"{RESULTS}/logs/figures/{{name}}.log",
    wildcard_constraints:
        name="|".join(FIGURES) or "none",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=lambda wildcards: code("figure", plot_module(wildcards.name)),
        settings=lambda wildcards: params.figure(config, wildcards.name),
    script:
        "../scripts/figure.py"


EXPORTED = figure_files(PAPER_FIGURES, PAPER, config)


rule export_figures:
    input:
        figures=figure_files(f"{RESULTS}/figures", PAPER, config),
        provenance=provenance("export_figures", figure_files(f"{RESULTS}/figures", PAPER, config)),
    output:
        [
            (
                reported(path, os.path.basename(path)[: -len(".png")], figure_category(path))
                if path.endswith(".png")
                else path
            )
            for path in EXPORTED
        ],
    log:
        f"{RESULTS}/logs/figures/export.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "cp -v {input.figures} {params.folder}/ > {log} 2>&1"


ALL_TARGETS.extend(EXPORTED)
