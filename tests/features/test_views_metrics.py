"""The semantic layer over ``sales_daily``, on a handful of rows written by hand.

Every expected figure below is added up by hand from :data:`ROWS` (the comments say which
rows), not recomputed with the view's own SQL.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from features.errors import UnknownEntityError, UnknownPlatformError
from features.ingest import refresh_sales_daily
from features.store import Store
from features.views import InvalidParameterError, data_coverage, data_period, sales_metrics

D = dt.date

COLUMNS = [
    "day",
    "platform",
    "shop_id",
    "sku_id",
    "warehouse_id",
    "orders",
    "units",
    "returned_units",
    "gross_fen",
    "refund_fen",
]
ROWS = [
    # r0-r1: the week before (Mon 12-01 .. Sun 12-07)
    (D(2025, 12, 1), "tmall", "s1", "A1", "WH1", 2, 3, 0, 3000, 0),
    (D(2025, 12, 7), "jd", "s2", "A2", "WH2", 1, 1, 1, 1500, 1500),
    # r2-r4: the week asked about most (Mon 12-08 .. Sun 12-14)
    (D(2025, 12, 8), "tmall", "s1", "A1", "WH1", 1, 2, 0, 2000, 0),
    (D(2025, 12, 10), "douyin", "s3", "B1", "", 4, 5, 0, 10000, 0),  # names no warehouse
    (D(2025, 12, 14), "tmall", "s1", "B1", "WH1", 1, 1, 0, 2500, 0),
    # r5-r6: the weeks after
    (D(2025, 12, 15), "jd", "s2", "A1", "WH2", 3, 4, 1, 4000, 1000),
    (D(2025, 12, 22), "tmall", "s1", "A1", "WH1", 1, 8, 0, 8000, 0),
    # r7: a year before the main week
    (D(2024, 12, 10), "tmall", "s1", "A1", "WH1", 1, 2, 0, 1800, 0),
]
WEEK = {"start": D(2025, 12, 8), "end": D(2025, 12, 14)}


@pytest.fixture
def store():
    """An in-memory store holding :data:`ROWS` and their master data (overrides conftest)."""
    s = Store.in_memory()
    s.upsert(
        "products",
        pd.DataFrame(
            {
                "product_id": ["P1", "P2"],
                "name": ["燕麦面霜", "玫瑰水"],
                "category": ["面霜", "爽肤水"],
            }
        ),
    )
    s.upsert("skus", pd.DataFrame({"sku_id": ["A1", "A2", "B1"], "product_id": ["P1", "P1", "P2"]}))
    s.upsert(
        "warehouses", pd.DataFrame({"warehouse_id": ["WH1", "WH2"], "name": ["一号仓", "二号仓"]})
    )
    s.upsert("order_lines", order_lines(ROWS))
    for platform in {row[1] for row in ROWS}:
        refresh_sales_daily(s, platform, min(r[0] for r in ROWS), max(r[0] for r in ROWS))
    yield s
    s.close()


def order_lines(rows) -> pd.DataFrame:
    """Order lines that ``sales_daily`` sums to ``rows``: each row's orders, one line each,
    at noon Beijing time; the first line takes the units, money and returns the others
    (one unit each) leave."""
    lines = []
    for day, platform, shop, sku, wh, orders, units, returned, gross, refund in rows:
        each = gross // units
        for k in range(orders):
            first = k == 0
            qty = units - (orders - 1) if first else 1
            lines.append({
                "platform": platform, "order_id": f"{platform}-{day}-{sku}-{k}", "line_id": "1",
                "shop_id": shop, "sku_id": sku, "quantity": qty, "unit_price_fen": each,
                "paid_fen": gross - each * (orders - 1) if first else each, "status": "paid",
                "refund_fen": refund if first else 0, "returned_qty": returned if first else 0,
                "created_at": pd.Timestamp(day) + pd.Timedelta(hours=4),
                "warehouse_id": wh or None, "source_file": "orders.csv",
            })  # fmt: skip
    return pd.DataFrame(lines)


def only_row(result) -> dict:
    assert len(result.rows) == 1
    return result.rows.to_dict("records")[0]  # per column, so NaN stays NaN


def by_key(result, key: str) -> dict:
    return {row[key]: row for row in result.rows.to_dict("records")}


# -- totals and exact days -----------------------------------------------------------------


def test_totals_over_a_week(store):
    result = sales_metrics(
        store,
        metrics=["units", "revenue_yuan", "orders", "refund_yuan", "returned_units", "net_units"],
        **WEEK,
    )
    row = only_row(result)  # r2 + r3 + r4
    assert row["units"] == 2 + 5 + 1
    assert row["revenue_yuan"] == pytest.approx((2000 + 10000 + 2500) / 100)
    assert row["orders"] == 1 + 4 + 1
    assert row["refund_yuan"] == 0
    assert row["returned_units"] == 0
    assert row["net_units"] == 8
    assert (result.start, result.end) == (WEEK["start"], WEEK["end"])
    assert result.previous is None and result.platforms is None and result.total_rows == 1


def test_revenue_and_refunds_are_in_yuan(store):
    row = only_row(
        sales_metrics(
            store,
            metrics=["revenue_yuan", "refund_yuan", "net_units"],
            start="2025-12-07",
            end="2025-12-07",
        )
    )  # r1 alone: 1500 fen paid, all refunded, its one unit returned
    assert row["revenue_yuan"] == pytest.approx(15.0)
    assert row["refund_yuan"] == pytest.approx(15.0)
    assert row["net_units"] == 0


def test_days_are_exact_not_widened_to_weeks(store):
    # Mon 12-08 .. Wed 12-10: r2 + r3 only; a whole week would add r4 (Sun 12-14)
    row = only_row(sales_metrics(store, metrics="units", start="2025-12-08", end="2025-12-10"))
    assert row["units"] == 2 + 5
    # Tue 12-09 .. Sun 12-14: r3 + r4; Monday's r2 stays out
    row = only_row(sales_metrics(store, metrics="units", start="2025-12-09", end="2025-12-14"))
    assert row["units"] == 5 + 1


def test_start_and_end_are_inclusive(store):
    row = only_row(sales_metrics(store, metrics="units", start=D(2025, 12, 7), end=D(2025, 12, 8)))
    assert row["units"] == 1 + 2  # r1 on the first day, r2 on the last


def test_defaults_cover_every_day_with_sales(store):
    result = sales_metrics(store, metrics="units")
    assert (result.start, result.end) == (D(2024, 12, 10), D(2025, 12, 22))
    assert only_row(result)["units"] == sum(r[6] for r in ROWS)
    assert data_period(store) == (D(2024, 12, 10), D(2025, 12, 22))


def test_an_order_holding_two_skus_is_one_order_in_a_total_and_one_per_sku(store):
    day = D(2025, 12, 9)
    basket = pd.DataFrame([
        {"platform": "tmall", "order_id": "basket", "line_id": str(i), "shop_id": "s1",
         "sku_id": sku, "quantity": 1, "unit_price_fen": 100, "paid_fen": 100, "status": "paid",
         "created_at": pd.Timestamp(day) + pd.Timedelta(hours=4), "warehouse_id": "WH1",
         "source_file": "orders.csv"} for i, sku in enumerate(["A1", "B1"])
    ])  # fmt: skip
    store.upsert("order_lines", basket)
    refresh_sales_daily(store, "tmall", day, day)
    total = only_row(sales_metrics(store, metrics=["orders", "units"], **WEEK))
    assert total["orders"] == 1 + 4 + 1 + 1 and total["units"] == 2 + 5 + 1 + 2
    per_sku = by_key(sales_metrics(store, metrics=["units", "orders"], by="sku_id", **WEEK),
                     "sku_id")  # fmt: skip
    assert per_sku["A1"]["orders"] == 1 + 1 and per_sku["B1"]["orders"] == 4 + 1 + 1
    assert per_sku["A1"]["product"] == "燕麦面霜"  # the order count joins the other columns
    by_platform = by_key(sales_metrics(store, metrics="orders", by="platform", **WEEK), "platform")
    assert by_platform["tmall"]["orders"] == 1 + 1 + 1 and by_platform["douyin"]["orders"] == 4


def test_shops_of_one_name_on_two_platforms_are_two_shops_with_their_names(store):
    # the same shop id on JD as on Tmall (a name both exports use as the id): two shops
    day = D(2025, 12, 9)
    store.upsert("shops", pd.DataFrame({"platform": ["tmall", "douyin"], "shop_id": ["s1", "s3"],
                                        "shop_name": ["官方旗舰店", "直播间"]}))  # fmt: skip
    store.upsert("order_lines", order_lines([(day, "jd", "s1", "A1", "WH2", 1, 6, 0, 600, 0)]))
    refresh_sales_daily(store, "jd", day, day)
    result = sales_metrics(store, metrics=["units", "orders"], by="shop_id", **WEEK)
    rows = result.rows.to_dict("records")
    assert [(r["platform"], r["shop_id"], r["shop"], r["units"], r["orders"]) for r in rows] == [
        ("jd", "s1", "s1", 6, 1),  # no name declared: the id
        ("douyin", "s3", "直播间", 5, 4),
        ("tmall", "s1", "官方旗舰店", 3, 2),
    ]
    one = sales_metrics(store, metrics="units", platforms="tmall", shops="s1", **WEEK)
    assert only_row(one)["units"] == 3
    with pytest.raises(UnknownEntityError, match="s9"):
        sales_metrics(store, shops="s9")
    by_name = sales_metrics(store, metrics="units", by=["shop", "week"], **WEEK)
    assert list(by_name.rows.columns[:4]) == ["platform", "shop_id", "shop", "week"]
    assert len(by_name.rows) == 3


def test_coverage_gives_each_platforms_last_sales_day_newest_first(store):
    store.upsert("inventory_snapshots", pd.DataFrame({
        "snapshot_date": [D(2025, 12, 20)], "warehouse_id": ["WH1"], "sku_id": ["A1"],
        "on_hand": [3], "reserved": [0], "source_file": ["stock.xlsx"],
    }))  # fmt: skip
    coverage = data_coverage(store)
    assert coverage.sales == (D(2024, 12, 10), D(2025, 12, 22))
    assert coverage.sales_by_platform == {
        "tmall": D(2025, 12, 22), "jd": D(2025, 12, 15), "douyin": D(2025, 12, 10),
    }  # fmt: skip
    assert list(coverage.sales_by_platform) == ["tmall", "jd", "douyin"]
    assert coverage.stock == D(2025, 12, 20)
    assert (coverage.chats, coverage.members, coverage.last_ingest) == (None, None, None)


def test_no_sales_in_the_period_gives_no_rows(store):
    total = sales_metrics(store, start="2025-06-01", end="2025-06-30")
    assert total.rows.empty and total.total_rows == 0
    grouped = sales_metrics(store, by="platform", start="2025-06-01", end="2025-06-30")
    assert grouped.rows.empty


# -- grouping ------------------------------------------------------------------------------


def test_by_sku_adds_the_product_name(store):
    result = sales_metrics(
        store, metrics=["units", "revenue_yuan", "avg_price_yuan"], by="sku_id", **WEEK
    )
    assert list(result.rows.columns[:3]) == ["sku_id", "product", "units"]
    rows = by_key(result, "sku_id")
    assert set(rows) == {"A1", "B1"}  # A2 did not sell that week
    assert (rows["A1"]["product"], rows["A1"]["units"]) == ("燕麦面霜", 2)  # r2
    assert rows["A1"]["revenue_yuan"] == pytest.approx(20.0)
    assert rows["A1"]["avg_price_yuan"] == pytest.approx(10.0)
    assert (rows["B1"]["product"], rows["B1"]["units"]) == ("玫瑰水", 6)  # r3 + r4
    assert rows["B1"]["revenue_yuan"] == pytest.approx(125.0)
    assert rows["B1"]["avg_price_yuan"] == pytest.approx(12500 / 6 / 100)
    assert list(result.rows["sku_id"]) == ["B1", "A1"]  # most units first


def test_by_platform(store):
    result = sales_metrics(store, by="platform", **WEEK)
    assert list(result.rows["platform"]) == ["douyin", "tmall"]
    rows = by_key(result, "platform")
    assert (rows["douyin"]["units"], rows["douyin"]["revenue_yuan"]) == (5, 100.0)  # r3
    assert (rows["tmall"]["units"], rows["tmall"]["revenue_yuan"]) == (3, 45.0)  # r2 + r4


def test_by_category_and_week(store):
    result = sales_metrics(
        store, metrics="units", by=["week", "category"], start="2025-12-01", end="2025-12-14"
    )
    got = {(r["week"], r["category"]): r["units"] for r in result.rows.to_dict("records")}
    assert got == {
        (D(2025, 12, 1), "面霜"): 3 + 1,  # r0 + r1
        (D(2025, 12, 8), "面霜"): 2,  # r2
        (D(2025, 12, 8), "爽肤水"): 5 + 1,  # r3 + r4
    }


def test_by_warehouse_keeps_the_empty_warehouse(store):
    rows = by_key(sales_metrics(store, metrics="units", by="warehouse_id", **WEEK), "warehouse_id")
    assert {k: v["units"] for k, v in rows.items()} == {"WH1": 3, "": 5}


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("platforms", ["天猫", "淘宝", "Tmall", "tmall", ["天猫"]])
def test_platform_filter_by_any_name(store, platforms):
    result = sales_metrics(store, metrics="units", platforms=platforms, **WEEK)
    assert only_row(result)["units"] == 3  # r2 + r4
    assert result.platforms == ["tmall"]


def test_several_platforms(store):
    result = sales_metrics(
        store, metrics="units", platforms=["京东", "抖音"], start="2025-12-01", end="2025-12-14"
    )
    assert only_row(result)["units"] == 1 + 5  # r1 + r3
    assert result.platforms == ["douyin", "jd"]


def test_sku_filter(store):
    assert only_row(sales_metrics(store, metrics="units", skus="A1", **WEEK))["units"] == 2
    row = only_row(sales_metrics(store, metrics="units", skus=["A1", "B1"], **WEEK))
    assert row["units"] == 8


def test_category_filter(store):
    row = only_row(
        sales_metrics(
            store, metrics="units", categories="面霜", start="2025-12-01", end="2025-12-14"
        )
    )
    assert row["units"] == 3 + 1 + 2  # r0 + r1 + r2 (A1, A2); B1 is 爽肤水


def test_warehouse_filter_leaves_out_sales_without_a_warehouse(store):
    row = only_row(sales_metrics(store, metrics="units", warehouses="WH1", **WEEK))
    assert row["units"] == 2 + 1  # r2 + r4; douyin's r3 names no warehouse


def test_filters_combine(store):
    result = sales_metrics(store, metrics="units", platforms="tmall", skus="B1", **WEEK)
    assert only_row(result)["units"] == 1  # r4


def test_filters_that_match_nothing_give_no_rows(store):
    result = sales_metrics(store, metrics="units", platforms="快手", **WEEK)
    assert result.rows.empty


# -- comparisons ---------------------------------------------------------------------------


def test_compare_with_the_previous_period(store):
    result = sales_metrics(store, compare="previous_period", **WEEK)
    assert result.previous == (D(2025, 12, 1), D(2025, 12, 7))
    row = only_row(result)
    assert row["units_previous"] == 3 + 1  # r0 + r1
    assert row["revenue_yuan_previous"] == pytest.approx(45.0)
    assert row["units_change"] == pytest.approx((8 - 4) / 4)
    assert row["revenue_yuan_change"] == pytest.approx((145 - 45) / 45)


def test_previous_period_has_the_same_number_of_days(store):
    result = sales_metrics(store, compare="previous_period", start="2025-12-08", end="2025-12-10")
    assert result.previous == (D(2025, 12, 5), D(2025, 12, 7))
    assert only_row(result)["units_previous"] == 1  # r1


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        ("2025-11-01", "2025-11-30", (D(2025, 10, 1), D(2025, 10, 31))),  # not 10-02..10-31
        ("2025-03-01", "2025-03-31", (D(2025, 2, 1), D(2025, 2, 28))),
        ("2025-10-01", "2025-12-31", (D(2025, 7, 1), D(2025, 9, 30))),  # a quarter
        ("2025-01-01", "2025-01-31", (D(2024, 12, 1), D(2024, 12, 31))),
        ("2025-11-01", "2025-11-29", (D(2025, 10, 3), D(2025, 10, 31))),  # not a whole month
    ],
)
def test_previous_period_of_whole_months_is_the_whole_months_before(store, start, end, previous):
    result = sales_metrics(store, metrics="units", start=start, end=end, compare="previous_period")
    assert result.previous == previous


def test_month_over_month_by_month_pairs_each_month_with_the_one_before(store):
    result = sales_metrics(store, metrics="units", by="month", start="2025-12-01",
                           end="2025-12-31", compare="previous_period")  # fmt: skip
    assert result.previous == (D(2025, 11, 1), D(2025, 11, 30))
    (row,) = result.rows.to_dict("records")
    assert row["month"] == D(2025, 12, 1) and row["units_previous"] == 0  # no November sales


def test_compare_with_the_previous_year(store):
    result = sales_metrics(store, metrics="units", compare="previous_year", **WEEK)
    assert result.previous == (D(2024, 12, 8), D(2024, 12, 14))
    row = only_row(result)
    assert row["units_previous"] == 2  # r7
    assert row["units_change"] == pytest.approx((8 - 2) / 2)


def test_previous_year_of_29_february(store):
    result = sales_metrics(
        store, metrics="units", compare="previous_year", start="2024-02-29", end="2025-12-14"
    )
    assert result.previous == (D(2023, 2, 28), D(2024, 12, 14))


def test_compare_per_platform_and_nan_change_from_zero(store):
    result = sales_metrics(store, by="platform", compare="previous_period", **WEEK)
    rows = by_key(result, "platform")
    assert set(rows) == {"douyin", "tmall"}  # jd sold only in the previous week
    assert rows["tmall"]["units_previous"] == 3  # r0
    assert rows["tmall"]["units_change"] == pytest.approx(0.0)
    assert rows["tmall"]["revenue_yuan_change"] == pytest.approx((45 - 30) / 30)
    assert rows["douyin"]["units_previous"] == 0  # douyin did not sell the week before
    assert math.isnan(rows["douyin"]["units_change"])


def test_compare_when_nothing_sold_before(store):
    result = sales_metrics(
        store, metrics="units", compare="previous_year", start="2025-12-15", end="2025-12-21"
    )
    row = only_row(result)  # r5; nothing a year earlier
    assert row["units"] == 4 and row["units_previous"] == 0
    assert math.isnan(row["units_change"])


def test_compare_by_week_aligns_each_week_with_its_own_previous_week(store):
    # weeks 12-15 (r5: 4) and 12-22 (r6: 8) against 12-01 (r0+r1: 4) and 12-08 (r2-r4: 8)
    result = sales_metrics(
        store,
        metrics="units",
        by="week",
        compare="previous_period",
        start="2025-12-15",
        end="2025-12-28",
    )
    got = {r["week"]: r["units_previous"] for r in result.rows.to_dict("records")}
    assert got == {D(2025, 12, 15): 4, D(2025, 12, 22): 8}


def test_compare_by_week_and_platform_does_not_repeat_rows(store):
    kwargs = {"metrics": "units", "by": ["week", "platform"]}
    period = {"start": "2025-12-15", "end": "2025-12-28"}
    plain = sales_metrics(store, **kwargs, **period)
    compared = sales_metrics(store, **kwargs, **period, compare="previous_period")
    assert len(plain.rows) == 2  # jd in week 12-15 (r5), tmall in week 12-22 (r6)
    assert len(compared.rows) == len(plain.rows)


# -- top and order -------------------------------------------------------------------------


def test_top_keeps_the_best_and_counts_all(store):
    result = sales_metrics(store, metrics="units", by="sku_id", top=1, **WEEK)
    assert list(result.rows["sku_id"]) == ["B1"]
    assert result.total_rows == 2


def test_ascending_puts_the_worst_first(store):
    result = sales_metrics(store, metrics="units", by="sku_id", top=1, ascending=True, **WEEK)
    assert list(result.rows["sku_id"]) == ["A1"]


def test_rows_are_ordered_by_the_first_metric(store):
    # by units douyin would lead; by refunds over 12-01..12-15 jd does (r1 + r5)
    result = sales_metrics(
        store, metrics=["refund_yuan", "units"], by="platform", start="2025-12-01", end="2025-12-15"
    )
    assert result.rows["platform"].iloc[0] == "jd"
    assert result.rows["refund_yuan"].iloc[0] == pytest.approx((1500 + 1000) / 100)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metrics": "profit"},
        {"metrics": []},
        {"by": "colour"},
        {"categories": "不存在的品类"},
        {"start": "2025-12-14", "end": "2025-12-08"},
        {"start": "not a date"},
        {"top": 0},
        {"top": -3},
        {"top": True},
        {"compare": "last_decade"},
    ],
)
def test_invalid_parameters(store, kwargs):
    with pytest.raises(InvalidParameterError):
        sales_metrics(store, **kwargs)


def test_unknown_metric_message_names_the_known_ones(store):
    with pytest.raises(InvalidParameterError, match="revenue_yuan"):
        sales_metrics(store, metrics="profit")


def test_start_after_end_says_swap(store):
    with pytest.raises(InvalidParameterError, match="swap"):
        sales_metrics(store, start="2025-12-14", end="2025-12-08")


@pytest.mark.parametrize("platforms", ["amazon", ["天猫", "ebay"]])
def test_unknown_platform(store, platforms):
    with pytest.raises(UnknownPlatformError, match="amazon|ebay"):
        sales_metrics(store, platforms=platforms)


def test_unknown_sku(store):
    with pytest.raises(UnknownEntityError, match="ZZ9"):
        sales_metrics(store, skus=["A1", "ZZ9"])


def test_unknown_warehouse(store):
    with pytest.raises(UnknownEntityError, match="WH9"):
        sales_metrics(store, warehouses="WH9")


def test_store_without_sales():
    empty = Store.in_memory()
    try:
        assert data_period(empty) is None
        assert data_coverage(empty).sales is None and data_coverage(empty).sales_by_platform == {}
        with pytest.raises(InvalidParameterError, match="no sales"):
            sales_metrics(empty)
    finally:
        empty.close()
