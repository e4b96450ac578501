"""Student t-intervals of a mean over seeds (exact for normal per-seed values at any number of
seeds; a percentile bootstrap over a handful of seeds covers far less than it says)."""

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
