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
