# Claim C5: every pre-trained hidden layer frozen, a new head trained CLEAN on the downstream task
# (Y' = sign(gamma^T X), fewer samples), evaluated under FGM / PGD over the eps grid; baselines
# (random frozen layer, perfectly purified layer, end-to-end adversarial training); study (a)
# (degree of purification) and study (b) (activation functions). advpretrain/downstream.py.

DOWNSTREAM = SIM["downstream"]
MAIN_ACTIVATION = SIM["network"]["activation"]


rule downstream:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        provenance=provenance("downstream", data_files, rules.pretrain.output.model),
    output:
        csv=f"{SIM_DIR}/{{task}}/{{activation}}/downstream.csv",
        transfer=f"{SIM_DIR}/{{task}}/{{activation}}/transfer.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/downstream.json",
    log:
        f"{RESULTS}/logs/downstream/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("downstream", "task", "activation")
    wildcard_constraints:
        task="supervised|contrastive",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("downstream"),
        settings=lambda wildcards: params.downstream(config, wildcards.task, wildcards.activation),
    script:
        "../scripts/downstream.py"


rule downstream_baselines:
    input:
        data=data_files,
        provenance=provenance("downstream_baselines", data_files),
    output:
        csv=f"{SIM_DIR}/baselines/{{activation}}/downstream.csv",
        transfer=f"{SIM_DIR}/baselines/{{activation}}/transfer.csv",
        meta=f"{SIM_DIR}/baselines/{{activation}}/downstream.json",
    log:
        f"{RESULTS}/logs/downstream/baselines_{{activation}}.log",
    benchmark:
        benchmark_file("downstream_baselines", "activation")
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("downstream_baselines"),
        settings=lambda wildcards: params.downstream_baselines(config, wildcards.activation),
    script:
        "../scripts/downstream_baselines.py"


rule downstream_blend:
    input:
        data=data_files,
        model=f"{SIM_DIR}/supervised/{{activation}}/pretrained.pt",
        provenance=provenance(
            "downstream_blend", data_files, f"{SIM_DIR}/supervised/{{activation}}/pretrained.pt"
        ),
    output:
        csv=f"{SIM_DIR}/supervised/{{activation}}/downstream_blend.csv",
        meta=f"{SIM_DIR}/supervised/{{activation}}/downstream_blend.json",
    log:
        f"{RESULTS}/logs/downstream/blend_{{activation}}.log",
    benchmark:
        benchmark_file("downstream_blend", "activation")
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("downstream_blend"),
        settings=lambda wildcards: params.downstream_blend(config, wildcards.activation),
    script:
        "../scripts/downstream_blend.py"


rule threshold_study:
    input:
        data=data_files,
        provenance=provenance("threshold_study", data_files),
    output:
        csv=f"{SIM_DIR}/threshold_study/e{{threshold}}.csv",
        meta=f"{SIM_DIR}/threshold_study/e{{threshold}}.json",
    log:
        f"{RESULTS}/logs/threshold_study/e{{threshold}}.log",
    benchmark:
        benchmark_file("threshold_study", "threshold")
    wildcard_constraints:
        threshold=r"[0-9.]+",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=code("threshold_study"),
        settings=lambda wildcards: params.threshold_study(config, wildcards.threshold),
    script:
        "../scripts/threshold_study.py"
