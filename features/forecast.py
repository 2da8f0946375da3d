"""The weekly demand panel: the one feature frame forecasting trains and serves on.

A *panel* is a long DataFrame with one row per series and week:

- ``unique_id`` (str): the series, e.g. ``SKU0001|WH-SH`` for a SKU × warehouse;
- ``ds`` (datetime): the week's label date (a Monday in Butler's store, Asia/Shanghai);
- ``y`` (float): units sold (paid units) in the week;
- ``in_stock`` (bool, optional): False when the series was out of stock for most of the
  week, so its sales are *censored* — a week with no stock is not a week without demand;
- static columns (numbers or categories), constant per series;
- known-ahead covariates (:data:`COVARIATES`), from the promotions the channels export:
  ``promo_days`` (days of the week with a promotion running) and ``price_ratio`` (the
  week's advertised price over the SKU's list price). Promotions and price changes are
  planned before they run, so their values for the weeks being forecast are known too
  (:func:`store_covariates` reads them for any span of weeks, past or future).

The grid is dense from each series' first sale to the panel's last week: weeks without sales
are zeros. :func:`censor_stockouts` turns stock-out weeks into imputed demand with zero
training weight, so a model never learns "no stock" as "no demand". :func:`demand_segments`
classes series as fast, slow or intermittent movers for reports.

The same functions run at training time and at serving time (the model keeps the
calendar feature callables of :mod:`features.calendar` inside its fitted object).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError, StoreError
from features.store import Store
from features.views import sales_weekly
from features.views._params import check_platforms

logger = logging.getLogger(__name__)

#: Series levels the store panel can be built at.
Level = Literal["sku_warehouse", "sku_platform", "sku"]
LEVELS: tuple[str, ...] = ("sku_warehouse", "sku_platform", "sku")

#: Separator between the parts of a ``unique_id`` (SKU ids never contain it).
ID_SEP = "|"

#: Syntetos–Boylan cut on the average demand interval: at or above it a series is intermittent.
ADI_CUT = 1.32

#: A week counts as out of stock when the series had no stock on at least this many days.
STOCKOUT_DAYS = 4

#: Weeks of in-stock history the censored weeks' demand is imputed from.
IMPUTE_WEEKS = 8

#: The store panel's known-ahead covariates (see :func:`store_covariates`).
COVARIATES: tuple[str, ...] = ("promo_days", "price_ratio")


def dense_panel(frame: pd.DataFrame, *, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Fill each series' weekly grid with zeros from its first week to ``end``.

    Args:
        frame: long rows ``unique_id, ds, y`` (+ other columns, forward-filled per series
            into the new weeks for static ones); weeks must share one weekday.
        end: last week of the grid; None = the frame's last week.

    Returns:
        The dense panel sorted by ``unique_id, ds``, ``y`` as float64.

    Raises:
        InvalidParameterError: the frame lacks a column, or its weeks mix weekdays.
    """
    missing = {"unique_id", "ds", "y"} - set(frame.columns)
    if missing:
        raise InvalidParameterError(
            f"The panel passed to `dense_panel` must have the columns unique_id, ds and y. "
            f"Missing: {', '.join(sorted(missing))}."
        )
    if frame.empty:
        return frame.assign(y=frame["y"].astype("float64"))
    ds = pd.to_datetime(frame["ds"])
    weekdays = ds.dt.weekday.unique()
    if len(weekdays) != 1:
        raise InvalidParameterError(
            "The weeks of a panel must all fall on one weekday (a week's label date). "
            f"Got weekdays {sorted(int(w) for w in weekdays)} instead."
        )
    end = ds.max() if end is None else pd.Timestamp(end)
    first = ds.groupby(frame["unique_id"]).min()
    lengths = ((end - first).dt.days // 7 + 1).clip(lower=0)
    ids = np.repeat(first.index.to_numpy(), lengths.to_numpy())
    steps = np.concatenate([np.arange(n) for n in lengths.to_numpy()]) if len(ids) else []
    starts = np.repeat(first.to_numpy(), lengths.to_numpy())
    grid = pd.DataFrame({"unique_id": ids, "ds": starts + pd.to_timedelta(steps, unit="W")})
    observed = frame.assign(ds=ds).drop_duplicates(["unique_id", "ds"], keep="last")
    out = grid.merge(observed, on=["unique_id", "ds"], how="left")
    out["y"] = out["y"].fillna(0.0).astype("float64")
    other = [c for c in frame.columns if c not in ("unique_id", "ds", "y")]
    if other:
        out[other] = out.groupby("unique_id", sort=False)[other].ffill()
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def censor_stockouts(panel: pd.DataFrame, *, weeks: int = IMPUTE_WEEKS) -> pd.DataFrame:
    """Replace stock-out weeks' sales by imputed demand and give them zero training weight.

    A week with ``in_stock == False`` sold what the shelf held, not what buyers wanted. Its
    ``y`` becomes the larger of what it sold and the mean of the series' last ``weeks``
    in-stock weeks (its own history; the first weeks of a series with no in-stock history
    keep their sales), and ``weight`` is 0 so that the loss ignores the week while lag
    features still see a plausible demand level.

    Args:
        panel: a panel; without an ``in_stock`` column it is returned with ``weight`` = 1.
        weeks: in-stock weeks the imputation averages.

    Returns:
        A copy with ``y`` imputed on censored weeks, ``censored`` (bool) and ``weight``.
    """
    out = panel.copy()
    if "in_stock" not in out.columns:
        out["censored"] = False
        out["weight"] = 1.0
        return out
    censored = ~out["in_stock"].astype("boolean").fillna(True).astype(bool)

    def last_in_stock_mean(y: pd.Series) -> pd.Series:
        # mean of the last `weeks` in-stock weeks strictly before each week
        sold = y.dropna().rolling(weeks, min_periods=1).mean()
        return sold.reindex(y.index).ffill().shift(1)

    level = (
        out["y"]
        .where(~censored)
        .groupby(out["unique_id"], sort=False, group_keys=False)
        .apply(last_in_stock_mean)
        .reindex(out.index)
        .fillna(0.0)
    )
    out["y"] = np.where(censored, np.maximum(out["y"], level), out["y"])
    out["censored"] = censored.to_numpy()
    out["weight"] = np.where(censored, 0.0, 1.0)
    logger.debug("censor_stockouts: %d of %d weeks censored", int(censored.sum()), len(out))
    return out


def demand_segments(panel: pd.DataFrame) -> pd.Series:
    """Class each series as a ``fast``, ``slow`` or ``intermittent`` mover.

    Intermittent: the average interval between weeks with demand (ADI, from the series'
    first sale) is at least 1.32 weeks (Syntetos–Boylan). The others are fast when their
    mean weekly demand is at least the median of the non-intermittent series, else slow.

    Args:
        panel: a panel (``unique_id, ds, y``).

    Returns:
        A Series indexed by ``unique_id`` with the segment names.
    """
    y = panel["y"].to_numpy()
    grouped = pd.DataFrame({"unique_id": panel["unique_id"], "nz": y > 0, "y": y}).groupby(
        "unique_id", sort=True
    )
    weeks = grouped.size()
    nonzero = grouped["nz"].sum()
    mean = grouped["y"].mean()
    adi = weeks / nonzero.replace(0, np.nan)
    intermittent = ~(adi < ADI_CUT)  # NaN (never sold) counts as intermittent
    cut = mean[~intermittent].median() if (~intermittent).any() else np.inf
    seg = np.where(intermittent, "intermittent", np.where(mean >= cut, "fast", "slow"))
    return pd.Series(seg, index=weeks.index, name="segment")


def _why_no_sales(store: Store, level: str) -> str:
    """Why the store gives no weekly sales at ``level``, and what to do about it."""
    lines, mapped = store.sql("SELECT count(*), count(sku_id) FROM order_lines").fetchall()[0]
    if lines == 0:
        return (
            "The store holds no sales to build a forecasting panel from. "
            "Run `butler ingest` on the order exports first (or `butler demo`)."
        )
    if mapped == 0:
        return (
            f"The store holds {lines:,} order lines, but none of their platform SKUs maps to "
            "an internal SKU. Ingest the ERP's SKU mapping export (sku_map), then train again."
        )
    return (
        f"The store holds {lines:,} order lines, but none of the paid ones names its "
        "warehouse, so there are no sales per SKU × warehouse. Train at another level: "
        "`butler train forecast --level sku_platform`."
        if level == "sku_warehouse"
        else f"The store holds {lines:,} order lines, but no paid sale among them in the "
        "platforms and weeks asked for."
    )


def store_panel(
    store: Store,
    *,
    level: Level = "sku_warehouse",
    end: dt.date | str | None = None,
    platforms: Iterable[str] | str | None = None,
) -> pd.DataFrame:
    """The weekly demand panel of the unified store at one series level.

    Args:
        store: the unified store.
        level: ``sku_warehouse`` (``unique_id`` = ``sku|warehouse``; sales whose platform
            names no warehouse are left out), ``sku_platform`` (``sku|platform``) or ``sku``
            (all channels together).
        end: last day to include (its week is kept only when complete); None = the last
            complete week of sales.
        platforms: sales channels to include (in the sales and in the covariates' means);
            None = all.

    Returns:
        A dense panel ``unique_id, ds, y, in_stock, promo_days, price_ratio, sku_id`` plus
        ``warehouse_id`` or ``platform`` for those levels; ``ds`` is the Monday of the week
        (Asia/Shanghai). ``in_stock`` is False for weeks with no stock on at least 4 days,
        from the inventory snapshots (all warehouses together above the warehouse level);
        the covariates come from :func:`store_covariates`.

    Raises:
        InvalidParameterError: an unknown level or a bad date.
        StoreError: the store holds no sales.
    """
    if level not in LEVELS:
        raise InvalidParameterError(
            f"The `level` parameter of `store_panel` must be one of {', '.join(LEVELS)}. "
            f"Got {level!r} instead."
        )
    dims = {"sku_warehouse": ["sku_id", "warehouse_id"], "sku_platform": ["sku_id", "platform"]}
    by = dims.get(level, ["sku_id"])
    weekly = sales_weekly(store, platforms=platforms, end=end, by=by)
    if level == "sku_warehouse":
        weekly = weekly[weekly["warehouse_id"] != ""]
    if weekly.empty:
        raise StoreError(_why_no_sales(store, level))
    last_day = store.sql("SELECT max(day) FROM sales_daily").fetchall()[0][0]
    if end is not None:
        last_day = min(last_day, pd.Timestamp(end).date())
    # the newest week counts only when it is complete (a Sunday has been reached)
    last_week = pd.Timestamp(last_day) - pd.Timedelta(days=(last_day.weekday() + 1) % 7 + 6)
    weekly = weekly[weekly["week"] <= last_week]
    if weekly.empty:
        raise StoreError(
            f"The store's sales run only to {last_day}, inside a week not yet complete: a "
            "forecasting panel needs complete weeks (Monday to Sunday). Ingest more order "
            "history."
        )
    frame = weekly.rename(columns={"week": "ds", "units": "y"})
    frame["unique_id"] = frame[by].astype(str).agg(ID_SEP.join, axis=1)
    panel = dense_panel(frame[["unique_id", "ds", "y", *by]], end=last_week)
    stock = _weekly_stockouts(store, level)
    if stock.empty:
        panel["in_stock"] = True
    else:
        key = by if level != "sku_platform" else ["sku_id"]
        panel = panel.merge(stock, on=[*key, "ds"], how="left")
        panel["in_stock"] = panel["in_stock"].fillna(True).astype(bool)
    covariates = store_covariates(
        store,
        level=level,
        start=panel["ds"].min().date(),
        end=last_week.date(),
        platforms=platforms,
    )
    panel = panel.merge(covariates, on=["unique_id", "ds"], how="left")
    panel["promo_days"] = panel["promo_days"].fillna(0.0)
    return panel[["unique_id", "ds", "y", "in_stock", *COVARIATES, *by]]


def store_covariates(
    store: Store,
    *,
    level: Level = "sku_warehouse",
    start: dt.date,
    end: dt.date,
    ids: Iterable[str] | None = None,
    platforms: Iterable[str] | str | None = None,
) -> pd.DataFrame:
    """The known-ahead covariates of every series, in the weeks from ``start`` to ``end``.

    Per SKU × platform and week: ``promo_days``, the days (0–7) with a promotion running
    (``promotions`` of kind ``promotion``, on the Beijing days they cover, capped at 7
    where promotions overlap), and ``price_ratio``, the week's mean advertised price — the
    promotion's price on its days, else the shelf price, which is the latest price change
    up to mid-week, else the SKU's list price — over the list price (NaN without a list
    price). A series spanning several platforms gets the mean over them:
    for a SKU × warehouse, the platforms whose orders of the SKU shipped from that
    warehouse; for a SKU in total, those that list or sold it. Promotions exported ahead of
    time reach into future weeks; price changes hold until the next one.

    Args:
        store: the unified store.
        level: the series level (as in :func:`store_panel`).
        start, end: the span; widened to whole weeks (Monday to Sunday).
        ids: series to return (``unique_id`` values); None = every series the store has.
        platforms: the sales channels a series' mean is taken over (as in
            :func:`store_panel`); None = all.

    Returns:
        ``unique_id, ds`` + :data:`COVARIATES`, one row per series and week.

    Raises:
        InvalidParameterError: an unknown level or a span that ends before it starts.
        UnknownPlatformError: a platform is not a sales channel.
    """
    if level not in LEVELS:
        raise InvalidParameterError(
            f"The `level` parameter of `store_covariates` must be one of {', '.join(LEVELS)}. "
            f"Got {level!r} instead."
        )
    first = pd.Timestamp(start).date()
    first -= dt.timedelta(days=first.weekday())
    last = pd.Timestamp(end).date()
    if last < first:
        raise InvalidParameterError(
            f"The span passed to `store_covariates` ends ({last}) before it starts ({first})."
        )
    channels = check_platforms(platforms, func="store_covariates")
    only = "" if channels is None else f"WHERE platform IN ({', '.join(map(repr, channels))})"
    day = "CAST({} + INTERVAL 8 HOUR AS DATE)"  # stored in UTC; business days are Beijing's
    keys = {"sku_warehouse": ["sku_id", "warehouse_id"], "sku_platform": ["sku_id", "platform"]}
    keys = keys.get(level, ["sku_id"])
    # the platforms whose orders of a SKU ship from each warehouse
    routes = (
        "JOIN (SELECT DISTINCT sku_id, platform, warehouse_id FROM sales_daily "
        "WHERE warehouse_id <> '') AS r USING (sku_id, platform)"
        if level == "sku_warehouse"
        else ""
    )
    query = f"""
        WITH weeks AS (
            SELECT CAST(w AS DATE) AS ds FROM range(DATE '{first}', DATE '{last}' + 1,
                                                    INTERVAL 7 DAY) AS t(w)
        ),
        pairs AS (
            SELECT * FROM (
                SELECT DISTINCT sku_id, platform FROM listings WHERE sku_id IS NOT NULL
                UNION SELECT DISTINCT sku_id, platform FROM sales_daily
            ) {only}
        ),
        promo AS (
            SELECT sku_id, platform, {day.format("starts_at")} AS first_day,
                   {day.format("coalesce(ends_at, starts_at)")} AS last_day,
                   min(price_fen) AS price_fen
            FROM promotions WHERE kind = 'promotion' AND sku_id IS NOT NULL GROUP BY ALL
        ),
        promo_week AS (
            SELECT p.sku_id, p.platform, w.ds,
                   least(7, sum(date_diff('day', greatest(p.first_day, w.ds),
                                          least(p.last_day, w.ds + 6)) + 1)) AS promo_days,
                   min(p.price_fen) AS promo_fen
            FROM promo p JOIN weeks w ON p.first_day <= w.ds + 6 AND p.last_day >= w.ds
            GROUP BY ALL
        ),
        changes AS (
            SELECT sku_id, platform, {day.format("starts_at")} AS day,
                   min(price_fen) AS shelf_fen
            FROM promotions WHERE kind = 'price_change' AND sku_id IS NOT NULL GROUP BY ALL
        ),
        grid AS (SELECT pairs.sku_id, pairs.platform, weeks.ds FROM pairs, weeks),
        shelf AS (
            SELECT g.sku_id, g.platform, g.ds, c.shelf_fen
            FROM grid g ASOF LEFT JOIN changes c
              ON g.sku_id = c.sku_id AND g.platform = c.platform AND g.ds + 3 >= c.day
        ),
        pair_week AS (
            SELECT s.sku_id, s.platform, s.ds,
                   coalesce(pw.promo_days, 0) AS promo_days,
                   coalesce(s.shelf_fen, k.list_price_fen) AS price_fen,
                   -- a promotion never raises the price (least() skips NULLs)
                   least(pw.promo_fen, coalesce(s.shelf_fen, k.list_price_fen)) AS promo_fen,
                   nullif(k.list_price_fen, 0) AS list_fen
            FROM shelf s JOIN skus k USING (sku_id)
            LEFT JOIN promo_week pw USING (sku_id, platform, ds)
        )
        -- rounded: DuckDB's parallel avg() adds in no fixed order, and a last-bit
        -- difference moves LightGBM's bin edges, so an unrounded panel fits differently
        SELECT {", ".join(keys)}, ds, round(avg(promo_days), 9) AS promo_days,
               round(avg((promo_days * coalesce(promo_fen, 0) + (7 - promo_days) * price_fen)
                         / 7 / list_fen), 9)
                   AS price_ratio
        FROM pair_week {routes} GROUP BY ALL
    """
    frame = store.sql(query).df()
    frame["ds"] = pd.to_datetime(frame["ds"]).astype("datetime64[ns]")
    frame[list(COVARIATES)] = frame[list(COVARIATES)].astype("float64")
    frame["unique_id"] = frame[keys].astype(str).agg(ID_SEP.join, axis=1)
    if ids is not None:
        frame = frame[frame["unique_id"].isin(set(ids))]
    out = frame[["unique_id", "ds", *COVARIATES]]
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def future_covariates(
    store: Store,
    *,
    level: Level,
    after: dt.date | pd.Timestamp,
    weeks: int,
    ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The store's known-ahead covariates of the ``weeks`` weeks after the week of ``after``
    (a panel's last week): what a forecaster reads for the weeks it forecasts, at training
    time and, with the promotions exported since, at serving time (:func:`store_covariates`).
    """
    last = pd.Timestamp(after)
    return store_covariates(
        store,
        level=level,
        start=(last + pd.Timedelta(weeks=1)).date(),
        end=(last + pd.Timedelta(weeks=weeks)).date(),
        ids=ids,
    )


def _weekly_stockouts(store: Store, level: str) -> pd.DataFrame:
    """Weeks with no stock on at least STOCKOUT_DAYS days, per SKU (× warehouse)."""
    per_wh = level == "sku_warehouse"
    keys = "sku_id, warehouse_id" if per_wh else "sku_id"
    query = f"""
        WITH daily AS (
            SELECT snapshot_date, {keys}, sum(on_hand) AS on_hand
            FROM inventory_snapshots GROUP BY ALL
        )
        SELECT {keys}, CAST(date_trunc('week', snapshot_date) AS DATE) AS ds,
               count(*) FILTER (WHERE on_hand <= 0) < {STOCKOUT_DAYS} AS in_stock
        FROM daily GROUP BY ALL
    """
    frame = store.sql(query).df()
    frame["ds"] = pd.to_datetime(frame["ds"]).astype("datetime64[ns]")
    return frame
