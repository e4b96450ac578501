# Raw inputs of the simulations: one sparse-coding data set per seed, written once and hashed.


rule sparse_coding_data:
    output:
        data=f"{RESULTS}/data/seed{{seed}}.npz",
        meta=f"{RESULTS}/data/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/data/seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("sparse_coding_data"),
        settings=lambda wildcards: params.sparse_coding_data(config, wildcards.seed),
    script:
        "../scripts/sparse_coding_data.py"
