"""Statistics over seeds: Student t-intervals of a mean (exact for normal per-seed values at any
number of seeds), one-sided t-tests and Holm's step-down procedure.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def t_interval(values, confidence: float) -> tuple[float, float, float]:
    """Mean of per-seed ``values`` and its two-sided t-interval (NaN bounds for one value)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(
        values.size)
    return mean, float(mean - half), float(mean + half)


def p_greater(values) -> float:
    """One-sided t-test p-value of "the per-seed mean is above 0" (NaN for fewer than 2)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return np.nan
    mean, spread = values.mean(), values.std(ddof=1)
    if spread <= 1e-12 * max(1.0, abs(mean)):  # identical values: the mean is known exactly
        return 0.0 if mean > 0 else 1.0
    return float(stats.t.sf(mean / (spread / np.sqrt(values.size)), values.size - 1))


def holm(p_values, alpha: float) -> np.ndarray:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level ``alpha``."""
    p = np.asarray(p_values, dtype=float)
    reject = np.zeros(p.size, dtype=bool)
    for rank, index in enumerate(np.argsort(p)):
        if not p[index] <= alpha / (p.size - rank):
            break
        reject[index] = True
    return reject
