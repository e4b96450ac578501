# The claims table: each claim C1-C6, its statistic, an interval over seeds and a verdict,
# computed from the workflow's own CSVs (advpretrain/claims.py). C6 reads the per-seed table of
# each real-image data set whose branch is on (rules/images.smk: IMAGES_ON); CIFAR-10 is off on
# a machine without a GPU (images.cifar10.enabled: auto), and C6 on CIFAR-10 is then "not
# evaluated".

CLAIMS_INPUTS = {
    "supervised_summary": sim_csv("summary"),
    "supervised_robustness": sim_csv("robustness"),
    "supervised_movement": sim_csv("movement"),
    **(
        {"supervised_exact": sim_csv("exact_summary")}
        if SIM["network"]["activation"] in params.exact_activations(SIM)
        else {}
    ),
    "supervised_convergence": sim_csv("convergence"),
    "contrastive_summary": sim_csv("summary", tasks=("contrastive",)),
    "pair_loss": sim_csv("pair_loss", tasks=("contrastive",)),
    **(
        {"pair_attack": sim_csv("pair_attack", tasks=("contrastive_pair_attack",))}
        if SIM["contrastive"]["pair_attack_study"]
        else {}
    ),
    **{f"downstream_{task}": sim_csv("downstream", tasks=(task,)) for task in DOWNSTREAM["tasks"]},
    # The positive control: the perfectly purified layer's heads and the blend study's ends.
    "downstream_baselines": [f"{SIM_DIR}/baselines/{MAIN_ACTIVATION}/downstream.csv"],
    "downstream_blend": sim_csv("downstream_blend"),
    # C6: results/images/<dataset>/per_seed.csv (rules/images.smk), for each data set that is on.
    **{f"images_{dataset}": [images_per_seed(dataset)] for dataset in IMAGES_ON},
}


rule claims:
    input:
        **CLAIMS_INPUTS,
        provenance=provenance("claims", CLAIMS_INPUTS),
    output:
        csv=reported(f"{RESULTS}/claims.csv", "claims", "Claims (C1-C6)"),
        md=f"{PAPER_FIGURES}/claims.md",
        html=reported(f"{RESULTS}/claims.html", "claims_html", "Claims (C1-C6)"),
        answers=f"{RESULTS}/claims_answers.rst",
        by_budget=reported(f"{RESULTS}/claims_by_budget.csv", "claims_by_budget", "Claims (C1-C6)"),
        budget_map=reported(
            f"{RESULTS}/claims_budget_map.csv", "claims_budget_map", "Claims (C1-C6)"
        ),
        multiverse=reported(f"{RESULTS}/multiverse.csv", "multiverse", "Claims (C1-C6)"),
        multiverse_md=f"{PAPER_FIGURES}/multiverse.md",
        meta=f"{RESULTS}/claims.json",
    log:
        f"{RESULTS}/logs/claims.log",
    conda:
        "../envs/workflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("claims"),
        settings=params.claims(config),
    script:
        "../scripts/claims.py"


ALL_TARGETS.extend(rules.claims.output)
