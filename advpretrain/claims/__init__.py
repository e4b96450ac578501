"""The claims table: statistics against controls (``table``), the simulation claims C1-C5
(``simulation``), the real-image claims C6 (``images``), its markdown (``markdown``) and the
stage (``claims``).
"""
