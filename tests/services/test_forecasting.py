"""Forecasts and replenishment plans as the CLI, the HTTP services and the agent get them.

The models here are fitted in the test and passed in (``model=``); the registry path is
covered end to end in tests/training/test_training_forecast.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.errors import (
    ContractViolation,
    InvalidParameterError,
    UnknownEntityError,
    UnreadableFileError,
)
from features.forecast import COVARIATES, future_covariates, store_panel
from features.store import Store
from models.forecast import ForecastConfig, WeeklyDemandForecaster
from models.replenishment import ERROR_COLUMNS, PLAN_COLUMNS, TAIL_QUANTILES, ReplenishmentConfig
from services.forecasting import (
    PlanResult,
    forecast,
    load_forecaster,
    read_positions,
    read_supply,
    replenishment_plan,
    stale_forecast,
    store_positions,
    unplanned_weeks,
    write_plan,
)
from services.registry import ModelNotRegisteredError

pytestmark = [
    pytest.mark.filterwarnings("ignore:Found null values:UserWarning"),
    pytest.mark.filterwarnings("ignore:Downcasting object dtype:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

CFG = ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)
POSITION_COLUMNS = ["sku_id", "warehouse_id", "on_hand", "in_transit", "lead_time_weeks"]


@pytest.fixture
def champion(settings, sales_store) -> WeeklyDemandForecaster:
    """The SKU × warehouse forecaster fitted on the store (what training would register)."""
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    return WeeklyDemandForecaster(CFG).fit(panel)


def _tmall_promotion(week: pd.Timestamp, sku: str) -> dict:
    """A whole-week Tmall promotion of ``sku`` (Beijing Monday 00:00 to Sunday 23:59:59)."""
    starts = week - pd.Timedelta(hours=8)  # stored in UTC
    return {
        "platform": "tmall",
        "shop_id": "shop1",
        "promo_id": f"P-{sku}-{week:%Y%m%d}",
        "platform_sku_id": f"tm-{sku}",
        "sku_id": sku,
        "kind": "promotion",
        "name": "campaign",
        "starts_at": starts,
        "ends_at": starts + pd.Timedelta(days=7, seconds=-1),
        "price_fen": 1000,
        "source_file": "promos.csv",
    }


def test_plans_and_forecasts_read_the_promotions_the_store_plans_now(settings, sales_store):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
        ahead = future_covariates(store, level="sku_warehouse", after=panel["ds"].max(), weeks=52)
    # trained when nothing was planned
    model = WeeklyDemandForecaster(CFG).fit(panel, dynamic_features=COVARIATES, future=ahead)
    weeks = pd.date_range(sales_store.last_week + pd.Timedelta(weeks=1), periods=40, freq="W-MON")
    # then a campaign is signed up for: one week inside SKU01's 2 weeks lead time + 1 review,
    # one long after; Tmall ships SKU01 from both warehouses
    with Store.open(settings) as store:
        store.upsert(
            "promotions",
            pd.DataFrame(
                [_tmall_promotion(weeks[1], "SKU01"), _tmall_promotion(weeks[30], "SKU01")]
            ),
        )
    reasons = replenishment_plan(settings, positions=None, model=model).plan.set_index(
        ["sku_id", "warehouse_id"]
    )["reason"]
    note = f"; promotion planned in the weeks of {weeks[1]:%Y-%m-%d}"
    assert reasons[("SKU01", "WH-GZ")].endswith(note)
    assert reasons[("SKU01", "WH-SH")].endswith(note)
    assert not reasons.drop(index="SKU01").str.contains("promotion").any()
    # the forecast reads the store's plan too, unless told otherwise
    read = []
    predict = model.predict
    model.predict = lambda h, ids=None, future=None: (
        read.append(future) or predict(h, ids, future=future)
    )
    forecast(settings, horizon=3, model=model, ids=["SKU01|WH-GZ"])
    planned = read[-1].set_index(["unique_id", "ds"])["promo_days"]
    assert planned[("SKU01|WH-GZ", weeks[1])] == 7 and planned[("SKU01|WH-GZ", weeks[0])] == 0
    forecast(settings, horizon=3, model=model, ids=["SKU01|WH-GZ"], future=ahead)
    assert read[-1] is ahead


def test_a_promotion_planned_for_a_delisted_sku_is_named_as_a_conflict(settings, sales_store):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    model = WeeklyDemandForecaster(CFG).fit(panel, dynamic_features=COVARIATES)
    week = sales_store.last_week + pd.Timedelta(weeks=2)  # inside the lead time + review
    _delist_and_quiet(settings, "SKU01")
    with Store.open(settings) as store:
        store.upsert("promotions", pd.DataFrame([_tmall_promotion(week, "SKU01")]))

    result = replenishment_plan(settings, positions=None, model=model)

    reasons = result.plan.set_index(["sku_id", "warehouse_id"])["reason"]
    for wh in ("WH-GZ", "WH-SH"):
        assert reasons[("SKU01", wh)].startswith("not ordered: delisted")
        assert reasons[("SKU01", wh)].endswith(
            f"; yet a promotion is planned in the weeks of {week:%Y-%m-%d}: list the SKU "
            "again or cancel the promotion"
        )
    (said,) = [w for w in result.warnings if "held as delisted" in w]
    assert said.startswith("1 SKU(s) held as delisted have promotions planned") and "SKU01" in said
    # without the promotion, the hold says nothing of one
    with Store.open(settings) as store:
        store.sql("DELETE FROM promotions")
    result = replenishment_plan(settings, positions=None, model=model)
    assert not any("held as delisted" in w for w in result.warnings)
    assert not result.plan["reason"].str.contains("promotion").any()


class FixedModel:
    """A stand-in forecaster: one week of 1.0 for each id it is built with."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def predict(self, h: int, ids=None) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unique_id": ids or self.ids,
                "ds": pd.Timestamp("2024-05-06"),
                "mean": 1.0,
                "expected": 1.0,
            }
        )


def test_load_forecaster_on_an_empty_home_says_what_to_run(settings):
    with pytest.raises(ModelNotRegisteredError, match="Run `butler train forecast` first"):
        load_forecaster(settings)


@pytest.mark.parametrize(
    ("level", "uid", "parts"),
    [
        ("sku_warehouse", "SKU01|WH-SH", {"sku_id": "SKU01", "warehouse_id": "WH-SH"}),
        ("sku_platform", "SKU01|tmall", {"sku_id": "SKU01", "platform": "tmall"}),
        ("sku", "SKU01", {"sku_id": "SKU01"}),
    ],
)
def test_forecast_splits_the_series_id_into_its_parts(settings, level, uid, parts):
    frame = forecast(settings, horizon=1, level=level, model=FixedModel([uid]))
    for column, value in parts.items():
        assert frame[column].tolist() == [value]


def test_forecast_with_a_fitted_model_passes_horizon_and_ids(settings, champion):
    frame = forecast(settings, horizon=3, ids=["SKU02|WH-GZ"], model=champion)
    assert len(frame) == 3
    assert set(frame["sku_id"]) == {"SKU02"} and set(frame["warehouse_id"]) == {"WH-GZ"}
    with pytest.raises(InvalidParameterError, match="SKU99"):
        forecast(settings, horizon=3, ids=["SKU99|WH-GZ"], model=champion)


def test_a_positions_file_without_moq_or_case_pack_takes_the_sku_masters(
    settings, sales_store, champion
):
    positions = pd.DataFrame(
        [("SKU01", "WH-SH", 0, 0, 2.0), ("SKU02", "WH-SH", 0, 0, 2.0)], columns=POSITION_COLUMNS
    ).assign(moq=[None, 1], case_pack=["", 1])  # SKU02's own rules stay
    plan = replenishment_plan(settings, positions=positions, model=champion).plan
    rules = plan.set_index("sku_id")[["moq", "case_pack"]]
    assert rules.loc["SKU01"].tolist() == [12, 6]  # the master's (sales_world)
    assert rules.loc["SKU02"].tolist() == [1, 1]
    assert plan.set_index("sku_id").loc["SKU01", "order_qty"] % 6 == 0
    no_columns = replenishment_plan(
        settings, positions=positions.drop(columns=["moq", "case_pack"]), model=champion
    ).plan
    assert (no_columns["case_pack"] == 6).all()


def test_a_blank_or_miscased_id_is_reported_as_such(settings, sales_store, champion):
    positions = pd.DataFrame(
        [("sku01", "WH-SH", 5, 0, 2.0), (None, "WH-SH", 5, 0, 2.0), ("SKU02", "wh-gz", 5, 0, 2.0)],
        columns=POSITION_COLUMNS,
    )
    reasons = replenishment_plan(settings, positions=positions, model=champion).errors["reason"]
    said = " | ".join(reasons)
    assert (
        "unknown SKU 'sku01': not in the store's SKU master; check the id (did you mean "
        "'SKU01'?)" in said
    )
    assert "unknown warehouse 'wh-gz'" in said and "(did you mean 'WH-GZ'?)" in said
    assert "SKU id is missing" in said and "'nan'" not in said and "<NA>" not in said


def test_plan_reports_bad_rows_with_reasons_and_plans_the_rest(settings, sales_store, champion):
    positions = pd.DataFrame(
        [
            ("SKU01", "WH-SH", 5, 0, 2.0),
            ("SKU99", "WH-SH", 5, 0, 2.0),  # unknown SKU
            ("SKU03", "WH-XX", 5, 0, 2.0),  # unknown warehouse
            ("SKU04", "WH-SH", -3, 0, 2.0),  # negative stock
            ("SKU06", "WH-GZ", 4, 0, np.nan),  # missing lead time
            ("SKU07", "WH-GZ", 1000, 20, 1.0),  # plenty of stock
        ],
        columns=POSITION_COLUMNS,
    )
    result = replenishment_plan(settings, positions=positions, model=champion)

    assert list(result.plan.columns) == list(PLAN_COLUMNS)
    assert result.plan[["sku_id", "warehouse_id"]].values.tolist() == [
        ["SKU01", "WH-SH"],
        ["SKU07", "WH-GZ"],
    ]
    first, plenty = result.plan.iloc[0], result.plan.iloc[1]
    assert first["order_qty"] > 0 and "order" in first["reason"]
    assert plenty["order_qty"] == 0 and plenty["reason"].startswith("no order")

    errors = result.errors
    assert list(errors.columns) == list(ERROR_COLUMNS)
    by_sku = errors.set_index("sku_id")
    assert by_sku.loc["SKU99", "field"] == "sku_id"
    assert "unknown SKU 'SKU99'" in by_sku.loc["SKU99", "reason"]
    assert by_sku.loc["SKU03", "field"] == "warehouse_id"
    assert "unknown warehouse 'WH-XX'" in by_sku.loc["SKU03", "reason"]
    assert by_sku.loc["SKU04", "field"] == "on_hand"
    assert "on_hand is -3" in by_sku.loc["SKU04", "reason"]
    assert by_sku.loc["SKU06", "field"] == "lead_time_weeks"
    assert "missing" in by_sku.loc["SKU06", "reason"]
    assert len(errors) == 4

    assert result.as_of == sales_store.snapshots["snapshot_date"].max()
    assert result.forecast_start == (sales_store.last_week + pd.Timedelta(weeks=1)).date()


def test_a_blank_review_period_is_the_configs_for_the_forecast_too(settings, sales_store, champion):
    positions = pd.DataFrame(
        [("SKU01", "WH-SH", 0, 0, 2.0), ("SKU02", "WH-SH", 0, 0, 2.0)], columns=POSITION_COLUMNS
    )
    for review in ([None, None], [1, None]):  # a template's empty column; one row given
        given = positions.assign(review_period_weeks=review)
        result = replenishment_plan(
            settings,
            positions=given,
            model=champion,
            config=ReplenishmentConfig(review_period_weeks=3),
        )
        assert result.errors.empty, result.errors["reason"].tolist()
        weeks = result.plan.set_index("sku_id")["review_period_weeks"]
        assert weeks.tolist() == [3 if r is None else r for r in review]


def test_a_lead_time_given_in_days_is_not_planned_and_a_long_one_is_named(
    settings, sales_store, champion
):
    positions = pd.DataFrame(
        [("SKU01", "WH-SH", 0, 0, 14), ("SKU02", "WH-SH", 0, 0, 9), ("SKU03", "WH-SH", 0, 0, 2)],
        columns=POSITION_COLUMNS,
    )  # the SKU master's lead time is 14 days for each
    result = replenishment_plan(settings, positions=positions, model=champion)
    assert result.errors[["sku_id", "field"]].values.tolist() == [["SKU01", "lead_time_weeks"]]
    assert result.errors["reason"].iloc[0] == (
        "lead_time_weeks 14 is the SKU master's lead time in days (14 days = 2 weeks): give "
        "the lead time in weeks"
    )
    assert result.plan["sku_id"].tolist() == ["SKU02", "SKU03"]
    (said,) = [w for w in result.warnings if "lead time 4×" in w]
    assert "(SKU02 at WH-SH: 9 weeks against 2)" in said and "divide by 7" in said
    # only the positions asked for are checked
    asked = replenishment_plan(settings, positions=positions, model=champion, skus=["SKU03"])
    assert asked.errors.empty and not any("lead time 4×" in w for w in asked.warnings)


def test_read_positions_strips_the_ids_and_a_plan_has_no_negative_zero(
    tmp_path, settings, sales_store, champion
):
    (tmp_path / "pos.csv").write_text(
        ",".join(POSITION_COLUMNS) + "\n SKU07 , WH-GZ ,1000,20,1\n", "utf-8"
    )
    positions = read_positions(tmp_path / "pos.csv")
    assert positions[["sku_id", "warehouse_id"]].values.tolist() == [["SKU07", "WH-GZ"]]
    plan = replenishment_plan(settings, positions=positions, model=champion).plan
    assert plan["order_qty"].tolist() == [0] and not np.signbit(plan["order_qty"]).any()


def test_a_plan_whose_every_row_is_unknown_is_empty_with_the_reasons(
    settings, sales_store, champion
):
    positions = pd.DataFrame([("SKU99", "WH-SH", 5, 0, 2.0)], columns=POSITION_COLUMNS)
    result = replenishment_plan(settings, positions=positions, model=champion)
    assert result.plan.empty and list(result.plan.columns) == list(PLAN_COLUMNS)
    assert result.errors["sku_id"].tolist() == ["SKU99"]
    assert "unknown SKU 'SKU99'" in result.errors["reason"].iloc[0]
    assert result.forecast_start is None  # nothing was forecast


def test_a_plan_as_of_a_day_before_any_stock_says_which_days_there_are(
    settings, sales_store, champion
):
    newest = sales_store.snapshots["snapshot_date"].max()
    with pytest.raises(InvalidParameterError, match=f"1990-01-01.*snapshot is of {newest}"):
        replenishment_plan(settings, as_of="1990-01-01", model=champion)


def test_a_plan_as_of_a_day_written_out_reads_it_and_a_bad_one_names_the_formats(
    settings, sales_store, champion
):
    past = sorted(sales_store.snapshots["snapshot_date"].unique())[-8]
    written = f"{past.year}年{past.month}月{past.day}日"
    for day in (written, f"{past:%Y/%m/%d}"):
        assert replenishment_plan(settings, model=champion, as_of=day).as_of == past
    for bad in ("2025年12月32日", "last Tuesday"):
        with pytest.raises(InvalidParameterError, match="The `as_of` parameter.*2024年6月18日"):
            replenishment_plan(settings, model=champion, as_of=bad)


def test_plan_from_the_store_positions(settings, sales_store, champion):
    with Store.open(settings, read_only=True) as store:
        positions = store_positions(store)
    assert len(positions) == 16
    pos = positions.set_index(["sku_id", "warehouse_id"])
    assert pos.loc[("SKU02", "WH-SH"), "in_transit"] == 40  # 50 ordered, 10 received
    assert pos.loc[("SKU01", "WH-GZ"), "lead_time_weeks"] == 2.0
    assert pd.isna(pos.loc[("SKU05", "WH-GZ"), "lead_time_weeks"])
    assert (pos["moq"] == 12).all() and (pos["case_pack"] == 6).all()
    assert (pos["on_hand"] == 30).all()

    result = replenishment_plan(settings, positions=None, model=champion)
    assert len(result.plan) == 14
    assert (result.plan["order_qty"] > 0).any() and (result.plan["order_qty"] == 0).any()
    assert result.errors["sku_id"].tolist() == ["SKU05", "SKU05"]
    assert set(result.errors["field"]) == {"lead_time_weeks"}
    ordered = result.plan[result.plan["order_qty"] > 0]
    # orders respect the SKU master's MOQ and case pack
    assert (ordered["order_qty"] >= 12).all() and (ordered["order_qty"] % 6 == 0).all()
    assert result.warnings == ()  # trained on the store's newest sales


def _delist_and_quiet(settings, sku: str, quiet_weeks: int = 6) -> None:
    """Take ``sku`` off every platform and drop its last ``quiet_weeks`` weeks of sales."""
    with Store.open(settings) as store:
        store.upsert(
            "listings",
            pd.DataFrame(
                {
                    "platform": ["tmall", "jd"],
                    "shop_id": ["shop1", "shop2"],
                    "platform_sku_id": [f"tm-{sku}", f"jd-{sku}"],
                    "sku_id": sku,
                    "listed": False,
                    "updated_at": pd.Timestamp("2024-05-01"),
                    "source_file": "listings.csv",
                }
            ),
        )
        store.sql(
            "DELETE FROM sales_daily WHERE sku_id = $1 "
            "AND day > (SELECT max(day) FROM sales_daily) - $2::INTEGER",
            [sku, 7 * quiet_weeks],
        )


def test_a_delisted_sku_is_planned_but_not_reordered(settings, sales_store, champion):
    _delist_and_quiet(settings, "SKU08")
    with Store.open(settings, read_only=True) as store:
        last = store.sql("SELECT max(day) FROM sales_daily WHERE sku_id = 'SKU08'").fetchone()[0]
    # on_hand 0 at both warehouses: the forecast (fitted before) would order, but a
    # positions file's delisted SKU is held as the store's is
    positions = _zero_stock_positions(settings).assign(sku_id=lambda f: f["sku_id"] + " ")
    plan = replenishment_plan(settings, positions=positions, model=champion).plan
    held = plan[plan["sku_id"] == "SKU08"]
    assert len(held) == 2 and (held["order_qty"] == 0).all()
    assert held["reason"].str.startswith("not ordered: delisted").all()
    assert (plan.loc[plan["sku_id"] != "SKU08", "order_qty"] > 0).any()

    plan = replenishment_plan(settings, model=champion).plan.set_index("sku_id")
    held = plan.loc["SKU08"]
    assert len(held) == 2 and (held["order_qty"] == 0).all() and (held["cases"] == 0).all()
    assert (
        held["reason"]
        .str.startswith(
            "not ordered: delisted: none of its 2 platform listings is listed and it last sold on "
            f"{last:%Y-%m-%d}; sell off the stock or list it again before reordering; "
        )
        .all()
    )
    assert not plan.drop(index="SKU08")["reason"].str.startswith("not ordered").any()


def _zero_stock_positions(settings) -> pd.DataFrame:
    with Store.open(settings, read_only=True) as store:
        positions = store_positions(store)
    return positions.drop(columns=["hold"]).assign(on_hand=0, in_transit=0)


def test_purchase_orders_past_their_expected_day_are_named_in_the_plan(
    settings, sales_store, champion
):
    newest = sales_store.snapshots["snapshot_date"].max()
    with Store.open(settings) as store:
        store.upsert(
            "purchase_orders",
            pd.DataFrame(
                {
                    "po_id": ["PO-LATE", "PO-SOON"],
                    "line_no": [1, 1],
                    "sku_id": ["SKU03", "SKU03"],
                    "warehouse_id": ["WH-GZ", "WH-GZ"],
                    "qty_ordered": [60, 24],
                    "qty_received": [12, 0],
                    "ordered_on": [newest - pd.Timedelta(days=40)] * 2,
                    "expected_on": [newest - pd.Timedelta(days=9), newest + pd.Timedelta(days=3)],
                    "status": ["in_transit", "open"],
                    "source_file": ["po.xlsx", "po.xlsx"],
                }
            ),
        )
    result = replenishment_plan(settings, model=champion)
    plan = result.plan.set_index(["sku_id", "warehouse_id"])
    due = newest - pd.Timedelta(days=9)
    assert plan.loc[("SKU03", "WH-GZ"), "in_transit"] == 48 + 24  # still counted as coming
    assert plan.loc[("SKU03", "WH-GZ"), "reason"].endswith(
        f"; 48 of the 72 in transit were due by {due:%Y-%m-%d} and have not arrived: chase "
        "the supplier (counted as coming)"
    )
    assert plan.loc[("SKU02", "WH-SH"), "overdue_in_transit"] == 0  # PO1 gives no day
    assert plan["reason"].str.contains("have not arrived").sum() == 1
    (warning,) = result.warnings
    assert warning.startswith("1 SKU × warehouse line(s) count as coming 48 units of purchase")


def test_a_plan_for_some_skus_and_warehouses(settings, sales_store, champion, tmp_path):
    result = replenishment_plan(
        settings, model=champion, skus=["SKU01", "SKU03"], warehouses=["WH-GZ"]
    )
    assert sorted(zip(result.plan["sku_id"], result.plan["warehouse_id"], strict=True)) == [
        ("SKU01", "WH-GZ"),
        ("SKU03", "WH-GZ"),
    ]
    whole = replenishment_plan(settings, model=champion).plan.set_index(["sku_id", "warehouse_id"])
    part = result.plan.set_index(["sku_id", "warehouse_id"])
    assert part["order_qty"].equals(whole.loc[part.index, "order_qty"])
    # a positions file is filtered the same way
    positions = _zero_stock_positions(settings)
    from_file = replenishment_plan(settings, model=champion, positions=positions, skus=["SKU04"])
    assert sorted(from_file.plan["warehouse_id"]) == ["WH-GZ", "WH-SH"]
    assert set(from_file.plan["sku_id"]) == {"SKU04"}
    # an id the store does not know is an error naming it; a known SKU with no position there
    # is an error row
    with pytest.raises(UnknownEntityError, match="'SKU99', 'sku01' \\(did you mean 'SKU01'"):
        replenishment_plan(settings, model=champion, skus=["SKU99", "sku01"])
    with pytest.raises(UnknownEntityError, match="WH-XX"):
        replenishment_plan(settings, model=champion, positions=positions, warehouses=["WH-XX"])
    file_part = positions[positions["sku_id"] != "SKU06"]
    got = replenishment_plan(settings, model=champion, positions=file_part, skus=["SKU06", "SKU07"])
    assert set(got.plan["sku_id"]) == {"SKU07"}
    assert got.errors[["sku_id", "field"]].values.tolist() == [["SKU06", "sku_id"]]
    assert got.errors["reason"].iloc[0].endswith("add its rows to the positions file")


def test_a_forecaster_trained_before_the_newest_sales_is_said_to_be_stale(settings, sales_store):
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    older = panel[panel["ds"] < panel["ds"].max() - pd.Timedelta(weeks=1)]
    model = WeeklyDemandForecaster(CFG).fit(older)
    result = replenishment_plan(settings, positions=None, model=model)
    (warning,) = result.warnings
    assert "its first 2 forecast week(s)" in warning and "`butler train forecast`" in warning


@pytest.mark.parametrize(
    ("as_of", "start", "said"),
    [
        ("2025-03-01", "2025-02-24", None),  # the first week still reaches past the stock day
        ("2025-03-02", "2025-02-24", "sales up to 2025-02-23, but the stock is of 2025-03-02: "
         "its first 1 forecast week(s) (2025-02-24 … 2025-03-02) have passed"),
        ("2025-03-10", "2025-02-24", "its first 2 forecast week(s) (2025-02-24 … 2025-03-09)"),
        ("2025-02-20", "2025-02-24", None),
    ],
)  # fmt: skip
def test_stale_forecast_counts_the_forecast_weeks_the_stock_day_has_passed(as_of, start, said):
    import datetime as dt

    got = stale_forecast(dt.date.fromisoformat(as_of), dt.date.fromisoformat(start))
    assert got is None if said is None else said in got
    assert stale_forecast(None, dt.date(2025, 2, 24)) is None


def test_a_plan_as_of_a_past_day_says_which_stock_day_and_which_demand_it_misses(
    settings, sales_store, champion
):
    snapshots = sorted(sales_store.snapshots["snapshot_date"].unique())
    past = snapshots[-22]  # three weeks before the newest snapshot
    result = replenishment_plan(settings, positions=None, model=champion, as_of=past)
    assert result.as_of == past  # the stock planned from, not the store's newest
    (warning,) = result.warnings
    assert f"The stock is of {past}, but the forecast starts on {result.forecast_start}" in warning
    # a day after the newest snapshot plans from the newest: said as its own day
    later = replenishment_plan(settings, positions=None, model=champion,
                               as_of=snapshots[-1] + pd.Timedelta(days=30))  # fmt: skip
    assert later.as_of == snapshots[-1] and later.warnings == ()


def test_unplanned_weeks_start_a_week_after_the_stock_day():
    import datetime as dt

    assert unplanned_weeks(dt.date(2025, 2, 17), dt.date(2025, 2, 24)) is None
    said = unplanned_weeks(dt.date(2025, 2, 10), dt.date(2025, 2, 24))
    assert "the demand of 2025-02-11 … 2025-02-23 is in no week of the plan" in said
    assert unplanned_weeks(None, dt.date(2025, 2, 24)) is None


def test_plan_reads_the_forecast_tail(settings, sales_store, champion, monkeypatch):
    # the champion's forecasts carry p98 … p99_9; without them the policy falls back to
    # gamma weeks, which order differently for a fill-rate target
    with_tail = replenishment_plan(settings, positions=None, model=champion).plan
    predict = champion.predict
    monkeypatch.setattr(
        champion, "predict", lambda *a, **k: predict(*a, **k).drop(columns=list(TAIL_QUANTILES))
    )
    without = replenishment_plan(settings, positions=None, model=champion).plan
    assert set(TAIL_QUANTILES) <= set(predict(3).columns)
    assert not np.array_equal(with_tail["order_up_to"], without["order_up_to"])


def test_short_supply_is_split_across_warehouses(settings, sales_store, champion):
    positions = pd.DataFrame(
        [("SKU08", "WH-GZ", 0, 0, 3.0), ("SKU08", "WH-SH", 0, 0, 3.0)],
        columns=POSITION_COLUMNS,
    )
    full = replenishment_plan(settings, positions=positions, model=champion)
    wanted = full.plan["order_qty"].sum()
    assert wanted > 2
    supply = pd.DataFrame({"sku_id": ["SKU08"], "supply": [wanted // 2]})
    short = replenishment_plan(settings, positions=positions, model=champion, supply=supply)
    assert short.plan["order_qty"].sum() == wanted // 2
    assert (short.plan["order_qty"] <= short.plan["unconstrained_qty"]).all()
    assert (short.plan["unconstrained_qty"] == full.plan["order_qty"]).all()
    assert (
        f"supply {wanted // 2:,.0f} of {wanted:,.0f} ordered for 1 SKU (SKU08)"
        in (short.warnings[-1])
    )
    assert not any("supply" in w for w in full.warnings)
    enough = pd.DataFrame({"sku_id": ["SKU08"], "supply": [wanted]})
    plenty = replenishment_plan(settings, positions=positions, model=champion, supply=enough)
    assert not any("supply" in w for w in plenty.warnings)


def test_short_supply_reads_the_moq_as_the_plan_does(settings, sales_store, champion):
    from models.replenishment import ReplenishmentConfig

    positions = pd.DataFrame(
        [("SKU08", "WH-GZ", 0, 0, 3.0, 500), ("SKU08", "WH-SH", 0, 0, 3.0, 500)],
        columns=[*POSITION_COLUMNS, "moq"],
    )
    supply = pd.DataFrame({"sku_id": ["SKU08"], "supply": [100]})
    pooled = ReplenishmentConfig(moq_scope="sku")
    plan = replenishment_plan(
        settings, positions=positions, model=champion, supply=supply, config=pooled
    ).plan
    assert plan["unconstrained_qty"].sum() >= 500 and plan["order_qty"].sum() == 100
    for reason, qty in zip(plan["reason"], plan["order_qty"], strict=True):
        assert ("the SKU's 100 units across its warehouses are below its MOQ of 500" in reason) == (
            qty > 0
        )
        assert "; below the MOQ" not in reason


# -- files -------------------------------------------------------------------------------------


def test_read_positions_from_csv_and_xlsx(tmp_path):
    frame = pd.DataFrame(
        {
            "sku_id": ["SKU01"],
            "warehouse_id": ["WH-SH"],
            "on_hand": [3],
            "in_transit": [0],
            "lead_time_weeks": [2],
            "service_level": [0.9],
        }
    )
    frame.to_csv(tmp_path / "pos.csv", index=False)
    frame.to_excel(tmp_path / "pos.xlsx", index=False)
    for name in ("pos.csv", "pos.xlsx"):
        got = read_positions(tmp_path / name)
        pd.testing.assert_frame_equal(got, frame, check_dtype=False)


def test_read_positions_names_missing_columns_and_unreadable_files(tmp_path):
    pd.DataFrame({"sku_id": ["A"], "on_hand": [1]}).to_csv(tmp_path / "thin.csv", index=False)
    with pytest.raises(
        InvalidParameterError, match="lacks the columns warehouse_id, in_transit, lead_time_weeks"
    ):
        read_positions(tmp_path / "thin.csv")
    with pytest.raises(UnreadableFileError, match="Cannot read the positions file"):
        read_positions(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UnreadableFileError, match="Cannot read the positions file"):
        read_positions(tmp_path / "empty.csv")
    header = ",".join(POSITION_COLUMNS) + "\n"
    (tmp_path / "header.csv").write_text(header, "utf-8")
    with pytest.raises(UnreadableFileError, match="has a header but no rows"):
        read_positions(tmp_path / "header.csv")


def test_read_positions_reads_the_headers_and_ids_planners_write(tmp_path, caplog):
    (tmp_path / "pos.csv").write_text(
        "SKU,仓库, On Hand ,在途,提前期(周),MOQ,Case Pack,service_level ,review_weeks,备注,"
        "lead_time_days\n"
        '="00123",\'WH-SH,3,0,2,0,1,0.99,4,新品,14\n'
        "SKU01\u200b,WH-GZ,5,1,2,,,,,,14\n",
        "utf-8",
    )
    with caplog.at_level("WARNING", logger="services.forecasting"):
        got = read_positions(tmp_path / "pos.csv")
    assert list(got.columns[:9]) == [
        "sku_id", "warehouse_id", "on_hand", "in_transit", "lead_time_weeks", "moq",
        "case_pack", "service_level", "review_period_weeks",
    ]  # fmt: skip
    assert got["sku_id"].tolist() == ["00123", "SKU01"]  # guards and hidden characters gone
    assert got["warehouse_id"].tolist() == ["WH-SH", "WH-GZ"]
    assert got["service_level"].tolist()[0] == 0.99 and got["review_period_weeks"][0] == 4
    assert "column(s) not read: '备注'; 'lead_time_days' (a lead time: give it in weeks" in (
        caplog.text
    )


@pytest.mark.parametrize(
    "text",
    [
        "sku_id,warehouse_id,on_hand,in_transit,lead_time_weeks\nSKU01,WH-SH,3,0,2,\n"
        "SKU02,WH-GZ,4,1,2,\n",  # a comma ending every row but the header's
        "sku_id;warehouse_id;on_hand;in_transit;lead_time_weeks\nSKU01;WH-SH;3;0;2\n"
        "SKU02;WH-GZ;4;1;2\n",  # semicolons, as European Excel saves CSV
        "sku_id\twarehouse_id\ton_hand\tin_transit\tlead_time_weeks\nSKU01\tWH-SH\t3\t0\t2\n"
        "\t\t\t\t\nSKU02\tWH-GZ\t4\t1\t2\n",  # tabs, and a row empty throughout
    ],
)
def test_read_positions_reads_rows_as_spreadsheets_save_them(tmp_path, text):
    (tmp_path / "pos.csv").write_text(text, "utf-8")
    got = read_positions(tmp_path / "pos.csv")
    assert got[["sku_id", "warehouse_id"]].values.tolist() == [
        ["SKU01", "WH-SH"],
        ["SKU02", "WH-GZ"],
    ]
    assert got["on_hand"].tolist() == [3, 4] and got["lead_time_weeks"].tolist() == [2, 2]


def test_a_columns_own_name_wins_over_an_alias_and_the_most_telling_alias_over_others(
    tmp_path, caplog
):
    (tmp_path / "pos.csv").write_text(
        "SKU,sku_id,仓库,库存,可用库存,在途,lead_time_weeks,pack\n"
        "保温杯,SKU01,上海仓,500,65,0,3,3\n",  # SKU: a name; 库存: all the stock; pack: a 3-pack
        "utf-8",
    )
    with caplog.at_level("WARNING", logger="services.forecasting"):
        got = read_positions(tmp_path / "pos.csv")
    row = got.iloc[0]
    assert (row["sku_id"], row["warehouse_id"], row["on_hand"]) == ("SKU01", "上海仓", 65)
    assert "case_pack" not in got.columns  # the SKU master's pack, not a 3-pack
    assert (
        "column(s) not read: 'SKU' (sku_id is read from another column); '库存' (on_hand is "
        "read from another column); 'pack' (is it case_pack?)" in caplog.text
    )


def test_a_semicolon_file_with_european_thousands_is_refused_not_misread(tmp_path):
    header = "sku_id;warehouse_id;on_hand;in_transit;lead_time_weeks\n"
    (tmp_path / "pos.csv").write_text(header + "SKU01;WH-SH;1.200;0;2\n", "utf-8")
    with pytest.raises(UnreadableFileError, match="semicolons and writes '1.200' in on_hand"):
        read_positions(tmp_path / "pos.csv")
    (tmp_path / "pos.csv").write_text(header + "SKU01;WH-SH;4,5;0;2\n", "utf-8")
    assert read_positions(tmp_path / "pos.csv")["on_hand"].tolist() == [4.5]  # a decimal comma


def test_a_workbook_is_read_from_its_visible_sheets_that_hold_the_table(tmp_path, caplog):
    import openpyxl

    columns = list(POSITION_COLUMNS)
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["每周一更新，提前期以周计"])
    for name, rows in [
        ("old", [["SKU01", "WH-SH", 900, 0, 2]]),
        ("WH-SH", [["SKU01", "WH-SH", 3, 0, 2]]),
        ("WH-GZ", [["SKU01", "WH-GZ", 4, 0, 2], ["SKU02", "WH-GZ", 5, 0, 2]]),
    ]:
        sheet = book.create_sheet(name)
        for row in [columns, *rows]:
            sheet.append(row)
    book["old"].sheet_state = "hidden"  # last month's figures, kept out of sight
    book.save(tmp_path / "pos.xlsx")

    with caplog.at_level("WARNING", logger="services.forecasting"):
        got = read_positions(tmp_path / "pos.xlsx")

    assert got[["sku_id", "warehouse_id", "on_hand"]].values.tolist() == [
        ["SKU01", "WH-SH", 3], ["SKU01", "WH-GZ", 4], ["SKU02", "WH-GZ", 5],
    ]  # fmt: skip
    assert "read 2 sheets with its columns: 'WH-SH' (1 rows), 'WH-GZ' (2 rows)" in caplog.text
    assert "sheet(s) '说明' not read" in caplog.text and "'old'" not in caplog.text


def test_a_corrupt_positions_workbook_is_unreadable(tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UnreadableFileError, match="Cannot read the positions file"):
        read_positions(tmp_path / "broken.xlsx")


@pytest.fixture
def plan_result() -> PlanResult:
    plan = pd.DataFrame(
        {"sku_id": ["SKU01"], "warehouse_id": ["WH-SH"], "order_qty": [12.0], "reason": ["补货"]}
    )
    errors = pd.DataFrame(
        [("SKU99", "WH-SH", "sku_id", "unknown SKU 'SKU99'")], columns=list(ERROR_COLUMNS)
    )
    return PlanResult(
        plan=plan,
        errors=errors,
        as_of=pd.Timestamp("2024-05-08").date(),
        forecast_start=pd.Timestamp("2024-05-06").date(),
    )


def test_write_plan_csv_writes_the_errors_beside_it(plan_result, tmp_path):
    files = write_plan(plan_result, tmp_path / "out" / "plan.csv")
    assert files == [tmp_path / "out" / "plan.csv", tmp_path / "out" / "plan.errors.csv"]
    # utf-8 with a BOM, so Excel shows the Chinese reasons
    assert files[0].read_bytes().startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(pd.read_csv(files[0], encoding="utf-8-sig"), plan_result.plan)
    pd.testing.assert_frame_equal(pd.read_csv(files[1], encoding="utf-8-sig"), plan_result.errors)


def test_write_plan_xlsx_has_a_plan_and_an_errors_sheet(plan_result, tmp_path):
    files = write_plan(plan_result, tmp_path / "plan.xlsx")
    assert files == [tmp_path / "plan.xlsx"]
    sheets = pd.read_excel(files[0], sheet_name=None)
    assert list(sheets) == ["plan", "errors"]
    pd.testing.assert_frame_equal(sheets["plan"], plan_result.plan, check_dtype=False)
    pd.testing.assert_frame_equal(sheets["errors"], plan_result.errors)


@pytest.mark.parametrize("name", ["plan.txt", "plan.xls", "plan"])
def test_write_plan_rejects_other_suffixes(plan_result, tmp_path, name):
    with pytest.raises(InvalidParameterError, match=r"must end in \.csv or \.xlsx"):
        write_plan(plan_result, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_bad_supply_rows_are_reported_and_the_rest_of_the_plan_is_allocated(
    settings, sales_store, champion, tmp_path
):
    positions = pd.DataFrame(
        [
            ("SKU08", "WH-GZ", 0, 0, 3.0),
            ("SKU08", "WH-SH", 0, 0, 3.0),
            ("SKU01", "WH-SH", 0, 0, 3.0),
            ("SKU02", "WH-SH", 0, 0, 3.0),
        ],
        columns=POSITION_COLUMNS,
    )
    full = replenishment_plan(settings, positions=positions, model=champion).plan
    wanted = full.loc[full["sku_id"] == "SKU08", "order_qty"].sum()
    assert wanted > 2 and (full["order_qty"] > 0).all()
    (tmp_path / "supply.csv").write_text(
        f"sku_id,supply\nSKU08,{wanted // 2:.0f}\nSKU01,-5\nSKU99,10\n,7\nSKU02,3\nSKU02,4\n",
        encoding="utf-8",
    )
    supply = read_supply(tmp_path / "supply.csv")
    result = replenishment_plan(settings, positions=positions, model=champion, supply=supply)

    plan = result.plan.set_index(["sku_id", "warehouse_id"])
    assert len(plan) == 4  # every position is still planned
    assert plan.loc["SKU08", "order_qty"].sum() == wanted // 2
    # a SKU whose supply row is bad keeps its orders in full, and says why
    for sku in ("SKU01", "SKU02"):
        row = plan.loc[(sku, "WH-SH")]
        assert (
            row["order_qty"]
            == row["unconstrained_qty"]
            == full.set_index(["sku_id", "warehouse_id"]).loc[(sku, "WH-SH"), "order_qty"]
        )
        assert row["allocation_reason"] == "no supply figure for this SKU; full order kept"
    errors = result.errors
    assert list(errors.columns) == list(ERROR_COLUMNS)
    assert errors[["sku_id", "field"]].values.tolist() == [
        ["SKU01", "supply"],
        ["SKU99", "sku_id"],
        [None, "sku_id"],
        ["SKU02", "sku_id"],
        ["SKU02", "sku_id"],
    ]
    reasons = errors["reason"].tolist()
    assert reasons[0].startswith("supply is '-5'; it must be a whole number of units >= 0")
    assert "orders are kept in full" in reasons[0]
    assert reasons[1].startswith("unknown SKU 'SKU99' in the supply")
    assert "did you mean" not in reasons[1]
    assert reasons[2].startswith("a supply row ('7' units) has no SKU id")
    assert reasons[3].startswith("this SKU has 2 rows in the supply")
    assert errors["warehouse_id"].isna().all()


def test_a_supply_sku_in_other_letter_case_gets_a_did_you_mean(settings, sales_store, champion):
    positions = pd.DataFrame([("SKU08", "WH-GZ", 0, 0, 3.0)], columns=POSITION_COLUMNS)
    supply = pd.DataFrame({"sku_id": ["sku08"], "supply": [1]})
    result = replenishment_plan(settings, positions=positions, model=champion, supply=supply)
    assert result.errors["reason"].tolist() == [
        "unknown SKU 'sku08' in the supply: not in the store's SKU master; check the id "
        "(did you mean 'SKU08'?)"
    ]
    # as a positions file's unknown SKU gets it
    positions.loc[0, "sku_id"] = "sku08"
    result = replenishment_plan(settings, positions=positions, model=champion)
    assert result.errors["reason"].iat[0].endswith("check the id (did you mean 'SKU08'?)")


def test_a_supply_frame_without_its_columns_is_a_contract_violation(
    settings, sales_store, champion
):
    positions = pd.DataFrame([("SKU08", "WH-GZ", 0, 0, 3.0)], columns=POSITION_COLUMNS)
    with pytest.raises(ContractViolation, match="without supply"):
        replenishment_plan(
            settings,
            positions=positions,
            model=champion,
            supply=pd.DataFrame({"sku_id": ["SKU08"], "units": [3]}),
        )


def test_read_supply_from_csv_and_xlsx_keeps_sku_ids_as_text(tmp_path):
    frame = pd.DataFrame({"sku_id": ["00123", "SKU01"], "supply": [5, 0]})
    frame.to_csv(tmp_path / "supply.csv", index=False)
    frame.to_excel(tmp_path / "supply.xlsx", index=False)
    for name in ("supply.csv", "supply.xlsx"):
        got = read_supply(tmp_path / name)
        pd.testing.assert_frame_equal(got, frame, check_dtype=False)


def test_supply_typed_with_thousands_separators_is_read_as_positions_are():
    from services.forecasting import _usable_supply

    supply = pd.DataFrame({"sku_id": ["A", "B"], "supply": ["1,200", "1.200,5"]})
    usable, errors = _usable_supply(supply, {"A", "B"})
    assert usable.set_index("sku_id")["supply"].to_dict() == {"A": 1200}
    assert errors["sku_id"].tolist() == ["B"] and "'1.200,5'" in errors["reason"].iat[0]


def test_read_supply_names_a_missing_file_missing_columns_and_unreadable_files(tmp_path):
    with pytest.raises(UnreadableFileError, match="supply file .*missing.csv: it does not exist"):
        read_supply(tmp_path / "missing.csv")
    pd.DataFrame({"sku_id": ["A"], "units": [1]}).to_csv(tmp_path / "thin.csv", index=False)
    with pytest.raises(
        InvalidParameterError, match="lacks the columns supply; it needs sku_id, supply.*units"
    ):
        read_supply(tmp_path / "thin.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UnreadableFileError, match="Cannot read the supply file"):
        read_supply(tmp_path / "empty.csv")
    # Excel's plain CSV on Chinese Windows is GBK: read, as its headers' Chinese names are
    (tmp_path / "gbk.csv").write_bytes("商品编码,可分配量\n衬衫,5\n".encode("gbk"))
    assert read_supply(tmp_path / "gbk.csv").to_dict("records") == [{"sku_id": "衬衫", "supply": 5}]
    (tmp_path / "utf16.csv").write_bytes("sku_id,supply\nA,5\n".encode("utf-16"))
    with pytest.raises(UnreadableFileError, match="UTF-16.*UTF-8 or GBK"):
        read_supply(tmp_path / "utf16.csv")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UnreadableFileError, match="Cannot read the supply file"):
        read_supply(tmp_path / "broken.xlsx")


def test_a_supply_file_with_a_header_but_no_rows_is_unreadable_not_unconstrained(tmp_path):
    (tmp_path / "header.csv").write_text("sku_id,supply\n", "utf-8")
    pd.DataFrame(columns=["sku_id", "supply"]).to_excel(tmp_path / "header.xlsx", index=False)
    for name in ("header.csv", "header.xlsx"):
        with pytest.raises(UnreadableFileError, match="has a header but no rows.*leave out"):
            read_supply(tmp_path / name)
