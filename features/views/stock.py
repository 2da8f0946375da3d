"""Stock per SKU × warehouse: what is there, what is coming, how long it lasts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError
from features.store import Store
from features.views._params import check_date, check_entities

logger = logging.getLogger(__name__)

#: Purchase-order statuses whose unreceived quantity is still on its way.
OPEN_PO_STATUSES = ("open", "in_transit")

_QUERY = """
WITH snap AS (
    SELECT warehouse_id, sku_id,
           max(snapshot_date) AS snapshot_date,
           arg_max(on_hand, snapshot_date) AS on_hand,
           arg_max(reserved, snapshot_date) AS reserved
    FROM inventory_snapshots
    WHERE snapshot_date <= $1 {snap_filter}
    GROUP BY ALL
),
po AS (
    SELECT warehouse_id, sku_id,
           sum(qty_ordered - qty_received) AS in_transit,
           min(expected_on) AS next_expected_on,
           sum(qty_ordered - qty_received) FILTER (WHERE expected_on < $1) AS overdue
    FROM purchase_orders
    WHERE list_contains($2, status) AND qty_ordered > qty_received AND ordered_on <= $1
          {po_filter}
    GROUP BY ALL
),
sales AS (
    SELECT warehouse_id, sku_id,
           coalesce(sum(units) FILTER (WHERE day > $1::DATE - 28), 0) / 4.0 AS avg4,
           sum(units) / 8.0 AS avg8
    FROM sales_daily
    WHERE day > $1::DATE - 56 AND day <= $1 AND warehouse_id <> ''
    GROUP BY ALL
),
pairs AS (
    SELECT warehouse_id, sku_id FROM snap UNION SELECT warehouse_id, sku_id FROM po
)
SELECT pairs.sku_id, pr.name, pairs.warehouse_id, snap.snapshot_date,
       coalesce(snap.on_hand, 0)::BIGINT AS on_hand,
       coalesce(snap.reserved, 0)::BIGINT AS reserved,
       (coalesce(snap.on_hand, 0) - coalesce(snap.reserved, 0))::BIGINT AS available,
       coalesce(po.in_transit, 0)::BIGINT AS in_transit,
       po.next_expected_on,
       coalesce(po.overdue, 0)::BIGINT AS overdue_in_transit,
       coalesce(sales.avg4, 0)::DOUBLE AS avg_weekly_units_4w,
       coalesce(sales.avg8, 0)::DOUBLE AS avg_weekly_units_8w
FROM pairs
LEFT JOIN snap USING (warehouse_id, sku_id)
LEFT JOIN po USING (warehouse_id, sku_id)
LEFT JOIN sales USING (warehouse_id, sku_id)
LEFT JOIN skus s ON s.sku_id = pairs.sku_id
LEFT JOIN products pr ON pr.product_id = s.product_id
ORDER BY pairs.sku_id, pairs.warehouse_id
"""


def stock_position(
    store: Store,
    *,
    as_of: dt.date | str | None = None,
    warehouses: Iterable[str] | str | None = None,
    skus: Iterable[str] | str | None = None,
) -> pd.DataFrame:
    """Stock per SKU × warehouse on ``as_of``, with stock on its way and recent sales.

    Rows are the SKU × warehouse pairs that have an inventory snapshot on or before
    ``as_of`` or an open purchase order; a pair with only a purchase order has zero stock
    and no ``snapshot_date``. Each pair's stock is its own latest snapshot, so check
    ``snapshot_date`` when the ERP skips rows: a pair missing from newer snapshots keeps
    its older figures.

    Purchase orders carry only their latest status (the store keeps no history), so for a
    past ``as_of`` ``in_transit`` reflects today's statuses of the orders placed by then.
    Sales count towards a warehouse through ``sales_daily.warehouse_id``; sales whose
    platform does not name the warehouse count nowhere here.

    Args:
        store: the unified store.
        as_of: the business day (Asia/Shanghai) to look from; None = the newest snapshot date.
        warehouses: warehouse ids to include; None = all.
        skus: internal SKU ids to include; None = all.

    Returns:
        One row per pair, sorted by SKU then warehouse: ``sku_id``, ``name`` (product name),
        ``warehouse_id``, ``snapshot_date``, ``on_hand``, ``reserved``, ``available``
        (on_hand − reserved; negative when reservations exceed stock), ``in_transit`` (units
        ordered and not yet received on open or in-transit purchase orders placed by
        ``as_of``), ``next_expected_on`` (earliest expected date of those, possibly already
        past), ``overdue_in_transit`` (the part of ``in_transit`` expected before ``as_of``
        and not received: late, or never coming), ``avg_weekly_units_4w`` and
        ``avg_weekly_units_8w`` (paid units shipped from the warehouse over the 28 or 56 days
        ending on ``as_of``, per week) and
        ``weeks_of_cover`` (available / avg_weekly_units_4w; NaN without sales in those 4
        weeks, as the cover is then unbounded).

    Raises:
        StoreError: ``as_of`` is None and the store holds no inventory snapshot.
        UnknownEntityError: a warehouse or SKU is not in the store.
        InvalidParameterError: ``as_of`` is not a date.

    Examples:
        >>> stock_position(store, warehouses="WH-SH")                  # doctest: +SKIP
    """
    func = "stock_position"
    day = check_date(as_of, param="as_of", func=func)
    wh_list = check_entities(
        store,
        warehouses,
        kind="warehouse",
        param="warehouses",
        func=func,
        sources=("warehouses.warehouse_id", "inventory_snapshots.warehouse_id"),
    )
    sku_list = check_entities(
        store,
        skus,
        kind="SKU",
        param="skus",
        func=func,
        sources=("skus.sku_id", "inventory_snapshots.sku_id", "purchase_orders.sku_id"),
    )
    if day is None:
        day = latest_snapshot_date(store)
    return _stock_position(store, day, wh_list, sku_list)


def latest_snapshot_date(store: Store) -> dt.date:
    """The newest ``inventory_snapshots.snapshot_date``.

    Raises:
        StoreError: the store holds no inventory snapshot.
    """
    store.require_rows("inventory_snapshots", "inventory snapshots (the ERP stock export)")
    return store.sql("SELECT max(snapshot_date) FROM inventory_snapshots").fetchall()[0][0]


def _stock_position(
    store: Store, day: dt.date, wh_list: list[str] | None, sku_list: list[str] | None
) -> pd.DataFrame:
    params: list[object] = [day, list(OPEN_PO_STATUSES)]
    filters = []
    if wh_list is not None:
        params.append(wh_list)
        filters.append(f"AND list_contains(${len(params)}, warehouse_id)")
    if sku_list is not None:
        params.append(sku_list)
        filters.append(f"AND list_contains(${len(params)}, sku_id)")
    where = " ".join(filters)
    frame = store.sql(_QUERY.format(snap_filter=where, po_filter=where), params).df()
    for column in ("snapshot_date", "next_expected_on"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    rate = frame["avg_weekly_units_4w"]
    frame["weeks_of_cover"] = np.where(rate > 0, frame["available"] / rate.where(rate > 0), np.nan)
    logger.debug("stock_position on %s: %d pairs", day, len(frame))
    return frame


#: A SKU no platform lists counts as delisted once it has not sold for this many days.
DELISTED_QUIET_DAYS = 28

_DELISTED = """
WITH listed AS (
    -- a listing changed after the day says nothing of that day: it may have been listed
    SELECT sku_id, bool_or(listed OR updated_at::DATE > $1) AS listed, count(*) AS listings
    FROM listings WHERE sku_id IS NOT NULL GROUP BY ALL
),
sold AS (
    SELECT sku_id, max(day) AS last_sale
    FROM sales_daily WHERE day <= $1 AND units > 0 GROUP BY ALL
)
SELECT listed.sku_id, listed.listings, sold.last_sale
FROM listed LEFT JOIN sold USING (sku_id)
WHERE NOT listed.listed AND (sold.last_sale IS NULL OR sold.last_sale <= $1::DATE - $2)
ORDER BY listed.sku_id
"""


def delisted_skus(
    store: Store, as_of: dt.date | str, quiet_days: int = DELISTED_QUIET_DAYS
) -> pd.DataFrame:
    """The SKUs no platform lists any more and that sold nothing in the ``quiet_days``
    days up to ``as_of``: stock of them is sold off, not reordered.

    A SKU with no listing at all (an export that carries none, an offline-only SKU) is not
    delisted, and neither is one that still sells somewhere (an offline store). Listings
    carry only their latest state, from their ``updated_at`` on: for a past ``as_of``, a
    listing changed after it (taken down later) counts as listed then.

    Returns:
        ``sku_id``, ``listings`` (how many platform listings name it, none listed) and
        ``last_sale`` (its last day with units sold on or before ``as_of``; NaT if never).

    Raises:
        InvalidParameterError: ``as_of`` is not a date, or ``quiet_days`` < 1.
    """
    day = check_date(as_of, param="as_of", func="delisted_skus")
    if day is None or quiet_days < 1:
        raise InvalidParameterError(
            "delisted_skus needs a day (as_of) and quiet_days >= 1, e.g. as_of='2025-12-30', "
            f"quiet_days=28; got {as_of!r} and {quiet_days!r}."
        )
    frame = store.sql(_DELISTED, [day, quiet_days]).df()
    frame["last_sale"] = pd.to_datetime(frame["last_sale"]).astype("datetime64[ns]")
    return frame
