"""advpretrain: replication of "Better Representations via Adversarial Training in Pre-Training".

The package holds the logic (data models, networks, attacks, training, measures, plotting);
the Snakemake workflow and ``scripts/`` only wire files to it.
"""

__version__ = "0.1.0"
