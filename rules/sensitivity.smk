# The sensitivity study (`make sensitivity`, docs/sensitivity.md): the simulations' claims pipeline
# at each point of config `sensitivity` (the paper config with settings we had to guess changed),
# each point one job that runs this Snakefile's own rules in results/sensitivity/<point>/run with
# the point's config; then the verdicts side by side, the map and the table in paper_figures/.
# Not part of `all`: the study costs many times the paper's simulations.
import re

from advpretrain.workflow.sensitivity import POINT_RULES, study_points

SENSITIVITY_DIR = f"{RESULTS}/sensitivity"
# Every point runs, the centre too: this build's own claims table holds C6's rows, which share
# Holm's family with the rest, so its verdicts are not decided as a point's are.
SENSITIVITY_POINTS = list(study_points(config))
SENSITIVITY_CLAIMS = expand(f"{SENSITIVITY_DIR}/{{point}}/claims.csv", point=SENSITIVITY_POINTS)


rule sensitivity_point:
    output:
        claims=f"{SENSITIVITY_DIR}/{{point}}/claims.csv",
        meta=f"{SENSITIVITY_DIR}/{{point}}/point.json",
    log:
        f"{RESULTS}/logs/sensitivity/{{point}}.log",
    benchmark:
        benchmark_file("sensitivity_point", "point")
    wildcard_constraints:
        point="|".join(map(re.escape, SENSITIVITY_POINTS)),
    conda:
        # The point's own Snakemake run needs the driver environment.
        "../envs/dev.yaml"
    threads: config["sensitivity"]["cores"]
    resources:
        mem_mb=8000,
        runtime=config["sensitivity"]["runtime_minutes"],
    params:
        # What the point's run executes: a changed statement in any of its stages reruns the
        # point, whose own Snakemake then reruns exactly the jobs it changes.
        code={
            **code("sensitivity_point"),
            **{key: value for name in POINT_RULES for key, value in code(name).items()},
        },
        settings=lambda wildcards: params.sensitivity_point(config, wildcards.point),
        threads=lambda wildcards, threads: threads,
    script:
        "../scripts/sensitivity_point.py"


rule sensitivity_table:
    input:
        points=SENSITIVITY_CLAIMS,
        provenance=provenance("sensitivity_table", SENSITIVITY_CLAIMS),
    output:
        verdicts=SENSITIVITY_VERDICTS,
        csv=reported(f"{PAPER_FIGURES}/sensitivity.csv", "sensitivity", "Sensitivity study"),
        md=f"{PAPER_FIGURES}/sensitivity.md",
        meta=f"{SENSITIVITY_DIR}/verdicts.json",
    log:
        f"{RESULTS}/logs/sensitivity/table.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("sensitivity_table"),
        settings=params.sensitivity_table(config),
    script:
        "../scripts/sensitivity_table.py"


use rule export_figures as export_sensitivity_figures with:
    input:
        figures=figure_files(f"{RESULTS}/figures", SENSITIVITY),
        provenance=provenance(
            "export_sensitivity_figures", figure_files(f"{RESULTS}/figures", SENSITIVITY)
        ),
    output:
        [
            (
                reported(path, os.path.basename(path)[: -len(".png")], "Sensitivity study")
                if path.endswith(".png")
                else path
            )
            for path in figure_files(PAPER_FIGURES, SENSITIVITY)
        ],
    log:
        f"{RESULTS}/logs/figures/export_sensitivity.log",


# `snakemake sensitivity`: the whole study.
rule sensitivity:
    input:
        rules.sensitivity_table.output,
        figure_files(PAPER_FIGURES, SENSITIVITY),
