# Claims C3, C4: contrastive pre-training (rule pretrain, task contrastive) on the pair data, its
# node measures (rule evaluate_pretrained) and, here, the pair-split losses: clean and attacked
# loss of similar vs dissimilar pairs over the eps grid (pair_loss.csv) and during training
# (pair_loss_training.csv, from the training log). Beyond the paper: the pair-attack study, where
# training attacks only the similar or only the dissimilar pairs (tasks contrastive_attack_*).

CONTRASTIVE_TASKS = ["contrastive"] + (
    list(params.PAIR_ATTACK_TASKS) if SIM["contrastive"]["pair_attack_study"] else []
)


rule evaluate_pair_loss:
    input:
        data=data_files,
        model=rules.pretrain.output.model,
        log_csv=rules.pretrain.output.log_csv,
        provenance=provenance("evaluate_pair_loss", data_files, rules.pretrain.output.model),
    output:
        pair_loss=f"{SIM_DIR}/{{task}}/{{activation}}/pair_loss.csv",
        pair_loss_training=f"{SIM_DIR}/{{task}}/{{activation}}/pair_loss_training.csv",
        meta=f"{SIM_DIR}/{{task}}/{{activation}}/pair_loss.json",
    log:
        f"{RESULTS}/logs/pair_loss/{{task}}_{{activation}}.log",
    benchmark:
        benchmark_file("evaluate_pair_loss", "task", "activation")
    wildcard_constraints:
        task="|".join(params.CONTRASTIVE_TASKS),
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("evaluate_pair_loss"),
        settings=lambda wildcards: params.evaluate_pair_loss(
            config, wildcards.task, wildcards.activation
        ),
    script:
        "../scripts/evaluate_pair_loss.py"


# What the pair-attack study reads: the contrastive tasks' summaries and pair losses.
PAIR_ATTACK_INPUTS = {
    name: [f"{SIM_DIR}/{task}/{{activation}}/{name}.csv" for task in CONTRASTIVE_TASKS]
    for name in ("summary", "pair_loss")
}


rule pair_attack_study:
    input:
        summary=PAIR_ATTACK_INPUTS["summary"],
        pair_loss=PAIR_ATTACK_INPUTS["pair_loss"],
        provenance=provenance("pair_attack_study", PAIR_ATTACK_INPUTS),
    output:
        csv=f"{SIM_DIR}/contrastive_pair_attack/{{activation}}/pair_attack.csv",
        meta=f"{SIM_DIR}/contrastive_pair_attack/{{activation}}/pair_attack.json",
    log:
        f"{RESULTS}/logs/pair_loss/pair_attack_{{activation}}.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("pair_attack_study"),
        settings=params.pair_attack_study(config),
    script:
        "../scripts/pair_attack_study.py"


CONTRASTIVE_CSVS = {
    "pair_loss": sim_csv("pair_loss", tasks=("contrastive",)),
    "pair_loss_training": sim_csv("pair_loss_training", tasks=("contrastive",)),
    "pair_attack": sim_csv("pair_attack", tasks=("contrastive_pair_attack",)),
}
ALL_TARGETS.extend(path for paths in CONTRASTIVE_CSVS.values() for path in paths)
