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
