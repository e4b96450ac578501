"""CIFAR-10 branch (claim C6): ResNet-18 pre-training variants, clean linear heads, robustness.

Stages, one Snakemake rule each: ``data`` (archive -> split arrays), ``train`` (pre-training and
the downstream linear head), ``evaluate`` (clean / PGD-20 / AutoAttack accuracy, purification)
and ``report`` (table and figure).
"""
