"""Plumbing between Snakemake and the package, torch-free (the Snakefile imports it): running a
stage (``run``), the code params of a rule from the import graph and the layers it may follow
(``code_inputs``), config validation (``config``) and its docs (``config_docs``), the files the
repository generates and commits (``generated``), the params builders of every rule
(``params``), the figure registry (``figures``), the image branch's switches (``image_branch``),
the studies' points (``studies``) and the names several areas share (``names``).
"""
