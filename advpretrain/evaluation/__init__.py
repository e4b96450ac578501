"""Robustness evaluation with the attack core (``advpretrain.attack``): the paper's attack grid
(``grid``); for the two-layer networks, adaptive PGD through backward-pass surrogates of the
activations (``adaptive``; the surrogates are ``model.surrogates``), the per-sample worst case
over an attack ensemble (``ensemble``), the representation-movement attack (``movement``),
certified lower bounds by interval propagation with Nern et al.'s transfer criterion
(``bounds``), the sandwich of both (``sandwich``), exact verification by MILP / MIQCP (``exact``)
and the attack's convergence as its budget doubles (``convergence``)."""
