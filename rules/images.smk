# Real images (claim C6), one branch per data set of the config's `images:` section (cifar10,
# digits), the same rules for each through the {dataset} wildcard: data split -> pre-training per
# (variant, seed) -> clean linear heads (every downstream task) -> evaluation (clean, PGD-20 and
# AutoAttack per task, purification) -> per-seed table, summary table and figure per data set.
# A data set is part of `all` (and of the claims' inputs) when images.<dataset>.enabled is true,
# or auto and a GPU is visible (advpretrain/images/gpus.py): CIFAR-10 is auto, the digits true.
# Before any job starts the workflow prints the cost model's FLOPs and GPU time per job.
rule images_data:
    output:
        data=f"{IMAGE_DIR}/{{dataset}}/data/split.npz",
        meta=f"{IMAGE_DIR}/{{dataset}}/data/split.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/data.log",
    wildcard_constraints:
        dataset=IMAGE_DATASET_NAMES,
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=image_resource("data", "mem_mb"),
        runtime=image_resource("data"),
    params:
        code=code("images_data"),
        settings=lambda wildcards: params.images_data(config, wildcards.dataset),
        source=lambda wildcards: params.images_source(config, wildcards.dataset),
    script:
        "../scripts/images_data.py"


rule images_pretrain:
    input:
        data=rules.images_data.output.data,
        provenance=provenance("images_pretrain", rules.images_data.output.data),
    output:
        encoder=f"{IMAGE_JOB}/encoder.pt",
        log_csv=f"{IMAGE_JOB}/pretrain_log.csv",
        meta=f"{IMAGE_JOB}/pretrain.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/pretrain_{{variant}}_seed{{seed}}.log",
    benchmark:
        benchmark_file("images_pretrain", "dataset", "variant", "seed")
    wildcard_constraints:
        dataset=IMAGE_DATASET_NAMES,
        variant=IMAGE_VARIANT_NAMES,
        seed=r"\d+",
    conda:
        "../envs/workflow.yaml"
    threads: image_threads
    resources:
        mem_mb=image_resource("pretrain", "mem_mb"),
        runtime=image_resource("pretrain"),
        gpu=image_resource("pretrain", "gpus"),
        slurm_partition=image_partition,
    params:
        code=code("images_pretrain"),
        settings=lambda wildcards: params.images_pretrain(
            config, wildcards.dataset, wildcards.variant, int(wildcards.seed)
        ),
        options=lambda wildcards: params.images_options(config, wildcards.dataset),
        resume=lambda wildcards: params.untracked(
            path=f"{RESULTS}/resume/images_pretrain_{wildcards.dataset}_{wildcards.variant}_seed{wildcards.seed}.pt"
        ),
    script:
        "../scripts/images_pretrain.py"


rule images_linear:
    input:
        data=rules.images_data.output.data,
        encoder=rules.images_pretrain.output.encoder,
        provenance=provenance(
            "images_linear", rules.images_data.output.data, rules.images_pretrain.output.encoder
        ),
    output:
        heads=f"{IMAGE_JOB}/linear_heads.pt",
        log_csv=f"{IMAGE_JOB}/linear_log.csv",
        meta=f"{IMAGE_JOB}/linear.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/linear_{{variant}}_seed{{seed}}.log",
    benchmark:
        benchmark_file("images_linear", "dataset", "variant", "seed")
    wildcard_constraints:
        dataset=IMAGE_DATASET_NAMES,
        variant=IMAGE_VARIANT_NAMES,
        seed=r"\d+",
    conda:
        "../envs/workflow.yaml"
    threads: image_threads
    resources:
        mem_mb=image_resource("linear", "mem_mb"),
        runtime=image_resource("linear"),
        gpu=image_resource("linear", "gpus"),
        slurm_partition=image_partition,
    params:
        code=code("images_linear"),
        settings=lambda wildcards: params.images_linear(
            config, wildcards.dataset, wildcards.variant, int(wildcards.seed)
        ),
        options=lambda wildcards: params.images_options(config, wildcards.dataset),
        resume=lambda wildcards: params.untracked(
            path=f"{RESULTS}/resume/images_linear_{wildcards.dataset}_{wildcards.variant}_seed{wildcards.seed}.pt"
        ),
    script:
        "../scripts/images_linear.py"


rule images_evaluate:
    input:
        data=rules.images_data.output.data,
        encoder=rules.images_pretrain.output.encoder,
        heads=rules.images_linear.output.heads,
        provenance=provenance(
            "images_evaluate",
            rules.images_data.output.data,
            rules.images_pretrain.output.encoder,
            rules.images_linear.output.heads,
        ),
    output:
        metrics=f"{IMAGE_JOB}/evaluation.csv",
        robustness=f"{IMAGE_JOB}/robustness.csv",
        purification=f"{IMAGE_JOB}/purification.csv",
        meta=f"{IMAGE_JOB}/evaluation.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/evaluate_{{variant}}_seed{{seed}}.log",
    benchmark:
        benchmark_file("images_evaluate", "dataset", "variant", "seed")
    wildcard_constraints:
        dataset=IMAGE_DATASET_NAMES,
        variant=IMAGE_VARIANT_NAMES,
        seed=r"\d+",
    conda:
        "../envs/workflow.yaml"
    threads: image_threads
    resources:
        mem_mb=image_resource("evaluate", "mem_mb"),
        runtime=image_resource("evaluate"),
        gpu=image_resource("evaluate", "gpus"),
        slurm_partition=image_partition,
    params:
        code=code("images_evaluate"),
        settings=lambda wildcards: params.images_evaluate(
            config, wildcards.dataset, wildcards.variant, int(wildcards.seed)
        ),
        options=lambda wildcards: params.images_options(config, wildcards.dataset),
    script:
        "../scripts/images_evaluate.py"


# One report rule per data set (its tables; its figure is the registry's <dataset>_results): each
# has its own captions (report/captions/<dataset>_*.rst).
for IMAGE_DATASET in IMAGES:

    rule:
        name:
            f"images_report_{IMAGE_DATASET}"
        input:
            metrics=image_jobs(IMAGE_DATASET, rules.images_evaluate.output.metrics),
            pretrain_meta=image_jobs(IMAGE_DATASET, rules.images_pretrain.output.meta),
            linear_meta=image_jobs(IMAGE_DATASET, rules.images_linear.output.meta),
            evaluate_meta=image_jobs(IMAGE_DATASET, rules.images_evaluate.output.meta),
            provenance=provenance(
                f"images_report_{IMAGE_DATASET}",
                image_jobs(IMAGE_DATASET, rules.images_evaluate.output.metrics),
            ),
        output:
            per_seed=f"{IMAGE_DIR}/{IMAGE_DATASET}/per_seed.csv",
            table_csv=reported(
                image_table(IMAGE_DATASET),
                f"{IMAGE_DATASET}_table",
                IMAGE_CATEGORY[IMAGE_DATASET],
            ),
            table_md=f"{PAPER_FIGURES}/{IMAGE_DATASET}_table.md",
            table_tex=f"{PAPER_FIGURES}/{IMAGE_DATASET}_table.tex",
            meta=f"{IMAGE_DIR}/{IMAGE_DATASET}/report.json",
        log:
            f"{RESULTS}/logs/images/{IMAGE_DATASET}/report.log",
        conda:
            "../envs/workflow.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=IMAGES[IMAGE_DATASET]["resources"]["runtime_minutes"]["report"],
        params:
            code=code("images_report"),
            settings=params.images_report(config, IMAGE_DATASET),
        script:
            "../scripts/images_report.py"


# An encoder checkpoint of your own (images.<dataset>.external.root/NAME.pt) through the same
# heads and attacks: `snakemake results/images/cifar10/external/NAME/evaluation.csv`.
rule images_external:
    input:
        data=rules.images_data.output.data,
        provenance=provenance("images_external", rules.images_data.output.data),
        checkpoint=lambda wildcards: os.path.join(
            IMAGES[wildcards.dataset]["external"]["root"], f"{wildcards.name}.pt"
        ),
    output:
        heads=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/linear_heads.pt",
        log_csv=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/linear_log.csv",
        metrics=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/evaluation.csv",
        robustness=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/robustness.csv",
        purification=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/purification.csv",
        meta=f"{IMAGE_DIR}/{{dataset}}/external/{{name}}/evaluation.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/external_{{name}}.log",
    benchmark:
        benchmark_file("images_external", "dataset", "name")
    wildcard_constraints:
        dataset=IMAGE_DATASET_NAMES,
        name=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/workflow.yaml"
    threads: image_threads
    resources:
        mem_mb=image_resource("external", "mem_mb"),
        runtime=image_resource("external"),
        gpu=image_resource("external", "gpus"),
        slurm_partition=image_partition,
    params:
        code=code("images_external"),
        settings=lambda wildcards: params.images_external(config, wildcards.dataset, wildcards.name),
        options=lambda wildcards: params.images_options(config, wildcards.dataset),
        resume=lambda wildcards: params.untracked(
            path=f"{RESULTS}/resume/images_external_{wildcards.dataset}_{wildcards.name}.pt"
        ),
    script:
        "../scripts/images_external.py"


for IMAGE_DATASET in IMAGES_ON:
    ALL_TARGETS.extend(getattr(rules, f"images_report_{IMAGE_DATASET}").output)


onstart:
    for dataset in IMAGES_ON:
        if IMAGES[dataset]["resources"]["gpus"] > 0:
            print(describe_cost(config, dataset))
