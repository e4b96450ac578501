"""Rule attack_convergence: robust accuracy of a supervised job's nets as the attack doubles."""

from advpretrain.simulation.attack_convergence import attack_convergence
from advpretrain.workflow.run import run

run(snakemake, attack_convergence)  # noqa: F821 (snakemake is injected by Snakemake)
