"""The weekly demand panel (features/forecast.py): dense grid, censoring, segments, store.

Named ``test_forecast_panel`` rather than ``test_forecast``: without ``__init__.py`` files
pytest cannot collect two test modules of the same name (models has ``test_forecast``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import InvalidParameterError, StoreError, UnknownPlatformError
from features.forecast import (
    COVARIATES,
    ID_SEP,
    IMPUTE_WEEKS,
    LEVELS,
    censor_stockouts,
    demand_segments,
    dense_panel,
    store_covariates,
    store_panel,
)
from features.ingest import refresh_sales_daily
from features.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:Downcasting object dtype:FutureWarning")

MONDAYS = pd.date_range("2024-01-01", periods=60, freq="W-MON")
_FAST = settings(max_examples=40, deadline=None)


def weeks(*idx: int) -> list[pd.Timestamp]:
    return [MONDAYS[i] for i in idx]


# -- dense_panel -----------------------------------------------------------------------------


def test_dense_panel_fills_each_series_from_its_first_week_with_zeros():
    frame = pd.DataFrame(
        {
            "unique_id": ["b", "a", "a", "b"],
            "ds": weeks(3, 0, 2, 5),
            "y": [1, 5, 7, 2],
            "region": ["north", "south", "south", "north"],
        }
    )
    out = dense_panel(frame)
    assert out["unique_id"].tolist() == ["a"] * 6 + ["b"] * 3
    assert out["ds"].tolist() == weeks(0, 1, 2, 3, 4, 5) + weeks(3, 4, 5)
    assert out["y"].tolist() == [5, 0, 7, 0, 0, 0, 1, 0, 2]
    assert out["y"].dtype == "float64"
    # static columns are carried into the new weeks
    assert out["region"].tolist() == ["south"] * 6 + ["north"] * 3


def test_dense_panel_extends_to_end_and_cuts_what_lies_after_it():
    frame = pd.DataFrame({"unique_id": ["a", "a"], "ds": weeks(0, 1), "y": [1.0, 2.0]})
    longer = dense_panel(frame, end=MONDAYS[3])
    assert longer["ds"].tolist() == weeks(0, 1, 2, 3)
    assert longer["y"].tolist() == [1, 2, 0, 0]
    shorter = dense_panel(frame, end=MONDAYS[0])
    assert shorter["ds"].tolist() == weeks(0)


def test_dense_panel_rejects_missing_columns_and_mixed_weekdays():
    with pytest.raises(InvalidParameterError, match="Missing: ds, y"):
        dense_panel(pd.DataFrame({"unique_id": ["a"]}))
    mixed = pd.DataFrame(
        {"unique_id": ["a", "a"], "ds": [MONDAYS[0], MONDAYS[1] + pd.Timedelta(days=1)], "y": 1}
    )
    with pytest.raises(InvalidParameterError, match=r"one weekday.*\[0, 1\]"):
        dense_panel(mixed)


def test_dense_panel_of_an_empty_frame_is_empty():
    empty = pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})
    assert dense_panel(empty).empty


@st.composite
def sparse_sales(draw) -> pd.DataFrame:
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from("abcd"), st.integers(0, 39), st.integers(1, 50)),
            min_size=1,
            max_size=60,
            unique_by=lambda r: (r[0], r[1]),
        )
    )
    return pd.DataFrame(
        {
            "unique_id": [r[0] for r in rows],
            "ds": [MONDAYS[r[1]] for r in rows],
            "y": [r[2] for r in rows],
        }
    )


@_FAST
@given(frame=sparse_sales(), extra=st.integers(0, 5))
def test_dense_panel_against_a_week_by_week_oracle(frame, extra):
    end = frame["ds"].max() + pd.Timedelta(weeks=extra)
    out = dense_panel(frame, end=end)
    expected = []
    for uid in sorted(frame["unique_id"].unique()):
        mine = frame[frame["unique_id"] == uid].set_index("ds")["y"]
        day = mine.index.min()
        while day <= end:
            expected.append((uid, day, float(mine.get(day, 0.0))))
            day += pd.Timedelta(weeks=1)
    want = pd.DataFrame(expected, columns=["unique_id", "ds", "y"])
    pd.testing.assert_frame_equal(out[["unique_id", "ds", "y"]], want, check_dtype=False)
    assert out["y"].sum() == frame["y"].sum()


# -- censor_stockouts --------------------------------------------------------------------------


def panel_of(y, in_stock=None, uid="a") -> pd.DataFrame:
    frame = pd.DataFrame({"unique_id": uid, "ds": MONDAYS[: len(y)], "y": np.asarray(y, float)})
    if in_stock is not None:
        frame["in_stock"] = in_stock
    return frame


def test_without_in_stock_every_week_is_a_real_observation():
    panel = panel_of([3, 0, 5])
    out = censor_stockouts(panel)
    assert out["y"].tolist() == [3, 0, 5]
    assert out["weight"].tolist() == [1, 1, 1]
    assert not out["censored"].any()
    assert "weight" not in panel.columns  # a copy, the input is untouched


def test_stockout_weeks_get_zero_weight_and_the_recent_in_stock_level():
    y = [10, 10, 10, 10, 10, 10, 10, 10, 0, 0, 0, 10]
    stock = [True] * 8 + [False] * 3 + [True]
    out = censor_stockouts(panel_of(y, stock))
    assert out["weight"].tolist() == [1.0] * 8 + [0.0] * 3 + [1.0]
    assert out["censored"].tolist() == [not s for s in stock]
    assert out["y"].tolist() == [10.0] * 12


def test_censoring_keeps_sales_above_the_level_and_in_stock_weeks_as_they_are():
    y = [4, 6, 4, 6, 20, 1, 3]
    stock = [True, True, True, True, False, True, False]
    out = censor_stockouts(panel_of(y, stock))
    assert out["y"].tolist()[:4] == [4, 6, 4, 6]
    assert out["y"].iloc[4] == 20  # sold more than the level before running out: keep it
    assert out["y"].iloc[5] == 1
    # week 6: mean of the in-stock weeks among the previous 8 = (4+6+4+6+1)/5
    assert out["y"].iloc[6] == pytest.approx(21 / 5)


def test_a_series_out_of_stock_from_its_start_keeps_its_sales_and_sees_no_other_series():
    big = panel_of([100] * 6, [True] * 6, uid="a")
    new = panel_of([2, 0, 5], [False, False, True], uid="b")
    new["ds"] = MONDAYS[3:6]
    out = censor_stockouts(pd.concat([big, new], ignore_index=True))
    b = out[out["unique_id"] == "b"]
    assert b["y"].tolist() == [2, 0, 5]
    assert b["weight"].tolist() == [0, 0, 1]


def test_missing_in_stock_counts_as_in_stock():
    out = censor_stockouts(panel_of([1, 2], pd.array([None, False], dtype="boolean")))
    assert out["weight"].tolist() == [1.0, 0.0]


def test_a_long_stockout_is_imputed_from_the_last_eight_in_stock_weeks():
    y = [10.0] * 7 + [2.0] + [0.0] * 10
    stock = [True] * 8 + [False] * 10
    out = censor_stockouts(panel_of(y, stock))
    level = np.mean(y[:8])  # the docstring: the mean of the last 8 in-stock weeks
    assert IMPUTE_WEEKS == 8
    np.testing.assert_allclose(out["y"].to_numpy()[8:], level)


# -- demand_segments ---------------------------------------------------------------------------


def test_segments_by_demand_interval_then_size():
    panel = pd.concat(
        [
            panel_of([10] * 10, uid="big"),
            panel_of([1] * 10, uid="small"),
            panel_of([0, 5] * 5, uid="lumpy"),
            panel_of([0] * 10, uid="never"),
        ]
    )
    seg = demand_segments(panel)
    assert seg.to_dict() == {
        "big": "fast",
        "lumpy": "intermittent",
        "never": "intermittent",
        "small": "slow",
    }


def test_intermittent_cut_is_an_average_interval_of_1_32():
    at_cut = panel_of([1.0] * 25 + [0.0] * 8, uid="at")  # 33 / 25 = 1.32
    below = panel_of([1.0] * 26 + [0.0] * 7, uid="below")  # 33 / 26 < 1.32
    seg = demand_segments(pd.concat([at_cut, below]))
    assert seg["at"] == "intermittent"
    assert seg["below"] != "intermittent"


def test_all_intermittent_panel_has_no_fast_or_slow():
    seg = demand_segments(pd.concat([panel_of([0, 3, 0], uid="x"), panel_of([0, 0], uid="y")]))
    assert set(seg) == {"intermittent"}


# -- store_panel -------------------------------------------------------------------------------


def expected_weekly(world, level: str) -> pd.DataFrame:
    """The panel's y recomputed in pandas from the daily rows the fixture wrote."""
    d = world.daily.copy()
    day = pd.to_datetime(d["day"])
    d["ds"] = day - pd.to_timedelta(day.dt.weekday, unit="D")
    d = d[d["ds"] <= world.last_week]
    if level == "sku_warehouse":
        d = d[d["warehouse_id"] != ""]
        d["unique_id"] = d["sku_id"] + ID_SEP + d["warehouse_id"]
    elif level == "sku_platform":
        d["unique_id"] = d["sku_id"] + ID_SEP + d["platform"]
    else:
        d["unique_id"] = d["sku_id"]
    sums = d.groupby(["unique_id", "ds"])["units"].sum()
    rows = []
    for uid, first in d.groupby("unique_id")["ds"].min().items():
        for ds in pd.date_range(first, world.last_week, freq="W-MON"):
            rows.append((uid, ds, float(sums.get((uid, ds), 0))))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


@pytest.mark.parametrize("level", LEVELS)
def test_store_panel_equals_a_pandas_recomputation(settings, sales_store, level):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store, level=level)
    want = expected_weekly(sales_store, level)
    got = panel[["unique_id", "ds", "y"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # the three days after the last complete week are not a week yet
    assert panel["ds"].max() == sales_store.last_week
    assert set(panel["ds"].dt.weekday) == {0}
    extra = {"sku_warehouse": ["warehouse_id"], "sku_platform": ["platform"], "sku": []}[level]
    assert list(panel.columns) == [
        "unique_id", "ds", "y", "in_stock", *COVARIATES, "sku_id", *extra
    ]  # fmt: skip
    # the fixture has no promotions and no list prices
    assert (panel["promo_days"] == 0).all()
    assert panel["price_ratio"].isna().all()


def test_store_panel_marks_weeks_with_four_empty_days_out_of_stock(settings, sales_store):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
        by_sku = store_panel(store, level="sku")
    out = panel[~panel["in_stock"]]
    assert set(out["unique_id"]) == {ID_SEP.join(sales_store.STOCKOUT_PAIR)}
    # week 60 had three empty days (in stock), week 61 four (out)
    assert out["ds"].tolist() == sales_store.stockout_weeks
    # the other warehouse had stock: all warehouses together, the SKU never ran out
    assert by_sku["in_stock"].all()


def test_store_panel_late_series_starts_at_its_first_sale(settings, sales_store):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    late = panel[panel["unique_id"] == ID_SEP.join(sales_store.LATE_PAIR)]
    assert late["ds"].min() == sales_store.START + pd.Timedelta(weeks=30)
    assert late["y"].iloc[0] > 0


def test_store_panel_end_keeps_only_complete_weeks(settings, sales_store):
    wednesday = sales_store.START + pd.Timedelta(weeks=40, days=2)
    sunday = sales_store.START + pd.Timedelta(weeks=40, days=6)
    with Store.open(settings, read_only=True) as store:
        cut_mid_week = store_panel(store, end=wednesday.date())
        cut_on_sunday = store_panel(store, end=sunday.date())
    assert cut_mid_week["ds"].max() == sales_store.START + pd.Timedelta(weeks=39)
    assert cut_on_sunday["ds"].max() == sales_store.START + pd.Timedelta(weeks=40)


def test_store_panel_rejects_an_unknown_level_and_an_empty_store(store):
    with pytest.raises(InvalidParameterError, match="sku_warehouse, sku_platform, sku"):
        store_panel(store, level="sku_shop")
    with pytest.raises(StoreError, match="butler ingest"):
        store_panel(store)


def test_a_store_whose_orders_give_no_sales_says_why(store):
    line = (
        "INSERT INTO order_lines (platform, order_id, line_id, shop_id, sku_id, quantity, "
        "unit_price_fen, paid_fen, status, created_at, source_file) VALUES "
        "('tmall', 'o1', 'l1', 's1', {sku}, 1, 100, 100, 'paid', TIMESTAMP '2025-03-03', 'f')"
    )
    store.sql(line.format(sku="NULL"))  # the platform SKU maps to no internal SKU
    with pytest.raises(StoreError, match="1 order lines, but none of their platform SKUs maps"):
        store_panel(store)
    store.sql("DELETE FROM order_lines")
    store.sql(line.format(sku="'SKU01'"))  # mapped, but the platform names no warehouse
    day = dt.date(2025, 3, 3)
    refresh_sales_daily(store, "tmall", day, day)
    with pytest.raises(StoreError, match="none of the paid ones names its warehouse"):
        store_panel(store, level="sku_warehouse")
    # a Monday's sales alone: no complete week yet
    with pytest.raises(StoreError, match="run only to 2025-03-03, inside a week not yet"):
        store_panel(store, level="sku")


# -- store_covariates ---------------------------------------------------------------------------

MON = pd.Timestamp("2025-03-03")  # a Monday


def _utc(day: pd.Timestamp, hour: int = 0) -> pd.Timestamp:
    """A Beijing business day's ``hour`` as the store keeps it (UTC)."""
    return day + pd.Timedelta(hours=hour - 8)


@pytest.fixture
def promo_store(settings):
    """Two SKUs (list price 100.00 and none) on tmall and jd, shipping from two warehouses;
    promotions and price changes in weeks 0–3 and one planned for week 10."""
    with Store.open(settings) as s:
        s.upsert("products", pd.DataFrame({"product_id": ["P1"], "name": ["p"]}))
        s.upsert(
            "skus",
            pd.DataFrame(
                {"sku_id": ["A", "B"], "product_id": "P1", "list_price_fen": [10_000, None]}
            ),
        )
        s.upsert("warehouses", pd.DataFrame({"warehouse_id": ["W1", "W2"], "name": ["1", "2"]}))
        daily = pd.DataFrame(
            {
                "day": [MON.date(), MON.date(), MON.date(), MON.date()],
                "platform": ["tmall", "jd", "tmall", "jd"],
                "shop_id": "s",
                "sku_id": ["A", "A", "B", "B"],
                "warehouse_id": ["W1", "W2", "W1", "W1"],
            }
        ).assign(orders=1, units=1, returned_units=0, gross_fen=100, refund_fen=0)
        s.upsert("sales_daily", daily)

        def promo(pid, platform, sku, kind, first, last, price):
            return {
                "platform": platform,
                "shop_id": "s",
                "promo_id": pid,
                "platform_sku_id": f"{platform}-{sku}",
                "sku_id": sku,
                "kind": kind,
                "name": pid,
                "starts_at": _utc(first),
                "ends_at": None if last is None else _utc(last, 24) - pd.Timedelta(seconds=1),
                "price_fen": price,
                "source_file": "promos.csv",
            }

        day = lambda w, d: MON + pd.Timedelta(weeks=w, days=d)  # noqa: E731
        rows = [
            # week 0: Wednesday to Friday on tmall at 80.00
            promo("P1", "tmall", "A", "promotion", day(0, 2), day(0, 4), 8_000),
            # week 1: two overlapping promotions on jd cover the week more than once
            promo("P2", "jd", "A", "promotion", day(1, 0), day(1, 6), 9_000),
            promo("P3", "jd", "A", "promotion", day(1, 3), day(1, 6), 7_000),
            # from week 2's Tuesday on tmall the shelf price is 90.00
            promo("C1", "tmall", "A", "price_change", day(2, 1), None, 9_000),
            # planned: all of week 10 on tmall at 50.00
            promo("P4", "tmall", "A", "promotion", day(10, 0), day(10, 6), 5_000),
        ]
        s.upsert("promotions", pd.DataFrame(rows))
    return settings


def _covariates(settings, level, weeks=11):
    with Store.open(settings, read_only=True) as store:
        frame = store_covariates(
            store,
            level=level,
            start=(MON + pd.Timedelta(days=3)).date(),  # widened back to the Monday
            end=(MON + pd.Timedelta(weeks=weeks - 1, days=6)).date(),
        )
    return frame.set_index(["unique_id", frame["ds"].sub(MON).dt.days // 7])


def test_covariates_per_platform_count_promotion_days_and_the_advertised_price(promo_store):
    got = _covariates(promo_store, "sku_platform")
    tmall, jd = got.loc["A|tmall"], got.loc["A|jd"]
    assert len(tmall) == 11 and set(COVARIATES) <= set(tmall.columns)
    # three days at 80 and four at the list price 100
    assert tmall.loc[0, "promo_days"] == 3
    assert tmall.loc[0, "price_ratio"] == pytest.approx((3 * 80 + 4 * 100) / 7 / 100)
    # overlapping promotions: at most 7 days, at the lowest price running
    assert jd.loc[1, "promo_days"] == 7
    assert jd.loc[1, "price_ratio"] == pytest.approx(0.70)
    # a price change holds from mid-week on; before it, the list price
    assert tmall.loc[1, "price_ratio"] == pytest.approx(1.0)
    assert tmall.loc[2:9, "price_ratio"].tolist() == pytest.approx([0.9] * 8)
    assert (tmall.loc[2:9, "promo_days"] == 0).all()
    # the planned promotion is known in its future week, below the new shelf price
    assert tmall.loc[10, "promo_days"] == 7
    assert tmall.loc[10, "price_ratio"] == pytest.approx(0.5)
    # no list price: no ratio, but promotion days still count
    assert got.loc["B|tmall", "price_ratio"].isna().all()


def test_covariates_of_a_warehouse_average_the_platforms_that_ship_from_it(promo_store):
    got = _covariates(promo_store, "sku_warehouse")
    # A ships tmall orders from W1 and jd orders from W2
    assert got.loc[("A|W1", 0), "promo_days"] == 3
    assert got.loc[("A|W2", 0), "promo_days"] == 0
    assert got.loc[("A|W2", 1), "promo_days"] == 7
    total = _covariates(promo_store, "sku")
    assert total.loc[("A", 0), "promo_days"] == pytest.approx(1.5)
    assert total.loc[("A", 1), "price_ratio"] == pytest.approx((1.0 + 0.7) / 2)
    assert set(total.index.get_level_values(0)) == {"A", "B"}
    # averages are rounded to 1e-9: the store adds in no fixed order, and a last-bit change
    # would move the forecaster's bins (a refit on the same data must give the same model)
    scaled = total[list(COVARIATES)].dropna().to_numpy() * 1e9
    assert np.abs(scaled - scaled.round()).max() < 1e-3


def test_covariates_of_some_platforms_average_those_only(promo_store):
    with Store.open(promo_store, read_only=True) as store:
        span = {"start": MON.date(), "end": (MON + pd.Timedelta(weeks=1, days=6)).date()}
        tmall = store_covariates(store, level="sku", platforms=["tmall"], **span)
        both = store_covariates(store, level="sku", **span)
        with pytest.raises(UnknownPlatformError, match="store_covariates"):
            store_covariates(store, level="sku", platforms=["ebay"], **span)
    tmall, both = tmall.set_index("unique_id"), both.set_index("unique_id")
    # week 1: tmall at the list price, jd at 70% all week
    assert tmall.loc["A", "price_ratio"].tolist() == pytest.approx([(3 * 80 + 4 * 100) / 700, 1.0])
    assert both.loc["A", "price_ratio"].iloc[1] == pytest.approx((1.0 + 0.7) / 2)


def test_covariates_reject_a_bad_level_and_a_backward_span(promo_store):
    with Store.open(promo_store, read_only=True) as store:
        with pytest.raises(InvalidParameterError, match="sku_warehouse, sku_platform, sku"):
            store_covariates(store, level="shop", start=MON.date(), end=MON.date())
        with pytest.raises(InvalidParameterError, match="ends"):
            store_covariates(store, start=MON.date(), end=(MON - pd.Timedelta(weeks=2)).date())
