"""Robustness evaluation shared by the simulations and the real-image branch: gradient attacks
(``attacks``) and the attack grid over norms and budgets (``grid``); for the two-layer networks,
backward-pass surrogates of the activations (``surrogates``), the per-sample worst case over an
ensemble of adaptive attacks and the representation-movement attack (``ensemble``), and certified
lower bounds by interval propagation with Nern et al.'s transfer criterion (``bounds``)."""
