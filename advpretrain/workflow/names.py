"""Names several areas share and nothing else: the output folders and the accuracies of the
real-image tables. Imports nothing, so a stage that needs one of them reruns only when it
changes (code fingerprints follow imports)."""

RESULTS = "results"
PAPER_FIGURES = "paper_figures"
# The accuracies of a real-image data set's tables and figure: column -> label.
ACCURACIES = {"clean_accuracy": "clean", "pgd_accuracy": "PGD", "autoattack_accuracy": "AutoAttack"}
