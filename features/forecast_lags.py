"""Lag features for intermittent demand, as mlforecast lag transforms.

mlforecast applies each function to one series' lagged target (a float array, oldest first,
NaN where the lag reaches before the series starts) and expects an array of the same length
in which ``out[t]`` only looks at ``x[..t]``. Plain numpy, vectorised within a series.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nonzero_mean_26", "nonzero_share_13", "seasonal_level_52", "weeks_since_sale"]


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


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of x[t-window+1 .. t] (NaN until the window is full of known values)."""
    v = np.nan_to_num(x)
    known = _rolling_sum((~np.isnan(x)).astype(np.float64), window)
    total = _rolling_sum(v, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known == window, total / window, np.nan)


def seasonal_level_52(x: np.ndarray) -> np.ndarray:
    """Last year's same week, rescaled by how this year's last 8 weeks compare with last year's.

    On the lag-1 series ``x`` the week being forecast is ``t + 1``: last year's same week is
    ``x[t - 51]``, and the level ratio compares ``x[t-7..t]`` with ``x[t-59..t-52]`` (clipped
    to [0.25, 4] so one odd week cannot explode it). NaN without 60 weeks of history.
    """
    n = x.size
    out = np.full(n, np.nan)
    if n < 60:
        return out
    recent = _trailing_mean(x, 8)
    last_year = np.full(n, np.nan)
    last_year[52:] = recent[:-52]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.clip(recent / last_year, 0.25, 4.0)
    # a level under 1e-9 is no level: trailing means from cumulative sums leave rounding
    # dust of about that size where the true mean is 0
    ratio = np.where((last_year > 1e-9) & np.isfinite(ratio), ratio, 1.0)
    same_week = np.full(n, np.nan)
    same_week[51:] = x[: n - 51]
    out = same_week * ratio
    out[:59] = np.nan
    return out
