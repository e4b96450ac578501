"""Real images (claim C6): CIFAR-10 and scikit-learn's 8x8 digits through the same protocol.

Stages, one Snakemake rule each (rules/images.smk): ``data`` (archive or bundled set -> split
arrays), ``train`` (the four pre-training variants, model selection; a job per variant and seed),
``linear`` (clean SLF heads for every downstream task), ``evaluate`` (clean / PGD-20 / AutoAttack
accuracy, purification), ``report`` (per-seed table, summary table; the figure is
``figures.images``) and ``external`` (a user checkpoint through the same heads and attacks).
What they share: the encoders and heads (``models``), batched augmentation (``augment``),
per-sample losses (``losses``), optimisers and the epoch loop (``optim``), the device and
checkpoints (``runtime``). ``cost``, ``cost_table``,
``datasets`` and ``architecture`` import no torch: the Snakefile uses them.
"""
