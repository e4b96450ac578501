# Pre-training of the two-layer networks (all variants and seeds of a task at once) and their
# evaluation: node purity, feature coefficients, robustness grid.

SIM_DIR = f"{RESULTS}/simulation"
SIM_EVAL = ["nodes", "summary", "robustness", "coefficients"]


rule pretrain:
    input:
        data=data_files,
        provenance=provenance("pretrain", data_files),
    output:
        model=f"{SIM_DIR}/{{task}}/{{activation}}/pretrained.pt",
        log_csv=f"{SIM_DIR}/{{task}}/{{activation}}/training_log.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/pretrained.json",
    log:
        f"{RESULTS}/logs/pretrain/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("pretrain", "task", "activation")
    wildcard_constraints:
        task="|".join(params.PRETRAIN_TASKS),
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("pretrain"),
        settings=lambda wildcards: params.pretrain(config, wildcards.task, wildcards.activation),
        resume=lambda wildcards: params.pretrain_resume(
            config, f"{RESULTS}/resume/pretrain_{wildcards.task}_{wildcards.activation}.pt"
        ),
    script:
        "../scripts/pretrain.py"


rule evaluate_pretrained:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        provenance=provenance("evaluate_pretrained", data_files, rules.pretrain.output.model),
    output:
        **{name: f"{SIM_DIR}/{{task}}/{{activation}}/{name}.csv" for name in SIM_EVAL},
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/evaluation.json",
    log:
        f"{RESULTS}/logs/evaluate/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("evaluate_pretrained", "task", "activation")
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("evaluate_pretrained"),
        settings=lambda wildcards: params.evaluate_pretrained(
            config, wildcards.task, wildcards.activation
        ),
    script:
        "../scripts/evaluate_pretrained.py"


# Exact verification (MILP / MIQCP) of a seeded subsample of the test points of every supervised
# job with a piecewise-linear activation, at the budgets of evaluation.exact.
EXACT_CSVS = expand(
    f"{SIM_DIR}/supervised/{{activation}}/exact_{{table}}.csv",
    activation=params.exact_activations(SIM),
    table=["summary", "points"],
)
ALL_TARGETS.extend(EXACT_CSVS)


rule exact_verification:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        provenance=provenance("exact_verification", data_files, rules.pretrain.output.model),
    output:
        summary=f"{SIM_DIR}/{{task}}/{{activation}}/exact_summary.csv",
        points=f"{SIM_DIR}/{{task}}/{{activation}}/exact_points.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/exact.json",
    log:
        f"{RESULTS}/logs/exact/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("exact_verification", "task", "activation")
    wildcard_constraints:
        task="supervised",
        activation="|".join(params.THRESHOLDED),
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        code=code("exact_verification"),
        settings=lambda wildcards: params.exact_verification(
            config, wildcards.task, wildcards.activation
        ),
    script:
        "../scripts/exact_verification.py"


# The exact-verification table of paper_figures/: how far each sandwich closes.
rule exact_table:
    input:
        summaries=[path for path in EXACT_CSVS if path.endswith("exact_summary.csv")],
        provenance=provenance(
            "exact_table",
            [path for path in EXACT_CSVS if path.endswith("exact_summary.csv")],
        ),
    output:
        csv=reported(
            f"{PAPER_FIGURES}/exact_verification.csv",
            "exact_verification",
            "Theory simulations (C1-C5)",
        ),
        md=f"{PAPER_FIGURES}/exact_verification.md",
        meta=f"{RESULTS}/exact_table.json",
    log:
        f"{RESULTS}/logs/exact_table.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("exact_table"),
        settings=params.exact_table(config),
    script:
        "../scripts/exact_table.py"


if EXACT_CSVS:
    ALL_TARGETS.extend(rules.exact_table.output)


# Does the attack converge? The main activation's supervised job, attacked with a budget that
# doubles level by level at the budgets of evaluation.convergence (the claims read it).
CONVERGENCE_CSV = f"{SIM_DIR}/supervised/{SIM['network']['activation']}/convergence.csv"
ALL_TARGETS.append(CONVERGENCE_CSV)


rule attack_convergence:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        provenance=provenance("attack_convergence", data_files, rules.pretrain.output.model),
    output:
        csv=f"{SIM_DIR}/{{task}}/{{activation}}/convergence.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/convergence.json",
    log:
        f"{RESULTS}/logs/convergence/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("attack_convergence", "task", "activation")
    wildcard_constraints:
        task="supervised",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("attack_convergence"),
        settings=lambda wildcards: params.attack_convergence(
            config, wildcards.task, wildcards.activation
        ),
    script:
        "../scripts/attack_convergence.py"


rule node_movement:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        provenance=provenance("node_movement", data_files, rules.pretrain.output.model),
    output:
        csv=f"{SIM_DIR}/{{task}}/{{activation}}/movement.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/movement.json",
    log:
        f"{RESULTS}/logs/movement/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("node_movement", "task", "activation")
    wildcard_constraints:
        task="supervised|contrastive",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("node_movement"),
        settings=lambda wildcards: params.node_movement(
            config, wildcards.task, wildcards.activation
        ),
    script:
        "../scripts/node_movement.py"
