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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/workflow.yaml"
    script:
        "../scripts/make_data.py"

