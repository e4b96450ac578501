"""The claims table: statistics against controls and the known-answer check (``table``), the
simulation claims C1-C5 (``simulation``), the real-image claims C6 (``images``), the analysis
choices and the budget map (``multiverse``), its markdown (``markdown``), the stage
(``claims``) and the sensitivity and mechanism studies' tables (``studies``).
"""
