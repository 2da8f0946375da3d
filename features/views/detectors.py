"""Detectors over the unified store: SKUs suddenly selling hot, SKUs about to oversell."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from enum import StrEnum

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError
from features.store import Store
from features.views._params import (
    check_date,
    check_entities,
    check_number,
    check_platforms,
    monday,
)
from features.views.stock import _stock_position

logger = logging.getLogger(__name__)

HOT_COLUMNS = ["sku_id", "name", "platform", "week", "units", "baseline", "ratio", "jump", "score"]
OVERSELL_COLUMNS = [
    "sku_id",
    "name",
    "platforms",
    "platform_stock",
    "available",
    "in_transit",
    "next_expected_on",
    "units_7d",
    "daily_units",
    "days_of_cover",
    "risk",
]


class StockRisk(StrEnum):
    """How close a listed, selling SKU is to overselling."""

    OUT_OF_STOCK = "out_of_stock"  # nothing available in any warehouse
    LOW = "low"  # available stock covers at most ``min_cover_days`` of recent sales


def hot_items(
    store: Store,
    *,
    week: dt.date | str | None = None,
    platforms: Iterable[str] | str | None = None,
    min_units: int = 10,
    min_jump: float = 8,
    min_ratio: float = 2.0,
    baseline_weeks: int = 8,
) -> pd.DataFrame:
    """SKUs whose sales on one platform jumped well above their own recent level there.

    The baseline of a SKU on a platform is its mean weekly units over the ``baseline_weeks``
    weeks before ``week``, zeros included: a week in which the SKU sold nothing counts as 0.
    Weeks in which the *platform* recorded no sale at all are left out of the mean, because
    they mean "no data yet" (a channel opened or exported late), not "no demand"; a platform
    with no such week before ``week`` has no baseline and is skipped.

    A SKU is hot when all three hold, so that neither a slow SKU going from 1 to 3 units
    nor a big SKU wobbling by a few percent is flagged:

    * ``units >= min_units`` (enough volume to matter),
    * ``jump = units - baseline >= min_jump`` (a real absolute increase),
    * ``ratio = units / max(baseline, 1) >= min_ratio`` (well above its own level; a
      baseline below one unit a week counts as one, so the ratio stays finite).

    ``score`` is a z-like strength, ``jump / sqrt(max(variance, baseline, 1))``, with the
    variance of the baseline weeks floored by the Poisson variance (= baseline).

    Args:
        store: the unified store.
        week: any day of the week to examine (moved to its Monday); None = the latest
            complete week in the data (the last week whose Sunday is on or before the
            newest day in ``sales_daily``).
        platforms: sales channels to examine; None = all.
        min_units: minimum units sold in ``week``.
        min_jump: minimum units above the baseline.
        min_ratio: minimum units / baseline.
        baseline_weeks: how many weeks before ``week`` make the baseline.

    Returns:
        Hot SKU × platform rows, biggest ``jump`` first: ``sku_id``, ``name`` (product),
        ``platform``, ``week`` (Monday), ``units``, ``baseline``, ``ratio``, ``jump``,
        ``score``.

    Raises:
        StoreError: ``week`` is None and ``sales_daily`` is empty.
        UnknownPlatformError: a platform is not a sales channel.
        InvalidParameterError: a bad week or threshold.

    Examples:
        >>> hot_items(store, platforms=["douyin"])                       # doctest: +SKIP
    """
    func = "hot_items"
    day = check_date(week, param="week", func=func)
    platform_list = check_platforms(platforms, func=func)
    check_number(min_units, param="min_units", func=func, low=0)
    check_number(min_jump, param="min_jump", func=func, low=0)
    check_number(min_ratio, param="min_ratio", func=func, low=1)
    n_weeks = int(
        check_number(baseline_weeks, param="baseline_weeks", func=func, low=1, integer=True)
    )

    target = hot_items_week(store, day)
    first = target - dt.timedelta(weeks=n_weeks)

    params: list[object] = [first, target + dt.timedelta(days=6)]
    platform_filter = ""
    if platform_list is not None:
        params.append(platform_list)
        platform_filter = "AND list_contains($3, platform)"
    weekly = store.sql(
        f"""
        SELECT CAST(date_trunc('week', day) AS DATE) AS week, platform, sku_id,
               sum(units)::BIGINT AS units
        FROM sales_daily
        WHERE day BETWEEN $1 AND $2 {platform_filter}
        GROUP BY ALL
        """,
        params,
    ).df()
    if weekly.empty:
        return _empty(HOT_COLUMNS)
    weekly["week"] = pd.to_datetime(weekly["week"]).dt.date

    past = weekly[weekly["week"] < target]
    observed = past.groupby("platform")["week"].nunique().rename("n")
    stats = (
        past.assign(sq=past["units"].astype(float) ** 2)
        .groupby(["sku_id", "platform"])[["units", "sq"]]
        .sum()
        .rename(columns={"units": "total"})
    )
    current = weekly[weekly["week"] == target].set_index(["sku_id", "platform"])[["units"]]
    frame = current.join(stats, how="left").fillna({"total": 0.0, "sq": 0.0}).reset_index()
    frame = frame.join(observed, on="platform", how="inner")  # no observed week: no baseline
    frame["baseline"] = frame["total"] / frame["n"]
    variance = frame["sq"] / frame["n"] - frame["baseline"] ** 2
    frame["ratio"] = frame["units"] / frame["baseline"].clip(lower=1.0)
    frame["jump"] = frame["units"] - frame["baseline"]
    spread = np.sqrt(np.maximum(np.maximum(variance.clip(lower=0), frame["baseline"]), 1.0))
    frame["score"] = frame["jump"] / spread
    hot = frame[
        (frame["units"] >= min_units) & (frame["jump"] >= min_jump) & (frame["ratio"] >= min_ratio)
    ].copy()
    hot["week"] = pd.Timestamp(target)
    hot = hot.merge(_names(store, hot["sku_id"]), on="sku_id", how="left")
    hot = hot.sort_values(
        ["jump", "score", "sku_id", "platform"], ascending=[False, False, True, True]
    )
    logger.debug(
        "hot_items: %d of %d SKU × platform series hot in %s", len(hot), len(frame), target
    )
    return hot[HOT_COLUMNS].reset_index(drop=True)


def oversell_risk(
    store: Store,
    *,
    as_of: dt.date | str | None = None,
    min_cover_days: float = 3.0,
    platforms: Iterable[str] | str | None = None,
    warehouses: Iterable[str] | str | None = None,
    skus: Iterable[str] | str | None = None,
) -> pd.DataFrame:
    """Listed, selling SKUs whose stock is gone or about to be.

    A SKU is at risk when a platform still lists it (``listings.listed``), it sold in the
    7 days ending on ``as_of`` (any platform), and its stock available across all
    warehouses (each warehouse's latest snapshot on or before ``as_of``) is at most 0
    (``out_of_stock``) or covers at most ``min_cover_days`` days of those sales (``low``).
    SKUs with no inventory snapshot at all are left out: their stock is unknown, not zero.
    Listings carry only their latest state, whatever ``as_of`` is.

    Args:
        store: the unified store.
        as_of: the business day (Asia/Shanghai) to look from; None = the newest day in
            ``sales_daily`` or ``inventory_snapshots``, whichever is later.
        min_cover_days: days of recent sales below which available stock counts as low.
        platforms: only SKUs these platforms list (values or names such as 抖音); None =
            any platform. The cover still counts every platform's sales: they share stock.
        warehouses: only these warehouses' stock, against the sales shipped from them
            (sales whose platform names no warehouse are left out); None = every warehouse
            against all sales.
        skus: only these SKUs; None = all.

    Returns:
        One row per SKU at risk, most severe first (out of stock, then fewest days of cover,
        then fastest selling): ``sku_id``, ``name``, ``platforms`` (the platforms listing
        it, comma-separated), ``platform_stock`` (the largest stock those listings show;
        NaN when none shows one), ``available``, ``in_transit``, ``next_expected_on``,
        ``units_7d``, ``daily_units`` (units_7d / 7), ``days_of_cover``
        (available / daily_units, 0 when nothing is available) and ``risk``
        (:class:`StockRisk`).

    Raises:
        StoreError: ``as_of`` is None and the store has no inventory snapshot.
        InvalidParameterError: a bad ``as_of`` or ``min_cover_days``.
        UnknownPlatformError: a platform is not a sales channel.
        UnknownEntityError: a SKU or warehouse is not in the store.

    Examples:
        >>> oversell_risk(store, min_cover_days=5)                      # doctest: +SKIP
        >>> oversell_risk(store, platforms="抖音", warehouses="WH-SW01")  # doctest: +SKIP
    """
    func = "oversell_risk"
    day = oversell_as_of(store, as_of)
    check_number(min_cover_days, param="min_cover_days", func=func, low=0)
    platform_list = check_platforms(platforms, func=func)
    wh_list = check_entities(store, warehouses, kind="warehouse", param="warehouses",
                             func=func, sources=("warehouses.warehouse_id",))  # fmt: skip
    sku_list = check_entities(store, skus, kind="SKU", param="skus", func=func,
                              sources=("skus.sku_id",))  # fmt: skip

    stock = _stock_position(store, day, wh_list, sku_list)
    per_sku = stock.groupby("sku_id").agg(
        name=("name", "first"),
        available=("available", "sum"),
        in_transit=("in_transit", "sum"),
        next_expected_on=("next_expected_on", "min"),
        snapshots=("snapshot_date", "count"),
    )
    per_sku = per_sku[per_sku["snapshots"] > 0].drop(columns="snapshots")

    listed = store.sql(
        """
        SELECT sku_id, string_agg(DISTINCT platform, ', ' ORDER BY platform) AS platforms,
               max(platform_stock)::DOUBLE AS platform_stock
        FROM listings WHERE listed AND sku_id IS NOT NULL
          AND ($1::VARCHAR[] IS NULL OR list_contains($1::VARCHAR[], platform))
        GROUP BY sku_id
        """,
        [platform_list],
    ).df()
    sold = store.sql(
        """
        SELECT sku_id, sum(units)::BIGINT AS units_7d
        FROM sales_daily WHERE day > $1::DATE - 7 AND day <= $1
          AND ($2::VARCHAR[] IS NULL OR list_contains($2::VARCHAR[], warehouse_id))
        GROUP BY sku_id HAVING sum(units) > 0
        """,
        [day, wh_list],
    ).df()
    frame = per_sku.reset_index().merge(listed, on="sku_id").merge(sold, on="sku_id")
    frame["daily_units"] = frame["units_7d"] / 7.0
    frame["days_of_cover"] = (frame["available"] / frame["daily_units"]).clip(lower=0)
    frame["risk"] = np.where(
        frame["available"] <= 0,
        StockRisk.OUT_OF_STOCK.value,
        np.where(frame["days_of_cover"] <= min_cover_days, StockRisk.LOW.value, ""),
    )
    frame = frame[frame["risk"] != ""].copy()
    frame["_rank"] = (frame["risk"] != StockRisk.OUT_OF_STOCK.value).astype(int)
    frame = frame.sort_values(
        ["_rank", "days_of_cover", "daily_units", "sku_id"], ascending=[True, True, False, True]
    )
    logger.debug("oversell_risk on %s: %d SKUs at risk", day, len(frame))
    return frame[OVERSELL_COLUMNS].reset_index(drop=True)


def oversell_as_of(store: Store, as_of: dt.date | str | None = None) -> dt.date:
    """The day :func:`oversell_risk` looks from for ``as_of`` (None = the newest day in
    ``sales_daily`` or ``inventory_snapshots``, whichever is later).

    Raises:
        StoreError: ``as_of`` is None and the store has no inventory snapshot.
    """
    day = check_date(as_of, param="as_of", func="oversell_risk")
    if day is not None:
        return day
    store.require_rows("inventory_snapshots", "inventory snapshots (the ERP stock export)")
    return store.sql(
        "SELECT greatest((SELECT max(snapshot_date) FROM inventory_snapshots),"
        " (SELECT max(day) FROM sales_daily))"
    ).fetchall()[0][0]


def hot_items_week(store: Store, week: dt.date | str | None = None) -> dt.date:
    """The Monday of the week :func:`hot_items` examines for ``week`` (None = the latest
    complete week in the data).

    Raises:
        StoreError: ``sales_daily`` is empty.
        InvalidParameterError: ``week`` starts after the newest sales day.
    """
    day = check_date(week, param="week", func="hot_items")
    newest = _newest_sales_day(store)
    if day is None:
        return monday(newest + dt.timedelta(days=1)) - dt.timedelta(days=7)
    target = monday(day)
    if target > newest:
        latest = monday(newest + dt.timedelta(days=1)) - dt.timedelta(days=7)
        raise InvalidParameterError(
            f"The `week` parameter of `hot_items` gives the week of {target}, which starts "
            f"after the newest sales day ({newest}): there are no sales to examine yet. Pass "
            f"a week up to {newest}, or none for the latest complete week ({latest})."
        )
    if target + dt.timedelta(days=6) > newest:
        logger.warning(
            "hot_items: the week of %s goes past the newest sales day %s; it is incomplete",
            target,
            newest,
        )
    return target


def _newest_sales_day(store: Store) -> dt.date:
    store.require_rows("sales_daily", "sales (order exports)")
    return store.sql("SELECT max(day) FROM sales_daily").fetchall()[0][0]


def _names(store: Store, skus: pd.Series) -> pd.DataFrame:
    return store.sql(
        """
        SELECT s.sku_id, p.name FROM skus s LEFT JOIN products p USING (product_id)
        WHERE list_contains($1::VARCHAR[], s.sku_id)
        """,
        [sorted(set(skus))],
    ).df()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
