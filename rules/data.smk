# Raw inputs of the simulations: one sparse-coding data set per seed, written once and hashed.


rule sparse_coding_data:
    input:
        code=package("sparse_coding", "simulation"),
    output:
        data=f"{RESULTS}/data/seed{{seed}}.npz",
        meta=f"{RESULTS}/data/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/data/seed{{seed}}.log",
    params:
        seed_index=lambda wildcards: int(wildcards.seed),
        # A change of these settings reruns the job (Snakemake's params trigger).
        section=settings({"base_seed": config["base_seed"], "data": SIM["data"]}),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/make_data.py"

