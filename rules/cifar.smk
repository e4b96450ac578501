# CIFAR-10 branch (claim C6): archive -> split arrays -> pre-training per variant -> clean linear
# head -> evaluation (clean, PGD-20, AutoAttack, purification) -> table and figure.
# Training and evaluation ask for cifar.resources.gpus GPUs (0 in the tiny CPU config).

CIFAR = config["cifar"]
CIFAR_DIR = f"{RESULTS}/cifar"
CIFAR_DATA = f"{CIFAR_DIR}/data/cifar10.npz"
CIFAR_PAPER = "paper_figures"
CIFAR_MINUTES = CIFAR["resources"]["runtime_minutes"]
CIFAR_CODE = ("cifar/__init__", "cifar/data", "cifar/runtime")
CIFAR_TRAIN_CODE = CIFAR_CODE + (
    "attacks", "training", "cifar/train", "cifar/augment", "cifar/losses", "cifar/resnet")
CIFAR_VARIANT = "|".join(CIFAR["variants"])


rule cifar_data:
    input:
        code=package(*CIFAR_CODE),
    output:
        data=CIFAR_DATA,
        meta=f"{CIFAR_DIR}/data/cifar10.json",
    log:
        f"{RESULTS}/logs/cifar/data.log",
    params:
        # The archive lives outside the workflow (cifar.data.root); rerun when its config changes.
        data=settings(CIFAR["data"]),
    threads: 1
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["data"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/cifar_data.py"


rule cifar_pretrain:
    input:
        data=CIFAR_DATA,
        code=package(*CIFAR_TRAIN_CODE),
    output:
        encoder=f"{CIFAR_DIR}/{{variant}}/encoder.pt",
        log_csv=f"{CIFAR_DIR}/{{variant}}/pretrain_log.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/pretrain.json",
    log:
        f"{RESULTS}/logs/cifar/pretrain_{{variant}}.log",
    params:
        resume=f"{RESULTS}/resume/cifar_pretrain_{{variant}}.pt",
        section=lambda wildcards: settings({key: CIFAR[key] for key in (
            "model", "train_attack", wildcards.variant.split("_")[0])}),
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["pretrain"],
        gpu=CIFAR["resources"]["gpus"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/cifar_pretrain.py"


rule cifar_linear:
    input:
        data=CIFAR_DATA,
        encoder=rules.cifar_pretrain.output.encoder,
        code=package(*CIFAR_TRAIN_CODE),
    output:
        head=f"{CIFAR_DIR}/{{variant}}/linear_head.pt",
        log_csv=f"{CIFAR_DIR}/{{variant}}/linear_log.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/linear.json",
    log:
        f"{RESULTS}/logs/cifar/linear_{{variant}}.log",
    params:
        resume=f"{RESULTS}/resume/cifar_linear_{{variant}}.pt",
        section=settings(CIFAR["linear"]),
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["linear"],
        gpu=CIFAR["resources"]["gpus"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/cifar_linear.py"


rule cifar_evaluate:
    input:
        data=CIFAR_DATA,
        encoder=rules.cifar_pretrain.output.encoder,
        head=rules.cifar_linear.output.head,
        code=package(*CIFAR_TRAIN_CODE, "cifar/evaluate"),
    output:
        metrics=f"{CIFAR_DIR}/{{variant}}/evaluation.csv",
        purification=f"{CIFAR_DIR}/{{variant}}/purification.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/evaluation.json",
    log:
        f"{RESULTS}/logs/cifar/evaluate_{{variant}}.log",
    params:
        section=settings(CIFAR["evaluation"]),
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["evaluate"],
        gpu=CIFAR["resources"]["gpus"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/cifar_evaluate.py"


rule cifar_report:
    input:
        metrics=expand(rules.cifar_evaluate.output.metrics, variant=CIFAR["variants"]),
        purification=expand(rules.cifar_evaluate.output.purification, variant=CIFAR["variants"]),
        pretrain_meta=expand(rules.cifar_pretrain.output.meta, variant=CIFAR["variants"]),
        linear_meta=expand(rules.cifar_linear.output.meta, variant=CIFAR["variants"]),
        evaluate_meta=expand(rules.cifar_evaluate.output.meta, variant=CIFAR["variants"]),
        code=package("plotting", "cifar/__init__", "cifar/runtime", "cifar/report"),
    output:
        table_csv=reported(f"{CIFAR_PAPER}/cifar10_table.csv", "cifar10_table", "CIFAR-10 (C6)"),
        table_md=f"{CIFAR_PAPER}/cifar10_table.md",
        table_tex=f"{CIFAR_PAPER}/cifar10_table.tex",
        purification_csv=f"{CIFAR_PAPER}/cifar10_purification.csv",
        figure_pdf=f"{CIFAR_PAPER}/cifar10_purification.pdf",
        figure_png=reported(
            f"{CIFAR_PAPER}/cifar10_purification.png", "cifar10_purification", "CIFAR-10 (C6)"
        ),
    log:
        f"{RESULTS}/logs/cifar/report.log",
    params:
        variants=CIFAR["variants"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=CIFAR_MINUTES["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/cifar_report.py"


ALL_TARGETS.extend(rules.cifar_report.output)
