"""Lag features for intermittent demand, as mlforecast lag transforms.

mlforecast applies each function to one series' lagged target (a float array, oldest first,
NaN where the lag reaches before the series starts) and expects an array of the same length
in which ``out[t]`` only looks at ``x[..t]``. Plain numpy, vectorised within a series.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nonzero_mean_26", "nonzero_share_13", "weeks_since_sale"]


def _rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    total = np.cumsum(x)
    out = total.copy()
    out[window:] -= total[:-window]
    return out


def nonzero_share_13(x: np.ndarray) -> np.ndarray:
    """Share of the last 13 known weeks with a sale (the demand probability)."""
    known = ~np.isnan(x)
    seen = _rolling_sum(known.astype(np.float64), 13)
    sold = _rolling_sum((known & (np.nan_to_num(x) > 0)).astype(np.float64), 13)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, sold / seen, np.nan)


def nonzero_mean_26(x: np.ndarray) -> np.ndarray:
    """Mean size of the weeks with a sale among the last 26 (the typical demand size)."""
    v = np.nan_to_num(x)
    pos = v > 0
    sold = _rolling_sum(pos.astype(np.float64), 26)
    size = _rolling_sum(np.where(pos, v, 0.0), 26)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sold > 0, size / sold, np.nan)


def weeks_since_sale(x: np.ndarray) -> np.ndarray:
    """Weeks since the last week with a sale (99 before the first)."""
    idx = np.arange(x.size)
    last = np.maximum.accumulate(np.where(np.nan_to_num(x) > 0, idx, -1))
    return np.where(last >= 0, idx - last, 99).astype(np.float64)
