"""Weekly sales across every channel, at the grain a caller asks for."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import pandas as pd

from features.store import Store
from features.views._params import (
    InvalidParameterError,
    check_date,
    check_entities,
    check_period,
    check_platforms,
    monday,
)

logger = logging.getLogger(__name__)

#: The dimensions ``sales_weekly`` can group by, and where each comes from.
DIMENSIONS: dict[str, str] = {
    "sku_id": "d.sku_id",
    "product_id": "s.product_id",
    "category": "p.category",
    "platform": "d.platform",
    "shop_id": "d.shop_id",
    "warehouse_id": "d.warehouse_id",
}

#: Measures, in output order.
MEASURES = (
    "units",
    "returned_units",
    "net_units",
    "orders",
    "gross_fen",
    "refund_fen",
    "avg_price_fen",
)


def sales_weekly(
    store: Store,
    *,
    platforms: Iterable[str] | str | None = None,
    skus: Iterable[str] | str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    by: Iterable[str] | str = ("sku_id", "platform"),
) -> pd.DataFrame:
    """Weekly sales per the ``by`` dimensions, built on ``sales_daily``.

    A week starts on Monday in Asia/Shanghai (``sales_daily.day`` is already the Beijing
    date, so an order paid Sunday 23:30 Beijing time is in the week of that Sunday).

    Only weeks in which a series sold something appear: weeks without sales are **not**
    filled with zeros here, because whether a missing week means "no demand" or "not listed
    yet" is the caller's decision (the forecasting panel fills them).

    Args:
        store: the unified store.
        platforms: sales channels to include (``Platform`` values or names); None = all.
        skus: internal SKU ids to include; None = all.
        start: first day of the period. The period is widened to whole weeks: ``start``
            moves back to its Monday and ``end`` forward to its Sunday, so the first and last
            weeks are never partial by construction. None = from the first sale.
        end: last day of the period (see ``start``); None = up to the last sale.
        by: dimensions, any of ``sku_id``, ``product_id``, ``category``, ``platform``,
            ``shop_id`` (needs ``platform``: shop ids are unique only within a platform) and
            ``warehouse_id`` ('' where the platform does not say). Empty = weekly totals.

    Returns:
        One row per week and ``by`` value, sorted by ``by`` then week: ``week`` (Monday,
        datetime), the ``by`` columns, ``units`` (paid units), ``returned_units``,
        ``net_units`` (units − returned_units), ``orders`` (orders holding the series'
        SKUs; an order with two SKUs counts once per SKU), ``gross_fen`` (paid amount),
        ``refund_fen`` and ``avg_price_fen`` (gross_fen / units, rounded).

    Raises:
        UnknownPlatformError: a platform is not a sales channel.
        UnknownEntityError: a SKU is not in the store.
        InvalidParameterError: an unknown dimension, a bad date, or start after end.

    Examples:
        >>> sales_weekly(store, platforms=["tmall"], by=["category"])   # doctest: +SKIP
        >>> sales_weekly(store, skus="SKU0001", start="2024-06-01")   # doctest: +SKIP
    """
    func = "sales_weekly"
    dims = _check_by(by)
    platform_list = check_platforms(platforms, func=func)
    sku_list = check_entities(
        store,
        skus,
        kind="SKU",
        param="skus",
        func=func,
        sources=("skus.sku_id", "sales_daily.sku_id"),
    )
    first, last = check_period(
        check_date(start, param="start", func=func),
        check_date(end, param="end", func=func),
        func=func,
    )

    where, params = [], []
    if platform_list is not None:
        params.append(platform_list)
        where.append(f"list_contains(${len(params)}, d.platform)")
    if sku_list is not None:
        params.append(sku_list)
        where.append(f"list_contains(${len(params)}, d.sku_id)")
    if first is not None:
        params.append(monday(first))
        where.append(f"d.day >= ${len(params)}")
    if last is not None:
        params.append(monday(last) + dt.timedelta(days=6))
        where.append(f"d.day <= ${len(params)}")

    selected = "".join(f", {DIMENSIONS[d]} AS {d}" for d in dims)
    order = ", ".join([*dims, "week"])
    query = f"""
        SELECT CAST(date_trunc('week', d.day) AS DATE) AS week{selected},
               sum(d.units)::BIGINT AS units,
               sum(d.returned_units)::BIGINT AS returned_units,
               (sum(d.units) - sum(d.returned_units))::BIGINT AS net_units,
               sum(d.orders)::BIGINT AS orders,
               sum(d.gross_fen)::BIGINT AS gross_fen,
               sum(d.refund_fen)::BIGINT AS refund_fen,
               round(sum(d.gross_fen) / nullif(sum(d.units), 0))::BIGINT AS avg_price_fen
        FROM sales_daily d
        LEFT JOIN skus s ON s.sku_id = d.sku_id
        LEFT JOIN products p ON p.product_id = s.product_id
        {"WHERE " + " AND ".join(where) if where else ""}
        GROUP BY ALL
        ORDER BY {order}
    """
    frame = store.sql(query, params).df()
    frame["week"] = pd.to_datetime(frame["week"]).astype("datetime64[ns]")
    logger.debug("sales_weekly: %d rows by %s", len(frame), dims)
    return frame


def _check_by(by: Iterable[str] | str) -> list[str]:
    dims = [by] if isinstance(by, str) else list(by)
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise InvalidParameterError(
            f"The `by` parameter of `sales_weekly` must use the dimensions "
            f"{', '.join(DIMENSIONS)}. Got {unknown} instead."
        )
    if "shop_id" in dims and "platform" not in dims:
        raise InvalidParameterError(
            "The `by` parameter of `sales_weekly` groups by `shop_id` without `platform`; "
            "shop ids are unique only within a platform. Add 'platform' to `by`."
        )
    return list(dict.fromkeys(dims))  # keep order, drop repeats
