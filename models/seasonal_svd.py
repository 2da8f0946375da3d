"""A low-rank seasonal naive: last year's weeks of the panel's denoised series.

Weekly sales of many related series (departments across stores, SKUs across channels) share
a handful of yearly shapes; each series' own last year is that shape plus noise. The
*seasonal SVD* forecast keeps the shapes and drops the noise: it stacks every series' last
``season_length + level_weeks`` weeks into one matrix, keeps its ``rank`` leading singular
components (a truncated SVD), and forecasts each series by its reconstructed weeks of a year
ago, rescaled by how its reconstructed last ``level_weeks`` weeks compare with the same weeks
a year earlier. Where a series has two years of history, the same is done two years back and
the two forecasts are averaged (each year's noise is partly its own). The denoising is the
step of the winning entry of Kaggle's Walmart store-sales competition (an SVD across stores
before a seasonal forecast).

It is a *global* method: a series' forecast depends on the other series in the panel, so it
must be computed over the same panel at training and at serving time, and only then
narrowed to the series asked for. Series with less than a full window of history get the
mean of their last 8 weeks instead (as a seasonal naive falls back without a year).

No I/O: a panel in, a long forecast frame out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError

#: The model's name in forecast frames and in ``ForecastConfig.blend_with``.
NAME = "SeasonalSVD52"

#: Years looked back by default.
YEARS = 2

#: Bounds of the level ratio (this year's recent weeks over last year's).
RATIO_BOUNDS = (0.5, 2.0)


def seasonal_svd_forecast(
    panel: pd.DataFrame,
    h: int,
    *,
    rank: int = 30,
    years: int = YEARS,
    season_length: int = 52,
    level_weeks: int = 8,
) -> pd.DataFrame:
    """Forecast the ``h`` weeks after each series' last week.

    Args:
        panel: dense ``unique_id, ds, y`` (a series that ends before the panel's last week
            gets the fallback, from its own last week).
        h: horizon in weeks, 1 … ``season_length``.
        rank: singular components kept (≥ the number of full series = no denoising).
        years: years looked back; a series' forecast is the mean of the seasonal forecasts
            from each year its history covers (one denoised matrix per year back).
        season_length: weeks in a year.
        level_weeks: recent weeks the level ratio compares with the same weeks a year (or
            two) earlier.

    Returns:
        Long frame ``unique_id, ds, model, mean`` (``model`` = ``SeasonalSVD52``), one row
        per series × week.

    Raises:
        InvalidParameterError: bad horizon, rank or years.
    """
    if not 1 <= h <= season_length:
        raise InvalidParameterError(
            f"The `h` parameter of `seasonal_svd_forecast` must be in [1, {season_length}]. "
            f"Got {h!r} instead."
        )
    for param, value in (("rank", rank), ("years", years)):
        if value < 1:
            raise InvalidParameterError(
                f"The `{param}` parameter of `seasonal_svd_forecast` must be ≥ 1. "
                f"Got {value!r} instead."
            )
    data = panel[["unique_id", "ds", "y"]]
    last = data.groupby("unique_id", sort=True)["ds"].max()
    total = np.zeros((len(last), h))
    count = np.zeros(len(last))
    for back in range(1, years + 1):
        forecast, full = _seasonal(data, last, h, rank, back * season_length, level_weeks)
        total[full] += forecast
        count[full] += 1
    # fallback: the mean of the series' last 8 known weeks
    tail8 = data.groupby("unique_id", sort=True).tail(8)
    out = np.repeat(tail8.groupby("unique_id", sort=True)["y"].mean().to_numpy()[:, None], h, 1)
    seen = count > 0
    out[seen] = total[seen] / count[seen, None]
    steps = pd.to_timedelta(np.tile(np.arange(1, h + 1), len(last)), unit="W")
    return pd.DataFrame(
        {
            "unique_id": np.repeat(last.index.to_numpy(), h),
            "ds": np.repeat(last.to_numpy(), h) + steps,
            "model": NAME,
            "mean": out.ravel(),
        }
    )


def _seasonal(
    data: pd.DataFrame, last: pd.Series, h: int, rank: int, back: int, level_weeks: int
) -> tuple[np.ndarray, np.ndarray]:
    """The forecast from ``back`` weeks ago, for the series with that much history.

    Returns the forecasts (one row per series with a full window) and the mask of those
    series in ``last``'s order.
    """
    end = last.max()
    window = back + level_weeks
    recent = data[data["ds"] > end - pd.Timedelta(weeks=window)]
    wide = recent.pivot(index="unique_id", columns="ds", values="y").reindex(index=last.index)
    # a series joins the matrix with a full window that ends on the panel's last week
    full = wide.notna().all(axis=1).to_numpy() & (wide.shape[1] == window)
    if not full.any():
        return np.zeros((0, h)), full
    u, s, vt = np.linalg.svd(wide.to_numpy(dtype="float64")[full], full_matrices=False)
    k = min(rank, len(s))
    smooth = (u[:, :k] * s[:k]) @ vt[:k]
    now = smooth[:, -level_weeks:].sum(axis=1)
    before = smooth[:, :level_weeks].sum(axis=1)
    ratio = np.where(before > 0, now / np.where(before > 0, before, 1.0), 1.0)
    ratio = np.clip(ratio, *RATIO_BOUNDS)
    # week end + j, ``back`` weeks earlier, sits at column level_weeks + j - 1 of the window
    return smooth[:, level_weeks : level_weeks + h] * ratio[:, None], full
