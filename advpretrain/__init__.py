"""advpretrain: replication of "Better Representations via Adversarial Training in Pre-Training".

The package holds the logic, in areas that import only downward (docs/architecture.md):
``core`` (files, seeds, statistics), ``workflow`` (the plumbing the Snakefile imports: params
builders, figure registry, code inputs), ``attack`` (the one attack core: PGD and its callers),
``model`` (data, networks, tasks, training, measures), ``evaluation`` (the attack grid, the
ensemble, bounds), ``simulation`` and ``images`` (the
stages, one function per rule, named as the rule), ``figures`` and ``claims``. The Snakemake
workflow and ``scripts/`` only wire files to it.
"""

__version__ = "0.1.0"
