"""The params builder of every rule: ``params.<rule>(config, wildcards...)`` builds, from the
validated config, exactly the settings that rule's stage reads (a canonical dict), and the rule
passes it as its params entry "settings". Snakemake reruns a job when its params change, so a
config change reruns exactly the jobs whose settings it changes. The builders live here, apart from
the stages, one module per branch: ``simulation`` (C1-C5), ``images`` (C6), ``reports`` (claims,
figures, notebooks, the studies); ``common`` holds the params that must not trigger reruns. A
builder has its rule's name; no other name of the package repeats one.
"""

from advpretrain.core.activations import THRESHOLDED
from advpretrain.workflow.params.common import untracked
from advpretrain.workflow.params.images import (
    images_data,
    images_evaluate,
    images_external,
    images_linear,
    images_options,
    images_pretrain,
    images_report,
    images_source,
)
from advpretrain.workflow.params.reports import (
    claims,
    figure,
    images_off_reason,
    mechanism_point,
    mechanism_table,
    run_notebook,
    sensitivity_point,
    sensitivity_table,
)
from advpretrain.workflow.params.simulation import (
    CONTRASTIVE_TASKS,
    PAIR_ATTACK_TASKS,
    PRETRAIN_TASKS,
    architecture,
    attack_convergence,
    contrastive_variants,
    downstream,
    downstream_baselines,
    downstream_blend,
    evaluate_pair_loss,
    evaluate_pretrained,
    exact_activations,
    exact_table,
    exact_verification,
    job_variants,
    live_rate,
    node_movement,
    objective,
    pair_attack_study,
    pretrain,
    pretrain_resume,
    sparse_coding_data,
    threshold_study,
    variant_table,
)

__all__ = [
    "untracked", "PAIR_ATTACK_TASKS", "CONTRASTIVE_TASKS", "PRETRAIN_TASKS", "THRESHOLDED",
    "variant_table", "contrastive_variants", "job_variants", "objective", "architecture",
    "live_rate", "sparse_coding_data", "pretrain", "pretrain_resume", "evaluate_pretrained",
    "exact_activations", "exact_verification", "exact_table", "attack_convergence",
    "node_movement",
    "evaluate_pair_loss", "pair_attack_study", "downstream",
    "downstream_baselines", "downstream_blend", "threshold_study", "images_data",
    "images_source", "images_options", "images_pretrain", "images_linear", "images_evaluate",
    "images_report", "images_external", "claims", "images_off_reason", "figure", "run_notebook",
    "sensitivity_point", "sensitivity_table", "mechanism_point", "mechanism_table",
]
