# CIFAR-10 branch (claim C6): archive -> split arrays -> pre-training per variant -> clean linear
# head -> evaluation (clean, PGD-20, AutoAttack, purification) -> table and figure.
# Training and evaluation ask for cifar.resources.gpus GPUs (0 in the tiny CPU config). The
# branch is part of `all` only when cifar.enabled is true (config/cpu_only.yaml turns it off).

CIFAR = config["cifar"]
CIFAR_ENABLED = CIFAR["enabled"]
CIFAR_DIR = f"{RESULTS}/cifar"
CIFAR_DATA = f"{CIFAR_DIR}/data/cifar10.npz"
CIFAR_MINUTES = CIFAR["resources"]["runtime_minutes"]
CIFAR_VARIANT = "|".join(CIFAR["variants"])


rule cifar_data:
    input:
        code=code("images_data"),
    output:
        data=CIFAR_DATA,
        meta=f"{CIFAR_DIR}/data/cifar10.json",
    log:
        f"{RESULTS}/logs/cifar/data.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["data"],
    params:
        settings=stage.cifar_data(config),
        source=stage.cifar_source(config),
    script:
        "../scripts/images_data.py"


rule cifar_pretrain:
    input:
        data=CIFAR_DATA,
        code=code("images_pretrain"),
    output:
        encoder=protected(f"{CIFAR_DIR}/{{variant}}/encoder.pt"),
        log_csv=f"{CIFAR_DIR}/{{variant}}/pretrain_log.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/pretrain.json",
    log:
        f"{RESULTS}/logs/cifar/pretrain_{{variant}}.log",
    benchmark:
        benchmark_file("cifar_pretrain", "variant")
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    conda:
        "../envs/workflow.yaml"
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["pretrain"],
        gpu=CIFAR["resources"]["gpus"],
    params:
        settings=lambda wildcards: stage.cifar_pretrain(config, wildcards.variant),
        options=stage.cifar_options(config),
        resume=lambda wildcards: stage.untracked(
            path=f"{RESULTS}/resume/cifar_pretrain_{wildcards.variant}.pt"
        ),
    script:
        "../scripts/images_pretrain.py"


rule cifar_linear:
    input:
        data=CIFAR_DATA,
        encoder=rules.cifar_pretrain.output.encoder,
        code=code("images_linear"),
    output:
        head=f"{CIFAR_DIR}/{{variant}}/linear_head.pt",
        log_csv=f"{CIFAR_DIR}/{{variant}}/linear_log.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/linear.json",
    log:
        f"{RESULTS}/logs/cifar/linear_{{variant}}.log",
    benchmark:
        benchmark_file("cifar_linear", "variant")
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    conda:
        "../envs/workflow.yaml"
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["linear"],
        gpu=CIFAR["resources"]["gpus"],
    params:
        settings=lambda wildcards: stage.cifar_linear(config, wildcards.variant),
        options=stage.cifar_options(config),
        resume=lambda wildcards: stage.untracked(
            path=f"{RESULTS}/resume/cifar_linear_{wildcards.variant}.pt"
        ),
    script:
        "../scripts/images_linear.py"


rule cifar_evaluate:
    input:
        data=CIFAR_DATA,
        encoder=rules.cifar_pretrain.output.encoder,
        head=rules.cifar_linear.output.head,
        code=code("images_evaluate"),
    output:
        metrics=f"{CIFAR_DIR}/{{variant}}/evaluation.csv",
        purification=f"{CIFAR_DIR}/{{variant}}/purification.csv",
        meta=f"{CIFAR_DIR}/{{variant}}/evaluation.json",
    log:
        f"{RESULTS}/logs/cifar/evaluate_{{variant}}.log",
    benchmark:
        benchmark_file("cifar_evaluate", "variant")
    wildcard_constraints:
        variant=CIFAR_VARIANT,
    conda:
        "../envs/workflow.yaml"
    threads: 2
    resources:
        mem_mb=CIFAR["resources"]["mem_mb"],
        runtime=CIFAR_MINUTES["evaluate"],
        gpu=CIFAR["resources"]["gpus"],
    params:
        settings=lambda wildcards: stage.cifar_evaluate(config, wildcards.variant),
        options=stage.cifar_options(config),
    script:
        "../scripts/images_evaluate.py"


rule cifar_report:
    input:
        metrics=expand(rules.cifar_evaluate.output.metrics, variant=CIFAR["variants"]),
        purification=expand(rules.cifar_evaluate.output.purification, variant=CIFAR["variants"]),
        pretrain_meta=expand(rules.cifar_pretrain.output.meta, variant=CIFAR["variants"]),
        linear_meta=expand(rules.cifar_linear.output.meta, variant=CIFAR["variants"]),
        evaluate_meta=expand(rules.cifar_evaluate.output.meta, variant=CIFAR["variants"]),
        code=code("images_report"),
    output:
        table_csv=reported(f"{PAPER_FIGURES}/cifar10_table.csv", "cifar10_table", "CIFAR-10 (C6)"),
        table_md=f"{PAPER_FIGURES}/cifar10_table.md",
        table_tex=f"{PAPER_FIGURES}/cifar10_table.tex",
        purification_csv=f"{PAPER_FIGURES}/cifar10_purification.csv",
        figure_pdf=f"{PAPER_FIGURES}/cifar10_purification.pdf",
        figure_png=reported(
            f"{PAPER_FIGURES}/cifar10_purification.png", "cifar10_purification", "CIFAR-10 (C6)"
        ),
        meta=f"{CIFAR_DIR}/report.json",
    log:
        f"{RESULTS}/logs/cifar/report.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=CIFAR_MINUTES["report"],
    params:
        settings=stage.cifar_report(config),
    script:
        "../scripts/images_report.py"


if CIFAR_ENABLED:

    ALL_TARGETS.extend(rules.cifar_report.output)
