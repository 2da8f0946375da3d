"""Views over a small store whose answers are known by construction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.errors import StoreError, UnknownEntityError, UnknownPlatformError
from features.ingest import refresh_sales_daily
from features.schema.vocab import OrderStatus
from features.store import Store
from features.views import (
    InvalidParameterError,
    StockRisk,
    delisted_skus,
    hot_items,
    oversell_risk,
    sales_weekly,
    stock_position,
)

D = dt.date
T = dt.datetime


# -- builders ------------------------------------------------------------------------------


def add_listings(store: Store, rows: list[tuple], *, updated_at: dt.datetime | None = None) -> None:
    """rows: (platform, sku_id, listed) or (platform, sku_id, listed, platform_stock);
    ``updated_at`` defaults to 2024-06-01."""
    store.upsert(
        "listings",
        pd.DataFrame(
            [
                {
                    "platform": row[0],
                    "shop_id": "shop1",
                    "platform_sku_id": f"{row[0]}-{row[1]}",
                    "sku_id": row[1],
                    "listed": row[2],
                    "platform_stock": row[3] if len(row) > 3 else None,
                    "updated_at": updated_at or T(2024, 6, 1),
                    "source_file": "l.csv",
                }
                for row in rows
            ]
        ),
    )


def add_catalog(store: Store, skus: dict[str, tuple[str, str]]) -> None:
    """skus: sku_id -> (product_id, category); each product is named after itself."""
    frame = pd.DataFrame(
        [{"sku_id": s, "product_id": p, "category": c} for s, (p, c) in skus.items()]
    )
    products = frame.drop_duplicates("product_id").assign(name=lambda f: "name-" + f.product_id)
    store.upsert("products", products[["product_id", "name", "category"]])
    store.upsert("skus", frame[["sku_id", "product_id"]])


def add_lines(store: Store, lines: list[dict]) -> pd.DataFrame:
    """Insert order lines (defaults filled in) and rebuild ``sales_daily`` around them."""
    rows = []
    for i, line in enumerate(lines):
        qty = line.get("quantity", 1)
        price = line.get("unit_price_fen", 1000)
        rows.append(
            {
                "platform": "tmall",
                "order_id": f"O{i}",
                "line_id": "1",
                "shop_id": "shop1",
                "status": OrderStatus.PAID.value,
                "quantity": qty,
                "unit_price_fen": price,
                "paid_fen": qty * price,
                "refund_fen": 0,
                "returned_qty": 0,
                "warehouse_id": None,
                "source_file": "test.csv",
                **line,
            }
        )
    frame = pd.DataFrame(rows)
    store.upsert("order_lines", frame)
    for platform in frame["platform"].unique():
        refresh_sales_daily(store, platform, D(2000, 1, 1), D(2100, 1, 1))
    return frame


# -- sales_weekly --------------------------------------------------------------------------


PLATFORMS = ["tmall", "jd", "douyin"]
CATALOG = {
    "A1": ("PA", "tea"),
    "A2": ("PA", "tea"),
    "B1": ("PB", "cups"),
    "C1": ("PC", "cups"),
}
STATUSES = [s.value for s in OrderStatus]


def random_lines(seed: int, n: int = 400) -> list[dict]:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-01")
    lines = []
    for i in range(n):
        qty = int(rng.integers(1, 6))
        returned = int(rng.integers(0, qty + 1)) if rng.random() < 0.2 else 0
        price = int(rng.integers(100, 5000))
        lines.append(
            {
                "order_id": f"R{i // 2}",  # two lines per order
                "line_id": str(i % 2),
                "platform": str(rng.choice(PLATFORMS)),
                "shop_id": str(rng.choice(["s1", "s2"])),
                "sku_id": None if rng.random() < 0.05 else str(rng.choice(list(CATALOG))),
                "warehouse_id": str(rng.choice(["W1", "W2"])) if rng.random() < 0.7 else None,
                "status": str(rng.choice(STATUSES)),
                "quantity": qty,
                "returned_qty": returned,
                "unit_price_fen": price,
                "refund_fen": int(returned * price),
                "created_at": start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 70))),
            }
        )
    return lines


def oracle_weekly(lines: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The slow obvious weekly sales, straight from order lines."""
    sold = [s.value for s in OrderStatus.sold()]
    f = lines[lines["status"].isin(sold) & lines["sku_id"].notna()].copy()
    f["day"] = (f["created_at"] + pd.Timedelta(hours=8)).dt.normalize()
    f["week"] = f["day"] - pd.to_timedelta(f["day"].dt.weekday, unit="D")
    f["warehouse_id"] = f["warehouse_id"].fillna("")
    f["product_id"] = f["sku_id"].map(lambda s: CATALOG[s][0])
    f["category"] = f["sku_id"].map(lambda s: CATALOG[s][1])
    # an order counts once per day x platform x shop x SKU x warehouse, as in sales_daily
    parts = ["day", "platform", "order_id", "shop_id", "sku_id", "warehouse_id"]
    f["order_key"] = f[parts].astype(str).agg("|".join, axis=1)
    keys = ["week", *by]
    out = f.groupby(keys, dropna=False).agg(
        units=("quantity", "sum"),
        returned_units=("returned_qty", "sum"),
        orders=("order_key", "nunique"),
        gross_fen=("paid_fen", "sum"),
        refund_fen=("refund_fen", "sum"),
    )
    out["net_units"] = out["units"] - out["returned_units"]
    out["avg_price_fen"] = (out["gross_fen"] / out["units"]).round()
    return out.reset_index()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "by",
    [
        ["sku_id", "platform"],
        ["category"],
        ["product_id", "platform", "shop_id"],
        ["warehouse_id"],
        [],
    ],
)
def test_sales_weekly_matches_pandas_oracle(seed, by):
    store = Store.in_memory()
    add_catalog(store, CATALOG)
    lines = add_lines(store, random_lines(seed))

    got = sales_weekly(store, by=by)
    want = oracle_weekly(lines, by)

    keys = ["week", *by]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    assert list(got.columns) == [
        "week",
        *by,
        "units",
        "returned_units",
        "net_units",
        "orders",
        "gross_fen",
        "refund_fen",
        "avg_price_fen",
    ]
    assert len(got) == len(want)
    assert (got["week"].dt.weekday == 0).all()
    for col in keys:
        assert got[col].tolist() == want[col].tolist(), col
    for col in ["units", "returned_units", "net_units", "orders", "gross_fen", "refund_fen"]:
        assert got[col].tolist() == want[col].tolist(), col
    np.testing.assert_allclose(got["avg_price_fen"], want["avg_price_fen"], atol=1)


def test_sales_weekly_filters_match_oracle():
    store = Store.in_memory()
    add_catalog(store, CATALOG)
    lines = add_lines(store, random_lines(3))

    got = sales_weekly(
        store, platforms=["jd", "douyin"], skus=["A1", "B1"], start="2024-03-20", end="2024-04-10"
    )

    sub = lines[lines["platform"].isin(["jd", "douyin"]) & lines["sku_id"].isin(["A1", "B1"])]
    want = oracle_weekly(sub, ["sku_id", "platform"])
    # the period widens to whole weeks: Monday 2024-03-18 .. Sunday 2024-04-14
    want = want[(want["week"] >= "2024-03-18") & (want["week"] <= "2024-04-08")]
    assert got["week"].min() == pd.Timestamp("2024-03-18")
    assert got["week"].max() == pd.Timestamp("2024-04-08")
    assert got["units"].sum() == want["units"].sum()
    assert got["gross_fen"].sum() == want["gross_fen"].sum()
    assert set(got["platform"]) == {"jd", "douyin"}
    assert set(got["sku_id"]) == {"A1", "B1"}


def test_week_boundary_is_monday_in_shanghai():
    store = Store.in_memory()
    add_catalog(store, {"A1": ("PA", "tea")})
    add_lines(
        store,
        [
            # Sunday 2024-03-10 23:30 in Beijing: still the week of Monday 2024-03-04
            {"sku_id": "A1", "created_at": T(2024, 3, 10, 15, 30), "quantity": 2},
            # Monday 2024-03-11 00:30 in Beijing: the next week
            {"sku_id": "A1", "created_at": T(2024, 3, 10, 16, 30), "quantity": 5},
        ],
    )

    got = sales_weekly(store, by=["sku_id"])

    assert got["week"].tolist() == [pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-11")]
    assert got["units"].tolist() == [2, 5]


def test_sales_weekly_does_not_invent_empty_weeks():
    store = Store.in_memory()
    add_catalog(store, {"A1": ("PA", "tea")})
    add_lines(
        store,
        [
            {"sku_id": "A1", "created_at": T(2024, 3, 5, 4)},
            {"sku_id": "A1", "created_at": T(2024, 3, 26, 4)},
        ],
    )
    got = sales_weekly(store)
    assert got["week"].tolist() == [pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-25")]


def test_sales_weekly_accepts_platform_names():
    store = Store.in_memory()
    add_catalog(store, {"A1": ("PA", "tea")})
    add_lines(store, [{"sku_id": "A1", "created_at": T(2024, 3, 5, 4)}])
    assert len(sales_weekly(store, platforms="天猫")) == 1
    assert len(sales_weekly(store, platforms=["JD"])) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"platforms": ["tmall", "amazon"]}, UnknownPlatformError, "amazon"),
        ({"platforms": []}, InvalidParameterError, "at least one platform"),
        ({"skus": ["A1", "NOPE"]}, UnknownEntityError, "NOPE"),
        ({"start": "2024-05-01", "end": "2024-04-01"}, InvalidParameterError, "swap them"),
        ({"start": "not a date"}, InvalidParameterError, "must be a date"),
        ({"by": ["sku_id", "colour"]}, InvalidParameterError, "colour"),
        ({"by": ["shop_id"]}, InvalidParameterError, "Add 'platform'"),
    ],
)
def test_sales_weekly_rejects_bad_parameters(kwargs, error, match):
    store = Store.in_memory()
    add_catalog(store, {"A1": ("PA", "tea")})
    with pytest.raises(error, match=match):
        sales_weekly(store, **kwargs)


@pytest.mark.parametrize("text", ["2024-06-18", " 2024/6/18 ", "2024.06.18", "2024年6月18日"])
def test_a_date_parameter_reads_a_day_written_out(text):
    from features.views._params import check_date

    assert check_date(text, param="start", func="f") == dt.date(2024, 6, 18)


@pytest.mark.parametrize(
    "text", ["2024年6月31日", "2024-13-01", "Tuesday", "", "11/12/2025", "30.12.2025"]
)
def test_a_date_parameter_that_is_not_a_day_names_the_formats(text):
    from features.views._params import check_date

    with pytest.raises(
        InvalidParameterError, match="'2024-06-18' .also 2024/06/18 or 2024年6月18日"
    ):
        check_date(text, param="start", func="f")


# -- stock_position ------------------------------------------------------------------------


def stock_store() -> Store:
    store = Store.in_memory()
    add_catalog(store, {"A1": ("PA", "tea"), "B1": ("PB", "cups"), "C1": ("PC", "cups")})
    store.upsert(
        "warehouses",
        pd.DataFrame({"warehouse_id": ["W1", "W2", "W3"], "name": ["one", "two", "three"]}),
    )
    snap = [
        (D(2024, 6, 1), "W1", "A1", 100, 10),
        (D(2024, 6, 10), "W1", "A1", 60, 5),  # the latest on or before 2024-06-15
        (D(2024, 6, 20), "W1", "A1", 999, 0),  # after as_of: ignored
        (D(2024, 6, 10), "W2", "A1", 7, 9),  # over-reserved: available -2
        (D(2024, 6, 5), "W1", "B1", 30, 0),
    ]
    store.upsert(
        "inventory_snapshots",
        pd.DataFrame(
            snap, columns=["snapshot_date", "warehouse_id", "sku_id", "on_hand", "reserved"]
        ).assign(source_file="erp.csv"),
    )
    po = [
        # po, line, sku, wh, ordered, received, ordered_on, expected_on, status
        ("P1", 1, "A1", "W1", 50, 20, D(2024, 6, 1), D(2024, 6, 20), "in_transit"),
        ("P2", 1, "A1", "W1", 40, 0, D(2024, 6, 12), D(2024, 6, 25), "open"),
        ("P3", 1, "A1", "W1", 70, 70, D(2024, 6, 1), D(2024, 6, 8), "received"),
        ("P4", 1, "A1", "W1", 80, 0, D(2024, 6, 1), D(2024, 6, 9), "cancelled"),
        ("P5", 1, "A1", "W1", 90, 0, D(2024, 6, 16), D(2024, 6, 30), "open"),  # after as_of
        ("P6", 1, "C1", "W3", 25, 0, D(2024, 6, 2), D(2024, 6, 18), "open"),  # no snapshot
    ]
    cols = [
        "po_id",
        "line_no",
        "sku_id",
        "warehouse_id",
        "qty_ordered",
        "qty_received",
        "ordered_on",
        "expected_on",
        "status",
    ]
    store.upsert("purchase_orders", pd.DataFrame(po, columns=cols).assign(source_file="po.csv"))
    # A1 from W1: 4 units a day on 2024-04-21..2024-06-15 (56 days) except 12 a day in the
    # last 28 days; a sale without warehouse and one after as_of count nowhere
    lines = []
    for k in range(56):
        day = D(2024, 6, 15) - dt.timedelta(days=k)
        qty = 12 if k < 28 else 4
        lines.append(
            {
                "sku_id": "A1",
                "warehouse_id": "W1",
                "quantity": qty,
                "created_at": T(day.year, day.month, day.day, 2),
            }
        )
    lines.append(
        {"sku_id": "A1", "warehouse_id": None, "quantity": 500, "created_at": T(2024, 6, 14, 2)}
    )
    lines.append(
        {"sku_id": "A1", "warehouse_id": "W1", "quantity": 500, "created_at": T(2024, 6, 16, 2)}
    )
    add_lines(store, lines)
    return store


def test_stock_position_arithmetic():
    store = stock_store()

    got = stock_position(store, as_of="2024-06-15").set_index(["sku_id", "warehouse_id"])

    assert sorted(got.index) == [("A1", "W1"), ("A1", "W2"), ("B1", "W1"), ("C1", "W3")]
    a = got.loc[("A1", "W1")]
    assert a["name"] == "name-PA"
    assert a["snapshot_date"] == pd.Timestamp("2024-06-10")
    assert (a["on_hand"], a["reserved"], a["available"]) == (60, 5, 55)
    assert a["in_transit"] == 30 + 40  # P1 still owes 30, P2 40; P3-P5 do not count
    assert a["next_expected_on"] == pd.Timestamp("2024-06-20")
    assert a["avg_weekly_units_4w"] == pytest.approx(12 * 7)
    assert a["avg_weekly_units_8w"] == pytest.approx((12 * 28 + 4 * 28) / 8)
    assert a["weeks_of_cover"] == pytest.approx(55 / 84)

    assert got.loc[("A1", "W2"), "available"] == -2
    assert np.isnan(got.loc[("B1", "W1"), "weeks_of_cover"])  # no sales: unbounded
    c = got.loc[("C1", "W3")]
    assert pd.isna(c["snapshot_date"])
    assert (c["on_hand"], c["in_transit"]) == (0, 25)


def test_stock_position_defaults_to_latest_snapshot_and_filters():
    store = stock_store()

    got = stock_position(store, warehouses=["W1"], skus="A1")

    assert len(got) == 1
    row = got.iloc[0]
    assert row["snapshot_date"] == pd.Timestamp("2024-06-20")
    assert row["on_hand"] == 999
    assert row["in_transit"] == 30 + 40 + 90  # P5 was placed by 2024-06-20


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"warehouses": ["W9"]}, UnknownEntityError, "W9"),
        ({"skus": ["ZZ"]}, UnknownEntityError, "ZZ"),
        ({"as_of": "soon"}, InvalidParameterError, "as_of"),
    ],
)
def test_stock_position_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        stock_position(stock_store(), **kwargs)


def test_stock_position_counts_what_is_past_its_expected_day_as_overdue():
    store = stock_store()
    on_time = stock_position(store, as_of="2024-06-15").set_index(["sku_id", "warehouse_id"])
    assert (on_time["overdue_in_transit"] == 0).all()

    late = stock_position(store, as_of="2024-06-21").set_index(["sku_id", "warehouse_id"])
    a = late.loc[("A1", "W1")]
    # P1 (30 owed, due 2024-06-20) is late; P2 (due 06-25) and P5 (06-30) are not yet
    assert (a["in_transit"], a["overdue_in_transit"]) == (30 + 40 + 90, 30)
    assert a["next_expected_on"] == pd.Timestamp("2024-06-20")
    assert late.loc[("C1", "W3"), "overdue_in_transit"] == 25  # P6, due 06-18
    # due on the day itself is not late yet
    due = stock_position(store, as_of="2024-06-20").set_index(["sku_id", "warehouse_id"])
    assert due.loc[("A1", "W1"), "overdue_in_transit"] == 0


def test_delisted_skus_are_unlisted_everywhere_and_quiet():
    store = Store.in_memory()
    add_listings(
        store,
        [
            ("tmall", "GONE", False), ("jd", "GONE", False),  # unlisted twice, quiet
            ("tmall", "OFFLINE", False),  # unlisted online, still sells (a store)
            ("tmall", "HALF", False), ("jd", "HALF", True),  # still listed on JD
            ("tmall", "NEVER", False),  # unlisted and never sold
        ],
    )  # fmt: skip
    # NOLIST sells nowhere and has no listing at all: nothing says it is delisted
    lines = [
        {"sku_id": sku, "quantity": 1, "created_at": T(day.year, day.month, day.day, 4)}
        for sku, day in [
            ("GONE", D(2024, 5, 1)),
            ("OFFLINE", D(2024, 6, 10)),
            ("HALF", D(2024, 3, 1)),
            ("NOLIST", D(2024, 1, 1)),
        ]
    ]
    add_lines(store, lines)

    got = delisted_skus(store, "2024-06-15")
    assert got["sku_id"].tolist() == ["GONE", "NEVER"]
    assert got["listings"].tolist() == [2, 1]
    assert got["last_sale"].iloc[0] == pd.Timestamp("2024-05-01")
    assert pd.isna(got["last_sale"].iloc[1])
    # a sale inside the quiet days keeps it; a past day reads the sales up to that day
    assert delisted_skus(store, "2024-06-15", quiet_days=60)["sku_id"].tolist() == ["NEVER"]
    # the listings changed on 2024-06-01: before that day nothing says they were unlisted
    assert delisted_skus(store, "2024-05-31").empty
    add_listings(
        store,
        [("tmall", "GONE", False), ("jd", "GONE", False), ("tmall", "NEVER", False),
         ("tmall", "OFFLINE", False)],
        updated_at=T(2024, 4, 1),
    )  # fmt: skip
    # on 2024-05-10 GONE had sold 9 days before, and OFFLINE not yet
    assert delisted_skus(store, "2024-05-10")["sku_id"].tolist() == ["NEVER", "OFFLINE"]
    with pytest.raises(InvalidParameterError, match="quiet_days"):
        delisted_skus(store, "2024-06-15", quiet_days=0)


def test_stock_position_without_snapshots_says_what_to_ingest():
    with pytest.raises(StoreError, match="butler ingest"):
        stock_position(Store.in_memory())


# -- hot_items -----------------------------------------------------------------------------

TARGET = D(2024, 5, 6)  # a Monday


def weekly_lines(sku: str, platform: str, units_by_week: list[int], last: dt.date) -> list[dict]:
    """One line per week on its Wednesday, the last week being ``last``'s."""
    out = []
    for back, units in enumerate(reversed(units_by_week)):
        if units:
            day = last - dt.timedelta(weeks=back) + dt.timedelta(days=2)
            out.append(
                {
                    "sku_id": sku,
                    "platform": platform,
                    "quantity": units,
                    "created_at": T(day.year, day.month, day.day, 4),
                }
            )
    return out


def hot_store() -> Store:
    store = Store.in_memory()
    add_catalog(store, {s: (f"P{s}", "x") for s in ["HOT", "STEADY", "SLOW", "BIG", "NEW"]})
    lines = (
        weekly_lines("HOT", "tmall", [2, 3, 1, 2, 2, 3, 2, 1, 30], TARGET)
        + weekly_lines("STEADY", "tmall", [20, 18, 22, 19, 21, 20, 20, 19, 21], TARGET)
        + weekly_lines("SLOW", "tmall", [0, 1, 0, 0, 1, 0, 1, 0, 3], TARGET)
        + weekly_lines("BIG", "tmall", [100, 95, 105, 100, 98, 102, 100, 100, 150], TARGET)
        # HOT is steady on jd: hot on one platform only
        + weekly_lines("HOT", "jd", [10, 11, 9, 10, 10, 12, 10, 9, 11], TARGET)
        # douyin opened two weeks before TARGET: its 15 a week is its level, not a jump
        + weekly_lines("NEW", "douyin", [15, 15, 16], TARGET)
    )
    # the week after TARGET is only two days old: week=None must not pick it
    lines.append(
        {"sku_id": "STEADY", "platform": "tmall", "quantity": 200, "created_at": T(2024, 5, 14, 4)}
    )
    add_lines(store, lines)
    return store


def test_hot_items_finds_the_planted_jump_only():
    got = hot_items(hot_store())

    assert got["sku_id"].tolist() == ["HOT"]
    row = got.iloc[0]
    assert row["platform"] == "tmall"
    assert row["name"] == "name-PHOT"
    assert row["week"] == pd.Timestamp(TARGET)
    assert row["units"] == 30
    assert row["baseline"] == pytest.approx(2.0)
    assert row["jump"] == pytest.approx(28.0)
    assert row["ratio"] == pytest.approx(15.0)
    assert row["score"] > 10


def test_hot_items_thresholds_and_sorting():
    got = hot_items(hot_store(), week=TARGET, min_units=1, min_jump=0, min_ratio=1.0)

    assert got["jump"].is_monotonic_decreasing
    assert got["sku_id"].iloc[0] == "BIG"  # +50.25 beats HOT's +28 when ratio is not required
    # SLOW went 0-1 to 3: kept only because every threshold is off
    slow = got[got["sku_id"] == "SLOW"].iloc[0]
    assert slow["baseline"] == pytest.approx(3 / 8)
    assert slow["ratio"] == pytest.approx(3.0)  # baseline below 1 counts as 1


def test_hot_items_restricted_to_platforms():
    store = hot_store()
    assert hot_items(store, week=TARGET, platforms=["jd"]).empty
    assert hot_items(store, week="2024-05-08", platforms="tmall")["sku_id"].tolist() == ["HOT"]


def test_hot_items_for_a_week_after_the_data_says_which_weeks_have_sales():
    store = hot_store()  # newest sale 2024-05-14; TARGET's week is the latest complete one
    with pytest.raises(InvalidParameterError) as info:
        hot_items(store, week="2024-05-20")
    assert "starts after the newest sales day (2024-05-14)" in str(info.value)
    assert f"latest complete week ({TARGET})" in str(info.value)
    # the unfinished week is still examined (with a warning that it is incomplete)
    assert hot_items(store, week="2024-05-15")["sku_id"].tolist() == ["STEADY"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_ratio": 0.5}, "min_ratio"),
        ({"baseline_weeks": 0}, "baseline_weeks"),
        ({"baseline_weeks": 2.5}, "whole number"),
        ({"min_units": -1}, "min_units"),
        ({"week": "last week"}, "week"),
    ],
)
def test_hot_items_rejects_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        hot_items(hot_store(), **kwargs)


# -- oversell_risk -------------------------------------------------------------------------

AS_OF = D(2024, 6, 30)


def oversell_store() -> Store:
    store = Store.in_memory()
    skus = ["ZERO", "LOW", "PLENTY", "DELISTED", "QUIET", "UNTRACKED", "TWOWH"]
    add_catalog(store, {s: (f"P{s}", "x") for s in skus})
    stock = {"ZERO": 0, "LOW": 4, "PLENTY": 500, "DELISTED": 0, "QUIET": 0}
    snaps = [(AS_OF, "W1", s, q) for s, q in stock.items()]
    snaps += [(AS_OF, "W1", "TWOWH", 0), (AS_OF - dt.timedelta(days=3), "W2", "TWOWH", 20)]
    store.upsert(
        "inventory_snapshots",
        pd.DataFrame(snaps, columns=["snapshot_date", "warehouse_id", "sku_id", "on_hand"]).assign(
            source_file="erp.csv"
        ),
    )
    listings = [
        ("tmall", "ZERO", True, 5),
        ("jd", "ZERO", True, 12),
        ("tmall", "LOW", True, None),
        ("tmall", "PLENTY", True, 500),
        ("tmall", "DELISTED", False, 0),
        ("tmall", "QUIET", True, 3),
        ("tmall", "UNTRACKED", True, 9),
        ("tmall", "TWOWH", True, 20),
    ]
    add_listings(store, listings, updated_at=T(2024, 6, 29))
    lines = []
    for sku in ["ZERO", "LOW", "PLENTY", "DELISTED", "UNTRACKED", "TWOWH"]:
        for k in range(7):  # 2 units a day on the 7 days ending AS_OF
            day = AS_OF - dt.timedelta(days=k)
            lines.append(
                {"sku_id": sku, "quantity": 2, "created_at": T(day.year, day.month, day.day, 3)}
            )
    lines.append({"sku_id": "QUIET", "quantity": 50, "created_at": T(2024, 6, 10, 3)})
    lines.append(
        {"sku_id": "ZERO", "platform": "jd", "quantity": 7, "created_at": T(2024, 6, 28, 3)}
    )
    add_lines(store, lines)
    return store


def test_oversell_risk_flags_listed_selling_skus_without_stock():
    got = oversell_risk(oversell_store())

    assert got["sku_id"].tolist() == ["ZERO", "LOW"]
    zero, low = got.iloc[0], got.iloc[1]
    assert zero["risk"] == StockRisk.OUT_OF_STOCK
    assert zero["platforms"] == "jd, tmall"
    assert zero["platform_stock"] == 12
    assert zero["available"] == 0
    assert zero["units_7d"] == 14 + 7
    assert zero["daily_units"] == pytest.approx(3.0)
    assert zero["days_of_cover"] == 0
    assert low["risk"] == StockRisk.LOW
    assert low["name"] == "name-PLOW"
    assert low["days_of_cover"] == pytest.approx(2.0)
    assert np.isnan(low["platform_stock"])


def test_oversell_risk_threshold_and_as_of():
    store = oversell_store()
    # TWOWH: 20 in W2 (its own latest snapshot) at 2 a day = 10 days of cover
    assert "TWOWH" in oversell_risk(store, min_cover_days=10)["sku_id"].tolist()
    assert oversell_risk(store, min_cover_days=1)["sku_id"].tolist() == ["ZERO"]
    # a month later nothing sold in the last 7 days
    assert oversell_risk(store, as_of="2024-07-31").empty


def test_oversell_risk_for_a_platform_a_warehouse_or_some_skus():
    store = oversell_store()
    store.upsert("warehouses", pd.DataFrame({"warehouse_id": ["W1", "W2"], "name": ["一", "二"]}))
    jd = oversell_risk(store, platforms="京东")  # only ZERO is listed on JD
    assert jd["sku_id"].tolist() == ["ZERO"] and jd.iloc[0]["platforms"] == "jd"
    assert jd.iloc[0]["units_7d"] == 14 + 7  # every platform's sales draw on the stock
    assert oversell_risk(store, skus=["LOW", "PLENTY"])["sku_id"].tolist() == ["LOW"]
    # no sale names a warehouse yet: no warehouse's stock is drawn on
    assert oversell_risk(store, warehouses="W2").empty
    add_lines(store, [{"order_id": "W1-order", "sku_id": "TWOWH", "quantity": 3,
                       "warehouse_id": "W1", "created_at": T(2024, 6, 29, 3)}])  # fmt: skip
    w1 = oversell_risk(store, warehouses=["W1"])  # W1 holds none of TWOWH; W2 holds 20
    assert w1["sku_id"].tolist() == ["TWOWH"] and w1.iloc[0]["risk"] == StockRisk.OUT_OF_STOCK
    assert oversell_risk(store, warehouses="W2").empty
    with pytest.raises(UnknownEntityError, match="W9"):
        oversell_risk(store, warehouses="W9")


def test_oversell_risk_rejects_negative_cover():
    with pytest.raises(InvalidParameterError, match="min_cover_days"):
        oversell_risk(oversell_store(), min_cover_days=-1)
