# The studies (not part of `all`: each costs many times the paper's simulations): the
# simulations' claims pipeline at each point of a study, each point one job that runs this
# Snakefile's own rules in results/<study>/<point>/run with the point's config; then the verdicts
# side by side, the table and the study's figures in paper_figures/. The same rules for every
# study (advpretrain.workflow.studies): `make sensitivity` (config `sensitivity`, settings we had
# to guess, docs/sensitivity.md) and `make mechanism` (config `mechanism`, a factorial design of
# the mechanisms that might restore the claims, docs/mechanism.md).
import re

from advpretrain.workflow.studies import (
    MECHANISM,
    MECHANISM_TABLES,
    POINT_RULES,
    STUDIES,
    study_points,
)

# Every point runs, the sensitivity study's centre too: this build's own claims table holds C6's
# rows, which share Holm's family with the rest, so its verdicts are not decided as a point's are.
STUDY_POINTS = {study: list(study_points(config, study)) for study in STUDIES}


def study_claims(study):
    """The claims table of every point of a study."""
    return expand(f"{RESULTS}/{study}/{{point}}/claims.csv", point=STUDY_POINTS[study])


def point_measures(study, point):
    """The mechanism study's measures of a point (its run's node summaries and downstream
    tables), copied beside its claims table; none for the other studies."""
    names = MECHANISM_TABLES if study == MECHANISM else {}
    return {name: f"{RESULTS}/{study}/{point}/{name}.csv" for name in names}


def study_measures(study):
    """The measures of every point of a study, by name."""
    return {
        name: expand(path, point=STUDY_POINTS[study])
        for name, path in point_measures(study, "{point}").items()
    }


def point_settings(study):
    """The settings param of a study's point rule: the point's name and its whole config."""
    builder = getattr(params, f"{study}_point")
    return lambda wildcards: builder(config, wildcards.point)


for study in STUDIES:

    rule:
        name:
            f"{study}_point"
        output:
            **point_measures(study, "{point}"),
            claims=f"{RESULTS}/{study}/{{point}}/claims.csv",
            meta=f"{RESULTS}/{study}/{{point}}/point.json",
        log:
            f"{RESULTS}/logs/{study}/{{point}}.log",
        benchmark:
            benchmark_file(f"{study}_point", "point")
        wildcard_constraints:
            point="|".join(map(re.escape, STUDY_POINTS[study])),
        conda:
            # The point's own Snakemake run needs the driver environment.
            "../envs/dev.yaml"
        threads: config[study]["cores"]
        resources:
            mem_mb=8000,
            runtime=config[study]["runtime_minutes"],
        params:
            # What the point's run executes: a changed statement in any of its stages reruns the
            # point, whose own Snakemake then reruns exactly the jobs it changes.
            code={
                **code(f"{study}_point"),
                **{key: value for name in POINT_RULES for key, value in code(name).items()},
            },
            settings=point_settings(study),
            threads=lambda wildcards, threads: threads,
        script:
            # Snakemake evaluates a script path twice: here, and again when the job runs, by
            # which time `study` is the loop's last; there the job's rule name is a local.
            f"../scripts/{locals().get('rule', f'{study}_point')}.py"

    rule:
        name:
            f"{study}_table"
        input:
            **study_measures(study),
            points=study_claims(study),
            provenance=provenance(
                f"{study}_table",
                study_claims(study) + sum(study_measures(study).values(), []),
            ),
        output:
            **({"measures": MECHANISM_MEASURES} if study == MECHANISM else {}),
            verdicts=study_verdicts(study),
            csv=reported(f"{PAPER_FIGURES}/{study}.csv", study, f"{study.capitalize()} study"),
            md=f"{PAPER_FIGURES}/{study}.md",
            meta=f"{RESULTS}/{study}/verdicts.json",
        log:
            f"{RESULTS}/logs/{study}/table.log",
        conda:
            "../envs/workflow.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            code=code(f"{study}_table"),
            settings=getattr(params, f"{study}_table")(config),
        script:
            f"../scripts/{locals().get('rule', f'{study}_table')}.py"

    # The registry's figures of the study's target, as export_figures does the paper's.
    rule:
        name:
            f"export_{study}_figures"
        input:
            figures=figure_files(f"{RESULTS}/figures", study, config),
            provenance=provenance(
                f"export_{study}_figures", figure_files(f"{RESULTS}/figures", study, config)
            ),
        output:
            [
                (
                    reported(
                        path,
                        os.path.basename(path)[: -len(".png")],
                        f"{study.capitalize()} study",
                    )
                    if path.endswith(".png")
                    else path
                )
                for path in figure_files(PAPER_FIGURES, study, config)
            ],
        log:
            f"{RESULTS}/logs/figures/export_{study}.log",
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

    # `snakemake <study>`: the whole study.
    rule:
        name:
            study
        input:
            getattr(rules, f"{study}_table").output,
            figure_files(PAPER_FIGURES, study, config),
