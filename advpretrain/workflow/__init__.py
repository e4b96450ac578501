"""Plumbing between Snakemake and the package, torch-free (the Snakefile imports it): running a
stage (``run``), the code params of a rule from the import graph and the layers it may follow
(``code_inputs``), config validation and its docs, the params builders of every rule
(``params``), the figure registry (``figures``) and the image branch's switches
(``image_branch``).
"""
