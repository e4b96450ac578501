"""Robustness evaluation shared by the simulations and the real-image branch: gradient attacks
(``attacks``) and the attack grid over norms and budgets (``grid``)."""
