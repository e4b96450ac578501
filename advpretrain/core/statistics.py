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


def p_less(values) -> float:
    """One-sided t-test p-value of "the per-seed mean is below 0" (NaN for fewer than 2)."""
    return p_greater(-np.asarray(values, dtype=float))


def holm(p_values, alpha: float) -> np.ndarray:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level ``alpha``."""
    p = np.asarray(p_values, dtype=float)
    reject = np.zeros(p.size, dtype=bool)
    for rank, index in enumerate(np.argsort(p)):
        if not p[index] <= alpha / (p.size - rank):
            break
        reject[index] = True
    return reject


def detectable_effect(n_seeds: int, n_rows: int, alpha: float) -> float:
    """The smallest mean, in per-seed standard deviations beyond a row's smallest effect, that
    the strictest Holm step (level alpha / n_rows, one-sided) can declare with ``n_seeds``."""
    if n_seeds < 2 or n_rows < 1:
        return float("nan")
    return float(stats.t.ppf(1 - alpha / n_rows, n_seeds - 1) / np.sqrt(n_seeds))


def power(n_seeds: int, n_rows: int, alpha: float, effect_sd: float) -> float:
    """The chance that the strictest Holm step rejects when the true mean exceeds the smallest
    effect by ``effect_sd`` per-seed standard deviations (noncentral t)."""
    if n_seeds < 2 or n_rows < 1:
        return float("nan")
    critical = stats.t.ppf(1 - alpha / n_rows, n_seeds - 1)
    return float(stats.nct.sf(critical, n_seeds - 1, effect_sd * np.sqrt(n_seeds)))
