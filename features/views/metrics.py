"""The semantic layer: named sales metrics and dimensions over the unified store.

Callers (the CLI, the HTTP services, the butler agent) name what they want — ``units`` by
``platform`` for a period — and never write SQL; every figure comes from ``sales_daily``
(paid order lines per Beijing business day, rebuilt after each ingest). Periods are exact
days, not widened to weeks, so "last month" means the calendar month.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from features.store import Store
from features.views._params import (
    InvalidParameterError,
    check_date,
    check_entities,
    check_period,
    check_platforms,
)

logger = logging.getLogger(__name__)

#: Metric name → (SQL over ``sales_daily d``, what it means).
METRICS: dict[str, tuple[str, str]] = {
    "units": ("sum(d.units)", "paid units"),
    "net_units": ("sum(d.units) - sum(d.returned_units)", "paid units minus returned units"),
    "returned_units": ("sum(d.returned_units)", "units returned"),
    "return_rate": (
        "sum(d.returned_units) / nullif(sum(d.units), 0)",
        "units returned / paid units (a share, 0..1)",
    ),
    "revenue_yuan": ("sum(d.gross_fen) / 100.0", "paid amount in yuan (GMV)"),
    "refund_yuan": ("sum(d.refund_fen) / 100.0", "refunded amount in yuan"),
    # read from the order lines: an order holding two SKUs is one order in a total
    "orders": ("count(DISTINCT (d.platform, d.order_id))", "paid orders, each counted once"),
    "avg_price_yuan": (
        "sum(d.gross_fen) / nullif(sum(d.units), 0) / 100.0",
        "paid amount per unit in yuan",
    ),
}

#: Dimension name → (SQL, what it is).
DIMENSIONS: dict[str, tuple[str, str]] = {
    "sku_id": ("d.sku_id", "internal SKU"),
    "product": ("p.name", "product name"),
    "category": ("p.category", "product category"),
    "platform": ("d.platform", "sales channel"),
    "shop_id": ("d.shop_id", "shop on its platform (rows also carry platform and shop)"),
    "shop": ("coalesce(sh.shop_name, d.shop_id)", "shop name (rows also carry platform, shop_id)"),
    "warehouse_id": ("d.warehouse_id", "shipping warehouse ('' when the platform does not say)"),
    "week": ("CAST(date_trunc('week', d.day) AS DATE)", "week starting Monday"),
    "month": ("CAST(date_trunc('month', d.day) AS DATE)", "calendar month"),
    "day": ("d.day", "business day (Asia/Shanghai)"),
}

#: Dimensions that only name another's key (a SKU's product, a shop's name): never joined on.
_LABELS = ("product", "shop")

Compare = Literal["none", "previous_period", "previous_year"]


@dataclass(frozen=True, slots=True)
class MetricsResult:
    """A metrics query's rows and what they cover.

    Attributes:
        rows: one row per ``by`` value: the ``by`` columns (``sku_id`` rows also carry
            ``product``), then each metric; with a comparison also ``<metric>_previous`` and
            ``<metric>_change`` (relative change, NaN when the previous figure is 0).
        start: first day covered.
        end: last day covered.
        previous: the comparison period's (start, end), or None.
        platforms: the platforms asked for (None = every platform), as stored values.
        total_rows: rows before ``top`` was applied.
    """

    rows: pd.DataFrame
    start: dt.date
    end: dt.date
    previous: tuple[dt.date, dt.date] | None
    platforms: list[str] | None
    total_rows: int


def data_period(store: Store) -> tuple[dt.date, dt.date] | None:
    """The first and last day with sales in the store, or None when it holds none."""
    first, last = store.sql("SELECT min(day), max(day) FROM sales_daily").fetchall()[0]
    return (first, last) if first is not None else None


@dataclass(frozen=True, slots=True)
class DataCoverage:
    """How far each kind of data in the store reaches ("数据最新到哪天？").

    Attributes:
        sales: first and last business day with sales, or None.
        sales_by_platform: each platform's last business day with sales, newest first.
        stock: the newest inventory snapshot's day, or None.
        chats: the newest chat message's time, or None.
        members: the newest member registration's time, or None.
        last_ingest: when a file was last ingested (UTC), or None.
    """

    sales: tuple[dt.date, dt.date] | None
    sales_by_platform: dict[str, dt.date]
    stock: dt.date | None
    chats: dt.datetime | None
    members: dt.datetime | None
    last_ingest: dt.datetime | None


def data_coverage(store: Store) -> DataCoverage:
    """The first and newest day of sales (per platform too) and the newest stock, chats,
    members and ingest: what an operator needs before reading any figure."""
    newest = store.sql(
        "SELECT (SELECT max(snapshot_date) FROM inventory_snapshots), "
        "(SELECT max(sent_at) FROM chat_messages), (SELECT max(registered_at) FROM members), "
        "(SELECT max(ingested_at) FROM ingested_files)"
    ).fetchall()[0]
    by_platform = store.sql(
        "SELECT platform, max(day) FROM sales_daily GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return DataCoverage(
        sales=data_period(store),
        sales_by_platform=dict(by_platform),
        stock=newest[0],
        chats=newest[1],
        members=newest[2],
        last_ingest=newest[3],
    )


def unsold_listed(
    store: Store,
    start: dt.date,
    end: dt.date,
    *,
    platforms: Iterable[str] | str | None = None,
    categories: Iterable[str] | str | None = None,
) -> list[str]:
    """The SKUs a platform lists (``listings.listed``) that sold nothing from ``start`` to
    ``end`` (on those platforms): the slowest sellers a sales ranking cannot show, as it
    ranks only what sold. Sorted by id."""
    func = "unsold_listed"
    platform_list = check_platforms(platforms, func=func)
    cat_list = _categories(store, categories, func)
    rows = store.sql(
        """
        SELECT DISTINCT l.sku_id FROM listings l
        LEFT JOIN skus s ON s.sku_id = l.sku_id
        LEFT JOIN products p ON p.product_id = s.product_id
        WHERE l.listed AND l.sku_id IS NOT NULL
          AND ($3::VARCHAR[] IS NULL OR list_contains($3::VARCHAR[], l.platform))
          AND ($4::VARCHAR[] IS NULL OR list_contains($4::VARCHAR[], p.category))
          AND NOT EXISTS (
              SELECT 1 FROM sales_daily d WHERE d.sku_id = l.sku_id AND d.units > 0
                AND d.day BETWEEN $1 AND $2
                AND ($3::VARCHAR[] IS NULL OR list_contains($3::VARCHAR[], d.platform)))
        ORDER BY 1
        """,
        [start, end, platform_list, cat_list],
    ).fetchall()
    return [r[0] for r in rows]


def sales_metrics(
    store: Store,
    *,
    metrics: Iterable[str] | str = ("units", "revenue_yuan"),
    by: Iterable[str] | str = (),
    platforms: Iterable[str] | str | None = None,
    skus: Iterable[str] | str | None = None,
    categories: Iterable[str] | str | None = None,
    warehouses: Iterable[str] | str | None = None,
    shops: Iterable[str] | str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    compare: Compare = "none",
    top: int | None = None,
    ascending: bool = False,
) -> MetricsResult:
    """Named metrics per named dimensions over a period, optionally against an earlier one.

    Args:
        store: the unified store.
        metrics: names from :data:`METRICS`; rows are ordered by the first.
        by: names from :data:`DIMENSIONS`; empty = one total row.
        platforms: sales channels (values or names such as 天猫, JD); None = all.
        skus: internal SKU ids; None = all.
        categories: product categories; None = all.
        warehouses: warehouse ids; None = all (sales whose platform names no warehouse
            count only when this is None).
        shops: shop ids (each platform's own; with ``platforms`` to tell apart shops of one
            id on two platforms); None = all.
        start: first day (inclusive); None = the first day with sales.
        end: last day (inclusive); None = the last day with sales.
        compare: ``previous_period`` (the same number of days just before; of whole
            calendar months when the period is whole months) or ``previous_year`` (the same
            days a year earlier).
        top: keep the first ``top`` rows after ordering; None = all.
        ascending: order by the first metric ascending (worst sellers first).

    Raises:
        InvalidParameterError: an unknown metric or dimension, a bad date, start after end,
            or a ``top`` below 1.
        UnknownPlatformError: a platform is not a sales channel.
        UnknownEntityError: a SKU or warehouse is not in the store.

    Examples:
        >>> sales_metrics(store, by="sku_id", platforms="抖音", start="2024-06-10",
        ...               end="2024-06-16", top=5)                          # doctest: +SKIP
    """
    func = "sales_metrics"
    names = _names(metrics, METRICS, "metrics", func)
    if not names:
        raise InvalidParameterError(f"The `metrics` parameter of `{func}` is empty.")
    dims = _names(by, DIMENSIONS, "by", func)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise InvalidParameterError(
            f"The `top` parameter of `{func}` must be a whole number >= 1. Got {top!r} instead."
        )
    if compare not in ("none", "previous_period", "previous_year"):
        raise InvalidParameterError(
            f"The `compare` parameter of `{func}` must be none, previous_period or "
            f"previous_year. Got {compare!r} instead."
        )
    platform_list = check_platforms(platforms, func=func)
    sku_list = check_entities(
        store, skus, kind="SKU", param="skus", func=func, sources=("skus.sku_id",)
    )
    wh_list = check_entities(
        store,
        warehouses,
        kind="warehouse",
        param="warehouses",
        func=func,
        sources=("warehouses.warehouse_id",),
    )
    cat_list = _categories(store, categories, func)
    shop_list = check_entities(
        store, shops, kind="shop", param="shops", func=func, sources=("shops.shop_id",)
    )
    first, last = check_period(
        check_date(start, param="start", func=func),
        check_date(end, param="end", func=func),
        func=func,
    )
    covered = data_period(store)
    if covered is None:
        raise InvalidParameterError(
            "The store holds no sales yet: ingest the platforms' order exports first."
        )
    first = first or covered[0]
    last = last or covered[1]
    if "sku_id" in dims and "product" not in dims:
        dims.insert(dims.index("sku_id") + 1, "product")
    if "shop_id" in dims or "shop" in dims:
        # a shop id (and a name: 森屿官方旗舰店 is on five platforms) is one shop per platform
        first_shop = min(dims.index(d) for d in ("shop_id", "shop") if d in dims)
        at = len([d for d in dims[:first_shop] if d != "platform"])
        dims = [d for d in dims if d not in ("platform", "shop_id", "shop")]
        dims[at:at] = ["platform", "shop_id", "shop"]

    filters = {"platform": platform_list, "sku_id": sku_list, "warehouse_id": wh_list,
               "shop_id": shop_list}  # fmt: skip
    current = _query(store, names, dims, filters, cat_list, first, last)
    previous = None
    rows = current
    if compare != "none":
        if compare == "previous_period":
            previous = _previous_period(first, last)
        else:
            previous = (_year_before(first), _year_before(last))
        before = _query(store, names, dims, filters, cat_list, *previous)
        rows = _compare(current, _aligned(before, dims, compare, first - previous[0]), names, dims)
    rows = rows.sort_values(
        [names[0], *dims], ascending=[ascending, *([True] * len(dims))], na_position="last"
    ).reset_index(drop=True)
    total = len(rows)
    if top is not None:
        rows = rows.head(top)
    logger.debug("sales_metrics: %d rows by %s over %s..%s", total, dims, first, last)
    return MetricsResult(
        rows=rows,
        start=first,
        end=last,
        previous=previous,
        platforms=platform_list,
        total_rows=total,
    )


def _query(
    store: Store,
    names: list[str],
    dims: list[str],
    filters: dict[str, list[str] | None],
    categories: list[str] | None,
    first: dt.date,
    last: dt.date,
) -> pd.DataFrame:
    if "orders" in names:  # counted over the order lines, the rest over sales_daily
        others = [m for m in names if m != "orders"]
        counted = _query_source(store, ["orders"], dims, filters, categories, first, last,
                                lines=True)  # fmt: skip
        if not others:
            return counted
        summed = _query_source(store, others, dims, filters, categories, first, last)
        if not dims:
            return summed.assign(orders=counted["orders"].iloc[0]) if len(summed) else summed
        keys = [d for d in dims if d not in _LABELS]
        merged = summed.merge(counted[[*keys, "orders"]], on=keys, how="left")
        return merged[[*dims, *names]]
    return _query_source(store, names, dims, filters, categories, first, last)


def _query_source(
    store: Store,
    names: list[str],
    dims: list[str],
    filters: dict[str, list[str] | None],
    categories: list[str] | None,
    first: dt.date,
    last: dt.date,
    *,
    lines: bool = False,
) -> pd.DataFrame:
    """One query over ``sales_daily``, or (``lines``) over the sold order lines it sums."""
    from features.ingest import sold_lines

    params: list[object] = [first, last]
    source = f"({sold_lines(first, last)})" if lines else "sales_daily"
    where = ["d.day BETWEEN $1 AND $2"]
    for column, values in filters.items():
        if values is not None:
            params.append(values)
            where.append(f"list_contains(${len(params)}, d.{column})")
    if categories is not None:
        params.append(categories)
        where.append(f"list_contains(${len(params)}, p.category)")
    selected = [f"{DIMENSIONS[d][0]} AS {d}" for d in dims]
    measures = [f"{METRICS[m][0]} AS {m}" for m in names]
    group = "GROUP BY ALL" if dims else ""
    query = f"""
        SELECT {", ".join([*selected, *measures])}
        FROM {source} d
        LEFT JOIN skus s ON s.sku_id = d.sku_id
        LEFT JOIN products p ON p.product_id = s.product_id
        LEFT JOIN shops sh ON sh.platform = d.platform AND sh.shop_id = d.shop_id
        WHERE {" AND ".join(where)}
        {group}
    """
    frame = store.sql(query, params).df()
    if not dims and len(frame) and frame[names].isna().all(axis=None):
        frame = frame.iloc[0:0]  # no sale in the period: no row, not a row of NULLs
    for name in names:
        if name not in ("revenue_yuan", "refund_yuan", "avg_price_yuan", "return_rate"):
            frame[name] = frame[name].astype("Int64")
    for dim in ("week", "month", "day"):
        if dim in frame:
            frame[dim] = pd.to_datetime(frame[dim]).dt.date
    return frame


_TIME_DIMS = ("week", "month", "day")


def _aligned(
    before: pd.DataFrame, dims: list[str], compare: str, shift: dt.timedelta
) -> pd.DataFrame:
    """The previous period's rows with their week/month/day moved onto the current period's,
    so a weekly comparison pairs each week with the one ``shift`` earlier."""
    before = before.copy()
    for dim in (d for d in dims if d in _TIME_DIMS):
        if compare == "previous_year":
            before[dim] = [_year_after(d) for d in before[dim]]
        elif dim == "month":
            before[dim] = [_month_after(d, shift) for d in before[dim]]
        else:
            before[dim] = [d + shift for d in before[dim]]
    return before


def _previous_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before ``first``..``last``: as many whole calendar months when it is
    whole months (November against all of October, a quarter against the one before), else
    as many days."""
    if first.day == 1 and (last + dt.timedelta(days=1)).day == 1:
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        back = first.year * 12 + first.month - 1 - months
        return dt.date(back // 12, back % 12 + 1, 1), first - dt.timedelta(days=1)
    days = (last - first).days + 1
    return first - dt.timedelta(days=days), first - dt.timedelta(days=1)


def _year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _month_after(first: dt.date, shift: dt.timedelta) -> dt.date:
    """The first of the month that ``shift`` (about a whole number of months) later starts."""
    moved = first + shift + dt.timedelta(days=15)
    return moved.replace(day=1)


def _compare(
    current: pd.DataFrame, before: pd.DataFrame, names: list[str], dims: list[str]
) -> pd.DataFrame:
    """``current`` with each metric's previous figure and relative change."""
    keys = [d for d in dims if d not in _LABELS]
    renamed = before.rename(columns={m: f"{m}_previous" for m in names})
    if keys:
        merged = current.merge(renamed[[*keys, *renamed.columns.difference(current.columns)]],
                               on=keys, how="left")  # fmt: skip
    else:
        merged = current.copy()
        for m in names:
            merged[f"{m}_previous"] = renamed[f"{m}_previous"].iloc[0] if len(renamed) else 0
    for m in names:
        prev = pd.to_numeric(merged[f"{m}_previous"], errors="coerce").astype(float).fillna(0.0)
        now = pd.to_numeric(merged[m], errors="coerce").astype(float)
        merged[f"{m}_previous"] = prev
        merged[f"{m}_change"] = (now - prev) / prev.where(prev != 0)
    return merged


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _names(value: Iterable[str] | str, known: dict, param: str, func: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    unknown = [v for v in items if v not in known]
    if unknown:
        raise InvalidParameterError(
            f"The `{param}` parameter of `{func}` must use {', '.join(known)}. "
            f"Got {unknown} instead."
        )
    return list(dict.fromkeys(items))


def _categories(store: Store, value: Iterable[str] | str | None, func: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    known = {r[0] for r in store.sql("SELECT DISTINCT category FROM products").fetchall()}
    unknown = [c for c in items if c not in known]
    if unknown or not items:
        raise InvalidParameterError(
            f"The `categories` parameter of `{func}` names categories the store does not "
            f"know: {unknown or 'none given'}. Known: {', '.join(sorted(map(str, known)))}."
        )
    return items
