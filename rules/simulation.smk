# Pre-training of the two-layer networks (all variants and seeds of a task at once) and their
# evaluation: node purity, feature coefficients, robustness grid.

SIM_DIR = f"{RESULTS}/simulation"
SIM_EVAL = ["nodes", "summary", "robustness", "coefficients"]


rule pretrain:
    input:
        data=data_files,
        code=lambda wildcards: package(
            "sparse_coding", "simulation", "networks", "attacks", "training", "measures",
            *(["contrastive"] if wildcards.task.startswith("contrastive") else []),
        ),
    output:
        model=f"{SIM_DIR}/{{task}}/{{activation}}/pretrained.pt",
        log_csv=f"{SIM_DIR}/{{task}}/{{activation}}/training_log.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/pretrained.json",
    log:
        f"{RESULTS}/logs/pretrain/{{task}}_{{activation}}.log",
    params:
        resume=f"{RESULTS}/resume/pretrain_{{task}}_{{activation}}.pt",
        # What the networks depend on: a change reruns the job (Snakemake's params trigger).
        section=settings({
            "base_seed": config["base_seed"],
            "simulation": pretraining_section(SIM),
            "variants": {key: SIM.get(key) for key in ("contrastive", "activation_study")},
        }),
    wildcard_constraints:
        task="supervised|contrastive|contrastive_attack_similar|contrastive_attack_dissimilar",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/pretrain.py"


rule evaluate_pretrained:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        code=package("sparse_coding", "simulation", "networks", "attacks", "measures"),
    output:
        **{name: f"{SIM_DIR}/{{task}}/{{activation}}/{name}.csv" for name in SIM_EVAL},
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/evaluation.json",
    params:
        section=settings({"evaluation": SIM["evaluation"]}),
    log:
        f"{RESULTS}/logs/evaluate/{{task}}_{{activation}}.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/evaluate_pretrained.py"


FIGURES.update(
    purity_distribution={
        "plot": "plotting.purity_distribution",
        "nodes": sim_csv("nodes", tasks=("supervised", "contrastive")),
    },
    coefficient_heatmaps={
        "plot": "plotting.coefficient_heatmaps",
        "coefficients": sim_csv("coefficients", tasks=("supervised", "contrastive")),
    },
    robustness_curves={"plot": "plotting.robustness_curves", "robustness": sim_csv("robustness")},
    eps_sweep={
        "plot": "plotting.eps_sweep",
        "summary": sim_csv("summary"),
        "robustness": sim_csv("robustness"),
    },
)
