"""Replenishment: hand-checked arithmetic, gamma and quantile oracles, fill-rate and cycle
targets, monotonicity, bad rows, allocation."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import gammaincc, gammaincinv

from features.errors import ContractViolation, InvalidParameterError
from models.replenishment import (
    ERROR_COLUMNS,
    PLAN_COLUMNS,
    TAIL_QUANTILES,
    ReplenishmentConfig,
    ReplenishmentPolicy,
    allocate,
    fit_weekly_shape,
)

WEEKS = pd.date_range("2024-06-03", periods=8, freq="W-MON")
_FAST = settings(max_examples=40, deadline=None)
CYCLE = ReplenishmentConfig(service_measure="cycle")


def forecast(sku: str = "A", wh: str = "W1", *, weeks: int = 8, mean=10.0, q=None) -> pd.DataFrame:
    """``weeks`` forecast rows; ``mean`` and ``q`` (p50, p80, p90, p95) per week or for all."""
    means = np.broadcast_to(np.asarray(mean, float), (weeks,))
    if q is None:
        qs = np.broadcast_to(means, (4, weeks))
    else:
        qs = np.broadcast_to(np.asarray(q, float), (weeks, 4)).T
    return pd.DataFrame(
        {
            "sku_id": sku,
            "warehouse_id": wh,
            "week": WEEKS[:weeks],
            "mean": means,
            "p50": qs[0],
            "p80": qs[1],
            "p90": qs[2],
            "p95": qs[3],
        }
    )


def position(sku: str = "A", wh: str = "W1", **values) -> dict:
    row = {"sku_id": sku, "warehouse_id": wh, "on_hand": 0.0, "in_transit": 0.0}
    row["lead_time_weeks"] = 2.0
    row.update(values)
    return row


def plan_one(fc: pd.DataFrame | None = None, config=None, **values) -> pd.Series:
    result = ReplenishmentPolicy(config).plan(
        pd.DataFrame([position(**values)]), forecast() if fc is None else fc
    )
    assert result.errors.empty, result.errors.to_dict("records")
    return result.plan.iloc[0]


def gamma_quantiles(mean: float, shape: float) -> list[float]:
    return [gammaincinv(shape, p) * mean / shape for p in (0.5, 0.8, 0.9, 0.95)]


# --- hand-checked arithmetic on a known demand of 10 a week ---------------------------------


def test_known_demand_order_rounds_up_to_case_packs():
    row = plan_one(on_hand=12, case_pack=12)

    assert list(row.index) == list(PLAN_COLUMNS)
    assert row.demand_mean_lr == 30  # L + R = 2 + 1 weeks × 10
    assert row.order_up_to == 30
    assert row.order_qty == 24  # 30 - 12 = 18 → 2 cases of 12
    assert row.cases == 2
    assert row.weeks_of_cover == pytest.approx(1.2)  # 12 / 10 a week
    assert row.stockout_probability == 1  # 20 units in the lead time, 12 in stock
    assert row.reason == (
        "order-up-to 30 for a 95% fill rate over 3 weeks (lead time 2 + review 1), "
        "stock + in transit is 12, order 24 = 2 cases of 12"
    )


def test_known_demand_under_a_cycle_target_orders_the_same_and_says_so():
    row = plan_one(config=CYCLE, on_hand=12, case_pack=12)
    assert (row.order_up_to, row.order_qty, row.cases) == (30, 24, 2)
    assert row.reason == (
        "P95 demand over 3 weeks (lead time 2 + review 1) is 30, stock + in transit is 12, "
        "order 24 = 2 cases of 12"
    )
    row = plan_one(config=CYCLE, on_hand=500)
    assert row.reason == "no order: stock + in transit 500 covers P95 demand 30 over 3 weeks"


def test_moq_raises_a_positive_order_before_case_rounding():
    row = plan_one(on_hand=12, case_pack=12, moq=30)
    assert (row.order_qty, row.cases) == (36, 3)  # 18 → MOQ 30 → 3 cases of 12
    assert "raised to the MOQ of 30" in row.reason
    # the rules the order was rounded to are columns a buyer can filter on, next to it
    assert (row.moq, row.case_pack) == (30, 12)
    assert PLAN_COLUMNS.index("moq") == PLAN_COLUMNS.index("order_qty") + 1
    assert "weeks of this warehouse's demand" not in row.reason  # 36 units: 3.6 weeks


def test_an_moq_of_months_of_a_warehouses_demand_says_to_order_it_together():
    row = plan_one(on_hand=12, moq=400)  # 10 a week: 400 units are 40 weeks
    assert row.order_qty == 400
    assert "(raised to the MOQ of 400: 40 weeks of this warehouse's demand; order it" in row.reason


def test_moq_and_case_pack_columns_show_the_config_when_a_row_gives_none():
    config = ReplenishmentConfig(moq=20, case_pack=6)
    positions = pd.DataFrame([position("A"), position("B", moq=5, case_pack=np.nan)])
    plan = ReplenishmentPolicy(config).plan(positions, pd.concat([forecast("A"), forecast("B")]))
    assert plan.plan[["sku_id", "moq", "case_pack"]].values.tolist() == [
        ["A", 20, 6],
        ["B", 5, 6],
    ]
    assert plan.plan["case_pack"].dtype == np.int64


def test_a_held_pair_is_planned_but_not_ordered_and_says_why():
    hold = "delisted: none of its 2 platform listings is listed"
    row = plan_one(on_hand=12, case_pack=12, hold=hold)
    # planned as before: the level and the risk are there for the buyer to see
    assert (row.order_up_to, row.stockout_probability) == (30, 1)
    assert (row.order_qty, row.cases) == (0, 0)
    assert row.reason == (
        f"not ordered: {hold}; the target would have ordered: order-up-to 30 for a 95% fill "
        "rate over 3 weeks (lead time 2 + review 1), stock + in transit is 12, order 24 = 2 "
        "cases of 12"
    )
    covered = plan_one(on_hand=500, hold=hold)
    assert covered.reason.startswith(f"not ordered: {hold}; it would not need an order anyway (")
    # a blank hold (a spreadsheet's empty cell) is no hold
    for blank in ("", "  ", None, np.nan):
        assert plan_one(on_hand=12, case_pack=12, hold=blank).order_qty == 24


def test_held_pairs_get_no_supply():
    positions = pd.DataFrame([position("A", "W1"), position("A", "W2", hold="delisted")])
    fc = pd.concat([forecast("A", "W1"), forecast("A", "W2")])
    plan = ReplenishmentPolicy().plan(positions, fc).plan
    got = allocate({"A": 100}, plan).set_index("warehouse_id")
    assert got.loc["W1", "order_qty"] == 30 and got.loc["W2", "order_qty"] == 0


def test_an_moq_of_the_whole_sku_raises_its_warehouses_orders_together():
    # A needs 10 at W1 and 35 at W2: 45 together, below the supplier's 60
    positions = pd.DataFrame(
        [position("A", "W1", on_hand=20, moq=60), position("A", "W2", on_hand=25, moq=60),
         position("A", "W3", on_hand=500, moq=60), position("B", "W1", on_hand=0, moq=10)]
    )  # fmt: skip
    fc = pd.concat(
        [forecast("A", "W1"), forecast("A", "W2", mean=20.0), forecast("A", "W3"),
         forecast("B", "W1")]
    )  # fmt: skip
    per_warehouse = ReplenishmentPolicy().plan(positions, fc).plan.set_index("warehouse_id")
    assert per_warehouse.loc["W1"].query("sku_id == 'A'")["order_qty"].item() == 60
    plan = ReplenishmentPolicy(ReplenishmentConfig(moq_scope="sku")).plan(positions, fc).plan
    a = plan[plan["sku_id"] == "A"].set_index("warehouse_id")
    # 15 more, each unit to the warehouse whose order covers least of its demand over lead
    # time + review (30 and 60): both end at two thirds of it; none to W3, which orders 0
    assert a["order_qty"].tolist() == [20, 40, 0] and a["order_qty"].sum() == 60
    assert a.loc["W1", "reason"].endswith(
        "order 20 (+10 so the SKU's orders across its warehouses reach its MOQ of 60)"
    )
    # in whole cases: the total passes the MOQ by less than one case
    cased = positions.assign(case_pack=[12, 12, 12, 1])
    plan = ReplenishmentPolicy(ReplenishmentConfig(moq_scope="sku")).plan(cased, fc).plan
    a = plan[plan["sku_id"] == "A"].set_index("warehouse_id")
    assert 60 <= a["order_qty"].sum() < 72 and (a["order_qty"] % 12 == 0).all()
    assert a.loc["W1", "reason"].endswith(f"= {a.loc['W1', 'cases']} cases of 12")
    # B alone already passes its MOQ: untouched
    assert plan.loc[plan["sku_id"] == "B", "order_qty"].item() == 30
    # a held pair neither takes part nor counts
    held = positions.assign(hold=["", "delisted", "", ""])
    plan = ReplenishmentPolicy(ReplenishmentConfig(moq_scope="sku")).plan(held, fc).plan
    a = plan[plan["sku_id"] == "A"].set_index("warehouse_id")
    assert a["order_qty"].tolist() == [60, 0, 0]
    with pytest.raises(InvalidParameterError, match="moq_scope"):
        ReplenishmentConfig(moq_scope="order")


def test_moq_does_not_create_an_order():
    row = plan_one(on_hand=30, moq=50)
    assert row.order_qty == 0


def test_stock_in_transit_counts_and_loose_units():
    row = plan_one(on_hand=5, in_transit=7)
    assert row.order_qty == 18
    assert row.reason.endswith("stock + in transit is 12, order 18")


def test_no_order_when_stock_covers_the_quantile():
    row = plan_one(on_hand=500)
    assert row.order_qty == 0 and row.cases == 0
    assert row.stockout_probability == 0
    assert row.weeks_of_cover == 50
    assert row.reason == (
        "no order: stock + in transit 500 covers the order-up-to 30 for a 95% fill rate "
        "over 3 weeks"
    )


def test_fractional_interval_counts_part_of_the_last_week():
    row = plan_one(lead_time_weeks=1.5, review_period_weeks=1)
    assert row.order_up_to == 25
    assert "over 2.5 weeks (lead time 1.5 + review 1)" in row.reason


def test_a_lead_time_given_in_days_reads_to_a_tenth_of_a_week():
    row = plan_one(lead_time_weeks=45 / 7, review_period_weeks=1)
    assert "over 7.4 weeks (lead time 6.4 + review 1)" in row.reason


def test_config_defaults_and_row_overrides():
    config = ReplenishmentConfig(service_level=0.9, review_period_weeks=2, case_pack=6)
    row = plan_one(config=config, on_hand=0)
    assert (row.service_level, row.review_period_weeks, row.order_qty) == (0.9, 2, 42)
    assert row.reason.startswith(
        "order-up-to 40 for a 90% fill rate over 4 weeks (lead time 2 + review 2)"
    )
    row = plan_one(config=config, on_hand=0, service_level=0.975, review_period_weeks=np.nan)
    assert row.service_level == 0.975 and row.review_period_weeks == 2
    assert "for a 97.5% fill rate" in row.reason


def test_zero_demand_orders_nothing():
    row = plan_one(forecast(mean=0.0), on_hand=0)
    assert row.order_qty == 0 and row.order_up_to == 0
    assert row.stockout_probability == 0
    assert np.isnan(row.weeks_of_cover)  # no demand: cover is unbounded
    assert row.reason == (
        "no order: stock + in transit 0 covers the order-up-to 0 for a 95% fill rate over 3 weeks"
    )


# --- the demand distribution against closed forms --------------------------------------------


@pytest.mark.parametrize("shape", [0.3, 1.0, 2.0, 8.0, 50.0])
def test_weekly_shape_is_recovered_from_gamma_quantiles(shape):
    fitted = fit_weekly_shape(np.array([10.0]), np.array([gamma_quantiles(10.0, shape)]))
    assert fitted[0] == pytest.approx(shape, rel=0.04)  # grid step is 6 %


def test_weekly_shape_edge_cases():
    fitted = fit_weekly_shape(np.array([10.0, 0.0]), np.array([[10.0] * 4, [0.0] * 4]))
    assert fitted[0] == np.inf and np.isnan(fitted[1])


@pytest.mark.parametrize("shape", [0.5, 2.0])
def test_interval_quantile_and_stockout_match_the_gamma_sum(shape):
    # three i.i.d. Gamma(k, θ) weeks sum to Gamma(3k, θ); the lead time's two to Gamma(2k, θ)
    fc = forecast(mean=20.0, q=gamma_quantiles(20.0, shape))
    row = plan_one(fc, config=CYCLE, on_hand=30)
    scale = 20.0 / shape
    assert row.demand_mean_lr == pytest.approx(60)
    assert row.demand_q_lr == pytest.approx(gammaincinv(3 * shape, 0.95) * scale, rel=0.03)
    assert row.stockout_probability == pytest.approx(gammaincc(2 * shape, 30 / scale), abs=0.02)


def gamma_excess(s: float, mean: float, shape: float) -> float:
    """E[(D - s)⁺] for D ~ Gamma(shape, mean / shape)."""
    scale = mean / shape
    return mean * gammaincc(shape + 1, s / scale) - s * gammaincc(shape, s / scale)


@pytest.mark.parametrize("shape", [0.5, 2.0])
def test_fill_rate_level_matches_the_gamma_expected_shortage(shape):
    # no lead time, one review week: the level s solves E[(D - s)⁺] = 5 % of E[D]
    fc = forecast(mean=20.0, q=gamma_quantiles(20.0, shape))
    row = plan_one(fc, on_hand=0, lead_time_weeks=0)
    want = brentq(lambda s: gamma_excess(s, 20.0, shape) - 0.05 * 20.0, 0, 2000)
    assert row.demand_q_lr == pytest.approx(want, rel=0.03)
    assert gamma_excess(row.demand_q_lr, 20.0, shape) <= 0.05 * 20.0 * 1.03


def uniform_tail(top: float = 100.0) -> dict[str, float]:
    """``p50 … p99_9`` of a uniform demand on [0, top]."""
    levels = {"p50": 0.5, "p80": 0.8, "p90": 0.9, "p95": 0.95, **TAIL_QUANTILES}
    return {c: top * q for c, q in levels.items()}


def test_a_forecast_with_its_tail_is_read_from_its_quantiles():
    # uniform on [0, 100]: the cycle target's P90 is 90; the fill rate's level solves
    # E[(D - s)⁺] = (100 - s)² / 200 = 5 % of 50, so s = 100 - √500
    fc = forecast(mean=50.0).assign(**uniform_tail())
    cycle = plan_one(fc, config=ReplenishmentConfig(service_level=0.9, service_measure="cycle"),
                     lead_time_weeks=0)  # fmt: skip
    fill = plan_one(fc, lead_time_weeks=0)
    assert cycle.demand_q_lr == pytest.approx(90, abs=0.2)
    assert fill.demand_q_lr == pytest.approx(100 - np.sqrt(500), abs=0.2)
    # the same p50 … p95 without the tail columns make a gamma, whose level differs
    body = forecast(mean=50.0, q=[50, 80, 90, 95])
    assert plan_one(body, lead_time_weeks=0).demand_q_lr != pytest.approx(fill.demand_q_lr, abs=1)


def test_a_heavier_tail_raises_the_fill_rate_order_not_the_cycle_one():
    light = forecast(mean=50.0).assign(**uniform_tail())
    heavy = light.assign(p99_5=300.0, p99_8=600.0, p99_9=900.0)
    # one week (no lead time): its P95 does not see the tail above P99; the fill rate does
    fill_light, fill_heavy = plan_one(light, lead_time_weeks=0), plan_one(heavy, lead_time_weeks=0)
    assert fill_heavy.order_up_to > fill_light.order_up_to
    cycle = [plan_one(f, config=CYCLE, lead_time_weeks=0).order_up_to for f in (light, heavy)]
    assert cycle == [95, 95]


def test_a_partial_or_negative_tail_is_ignored_for_the_gamma():
    base = forecast(mean=20.0, q=gamma_quantiles(20.0, 2.0))
    tail = {c: 60.0 for c in TAIL_QUANTILES}
    without = plan_one(base).order_up_to
    assert plan_one(base.assign(**{**tail, "p99_9": np.nan})).order_up_to == without
    assert plan_one(base.assign(**{**tail, "p98": -1.0})).order_up_to == without
    assert plan_one(base.assign(**tail)).order_up_to != without


def test_intermittent_item_with_zero_median_still_orders():
    row = plan_one(forecast(mean=2.0, q=[0, 2, 6, 12]), on_hand=0)
    assert 0 < row.demand_mean_lr == pytest.approx(6)
    assert row.order_qty >= row.demand_mean_lr
    assert 0 < row.stockout_probability < 1


def test_crossing_quantiles_are_sorted_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="models.replenishment"):
        crossed = plan_one(forecast(mean=10.0, q=[12, 9, 15, 20]), on_hand=0)
    assert "crossing quantiles" in caplog.text
    assert crossed.order_up_to == plan_one(forecast(mean=10.0, q=[12, 12, 15, 20])).order_up_to


def test_crossing_tail_quantiles_are_sorted_too(caplog):
    tail = uniform_tail()
    crossed = forecast(mean=50.0).assign(**{**tail, "p99": tail["p98"] - 5})
    with caplog.at_level(logging.WARNING, logger="models.replenishment"):
        row = plan_one(crossed, lead_time_weeks=0)
    assert "crossing quantiles" in caplog.text
    sorted_tail = forecast(mean=50.0).assign(**{**tail, "p99": tail["p98"]})
    assert row.order_up_to == plan_one(sorted_tail, lead_time_weeks=0).order_up_to


def test_same_seed_same_plan_and_weeks_may_differ():
    fc = forecast(mean=[5, 10, 30, 8, 8, 8, 8, 8], q=np.array([[3, 7, 9, 12]] * 8) * 2)
    a = plan_one(fc, on_hand=3)
    b = plan_one(fc, on_hand=3)
    assert a.equals(b)
    assert a.demand_mean_lr == 45


# --- monotonicity (hypothesis) -----------------------------------------------------------------

WEEKLY = st.tuples(
    st.floats(0, 500),  # mean
    st.floats(0, 2),  # p50 / mean
    st.lists(st.floats(0, 2), min_size=3, max_size=3),  # increments of p80, p90, p95 / mean
)


def _varied_forecast(weeks: list[tuple[float, float, list[float]]], skus: list[str]):
    rows = []
    for sku in skus:
        for i, (mean, p50, inc) in enumerate(weeks):
            q = mean * np.cumsum([p50, *inc])
            rows.append(dict(sku_id=sku, warehouse_id="W", week=WEEKS[i], mean=mean,
                             p50=q[0], p80=q[1], p90=q[2], p95=q[3]))  # fmt: skip
    return pd.DataFrame(rows)


def _plan_rows(weeks, rows: list[dict], config=None) -> pd.DataFrame:
    skus = [f"S{i}" for i in range(len(rows))]
    positions = pd.DataFrame([position(s, "W", **r) for s, r in zip(skus, rows, strict=True)])
    result = ReplenishmentPolicy(config).plan(positions, _varied_forecast(weeks, skus))
    assert result.errors.empty
    return result.plan


@_FAST
@given(
    weeks=st.lists(WEEKLY, min_size=8, max_size=8),
    levels=st.lists(st.floats(0.51, 0.999), min_size=2, max_size=5),
    stock=st.floats(0, 1000),
    measure=st.sampled_from(["fill_rate", "cycle"]),
)
def test_higher_service_level_never_lowers_the_order_up_to(weeks, levels, stock, measure):
    levels = sorted(levels)
    config = ReplenishmentConfig(service_measure=measure)
    plan = _plan_rows(weeks, [dict(service_level=s, on_hand=stock) for s in levels], config)
    assert np.all(np.diff(plan["order_up_to"]) >= 0)
    assert np.all(np.diff(plan["demand_q_lr"]) >= -1e-9)
    assert np.all(np.diff(plan["order_qty"]) >= 0)


@_FAST
@given(
    weeks=st.lists(WEEKLY, min_size=8, max_size=8),
    stocks=st.lists(st.floats(0, 2000), min_size=2, max_size=5),
    pack=st.integers(1, 48),
    moq=st.sampled_from([0, 10, 100]),
    measure=st.sampled_from(["fill_rate", "cycle"]),
)
def test_more_stock_never_raises_the_order_or_the_risk(weeks, stocks, pack, moq, measure):
    stocks = sorted(stocks)
    rows = [dict(on_hand=s, case_pack=pack, moq=moq) for s in stocks]
    plan = _plan_rows(weeks, rows, ReplenishmentConfig(service_measure=measure))
    assert np.all(np.diff(plan["order_qty"]) <= 0)
    assert np.all(np.diff(plan["stockout_probability"]) <= 0)
    assert plan["stockout_probability"].between(0, 1).all()
    ordered = plan[plan["order_qty"] > 0]
    assert (ordered["order_qty"] % pack == 0).all() and (ordered["order_qty"] >= moq).all()
    assert (ordered["order_qty"] == ordered["cases"] * pack).all()
    covered = plan["order_up_to"] <= plan["on_hand"] + plan["order_qty"]
    assert covered.all()


@_FAST
@given(
    weeks=st.lists(WEEKLY, min_size=8, max_size=8),
    leads=st.lists(st.floats(0, 6), min_size=2, max_size=5),
    review=st.floats(0.5, 1.5),
)
def test_longer_lead_time_never_lowers_the_order_for_a_cycle_target(weeks, leads, review):
    # (a fill-rate target may order less: if the weeks after a longer lead time sell less,
    # the order has less to serve, and what runs short before it arrives it cannot fix)
    leads = sorted(leads)
    rows = [dict(lead_time_weeks=lt, review_period_weeks=review, on_hand=50) for lt in leads]
    plan = _plan_rows(weeks, rows, CYCLE)
    assert np.all(np.diff(plan["order_up_to"]) >= 0)
    assert np.all(np.diff(plan["order_qty"]) >= 0)
    assert np.all(np.diff(plan["stockout_probability"]) >= 0)


# --- bad inputs ----------------------------------------------------------------------------------


def test_bad_rows_go_to_errors_and_the_rest_is_planned():
    fc = pd.concat(
        [
            forecast("OK"),
            forecast("NEG"),
            forecast("TRANSIT"),
            forecast("LEAD"),
            forecast("PACK"),
            forecast("SHORT", weeks=2),
            forecast("GAP").drop(index=1),
            forecast("DUP"),
            forecast("NAN", mean=[10, np.nan, 10, 10, 10, 10, 10, 10]),
            forecast("OK2", "W2"),
        ]
    )
    positions = pd.DataFrame(
        [
            position("OK", on_hand=3),
            position("NEG", on_hand=-4),
            position("TRANSIT", in_transit=-1),
            position("LEAD", lead_time_weeks=None),
            position("PACK", case_pack=0),
            position("SHORT"),
            position("GAP"),
            position("DUP"),
            position("DUP"),
            position("NAN"),
            position("UNKNOWN"),
            position("OK2", "W2", on_hand=1, lead_time_weeks=-1, service_level=1.5),
            position("OK2", "W3"),
            position(None),
            position("OK3", "W2", on_hand=0),
            position("OK3", "W4", case_pack="box"),
        ]
    )
    fc = pd.concat([fc, forecast("OK3", "W2"), forecast("OK3", "W4")])
    result = ReplenishmentPolicy().plan(positions, fc)

    assert list(result.errors.columns) == list(ERROR_COLUMNS)
    assert result.plan["sku_id"].tolist() == ["OK", "OK3"]
    assert result.plan["order_qty"].tolist() == [27, 30]
    found = {(r.sku_id, r.warehouse_id, r.field) for r in result.errors.itertuples()}
    assert found == {
        ("NEG", "W1", "on_hand"),
        ("TRANSIT", "W1", "in_transit"),
        ("LEAD", "W1", "lead_time_weeks"),
        ("PACK", "W1", "case_pack"),
        ("SHORT", "W1", "forecast"),
        ("GAP", "W1", "forecast"),
        ("DUP", "W1", "sku_id"),
        ("NAN", "W1", "forecast"),
        ("UNKNOWN", "W1", "forecast"),
        ("OK2", "W2", "lead_time_weeks"),
        ("OK2", "W2", "service_level"),
        ("OK2", "W3", "forecast"),
        (None, "W1", "sku_id"),
        ("OK3", "W4", "case_pack"),
    }
    reasons = {(r.sku_id, r.field): r.reason for r in result.errors.itertuples()}
    assert reasons[("NEG", "on_hand")].startswith(
        "on_hand is -4; it must be a number of units >= 0"
    )
    assert "missing" in reasons[("LEAD", "lead_time_weeks")]
    assert "forecast at least 3 weeks ahead" in reasons[("SHORT", "forecast")]
    assert "not consecutive after 2024-06-03" in reasons[("GAP", "forecast")]
    assert "appears 2 times" in reasons[("DUP", "sku_id")]
    assert "no forecast" in reasons[("UNKNOWN", "forecast")]


def test_ids_match_across_types_and_spaces():
    fc = forecast("101", "7")
    positions = pd.DataFrame([position(" 101", 7)])
    assert ReplenishmentPolicy().plan(positions, fc).errors.empty


def test_thousands_separated_text_is_read_and_other_text_is_quoted():
    positions = pd.DataFrame(
        [
            position("A", on_hand=" 1,200 ", in_transit="0"),
            position("B", on_hand="1.200,5"),
            position("C", on_hand=""),
            position("D", on_hand="１，２００", in_transit="３０"),  # full-width, as typed
        ],
        dtype=object,
    )
    result = ReplenishmentPolicy().plan(positions, pd.concat([forecast(s) for s in "ABCD"]))

    assert result.plan["sku_id"].tolist() == ["A", "D"]
    assert result.plan["on_hand"].tolist() == [1200.0, 1200.0]
    assert result.plan["in_transit"].tolist() == [0.0, 30.0]
    reasons = dict(zip(result.errors["sku_id"], result.errors["reason"], strict=True))
    assert reasons["B"].startswith("on_hand is '1.200,5', not a number; it must be")
    assert reasons["C"].startswith("on_hand is missing; it must be")


def test_a_cover_longer_than_a_year_is_refused_naming_weeks_and_days():
    result = ReplenishmentPolicy().plan(
        pd.DataFrame([position("A", lead_time_weeks=100)]), forecast("A")
    )

    assert result.plan.empty
    (row,) = result.errors.itertuples()
    assert row.field == "lead_time_weeks"
    assert row.reason == (
        "lead time + review is 101 weeks, more than the 52 weeks a plan looks ahead; "
        "check that the lead time is in weeks, not days"
    )


def test_missing_column_is_a_contract_violation():
    with pytest.raises(ContractViolation, match="lead_time_weeks"):
        ReplenishmentPolicy().plan(
            pd.DataFrame([position()]).drop(columns="lead_time_weeks"), forecast()
        )
    with pytest.raises(ContractViolation, match="p95"):
        ReplenishmentPolicy().plan(pd.DataFrame([position()]), forecast().drop(columns="p95"))


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"service_level": 1.2}, "service_level"),
        ({"service_level": 0.5}, "service_level"),
        ({"review_period_weeks": 0}, "review_period_weeks"),
        ({"moq": -1}, "moq"),
        ({"case_pack": 2.5}, "case_pack"),
        ({"case_pack": 0}, "case_pack"),
        ({"n_draws": 10}, "n_draws"),
        ({"service_measure": "alpha"}, "service_measure"),
    ],
)
def test_config_checks_its_values(kwargs, param):
    with pytest.raises(InvalidParameterError, match=rf"The `{param}` parameter of `Replen"):
        ReplenishmentConfig(**kwargs)


# --- allocation across warehouses ----------------------------------------------------------------


def _wh(wh: str, order: float, cases: int, demand: float, risk: float) -> dict:
    return dict(warehouse_id=wh, order_qty=order, cases=cases, demand_mean_lr=demand,
                stockout_probability=risk)  # fmt: skip


def _plan_frame(rows: list[dict]) -> pd.DataFrame:
    base = {"sku_id": "A", "on_hand": 0.0, "in_transit": 0.0}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_enough_supply_fills_every_order():
    plan = _plan_frame(
        [
            _wh("W1", 80, 80, 60, 0.9),
            _wh("W2", 40, 40, 20, 0.6),
            _wh("W3", 0, 0, 5, 0.0),
        ]
    )
    out = allocate({"A": 500}, plan)
    assert out["order_qty"].tolist() == out["unconstrained_qty"].tolist() == [80, 40, 0]
    assert (
        out["allocation_reason"][0]
        == "full order: supply 500 covers the 120 ordered across 2 warehouses"
    )
    assert out["allocation_reason"][2] == "nothing ordered"


def test_short_supply_follows_demand_and_risk_not_an_even_split():
    plan = _plan_frame(
        [
            _wh("W1", 80, 80, 60, 0.9),
            _wh("W2", 40, 40, 20, 0.6),
        ]
    )
    out = allocate(pd.DataFrame({"sku_id": ["A"], "supply": [50]}), plan)
    # round 1 (up to mean demand 60 / 20) by risk × demand = 54 : 12 → 40.9 / 9.1 → 41 / 9
    assert out["order_qty"].tolist() == [41, 9]
    assert out["allocation_reason"][0].startswith(
        "supply short (50 for 120 ordered): cut to 41 of 80 here"
    )


def test_short_supply_second_round_by_remaining_need():
    plan = _plan_frame(
        [
            _wh("W1", 80, 80, 60, 0.9),
            _wh("W2", 40, 40, 20, 0.6),
        ]
    )
    out = allocate({"A": 110}, plan)
    # round 1 fills 60 + 20; the other 30 go 20 : 20 on remaining needs 20 and 20
    assert out["order_qty"].tolist() == [75, 35]


def test_short_supply_in_whole_cases_then_loose_units():
    plan = _plan_frame(
        [
            _wh("W1", 96, 8, 90, 0.8),
            _wh("W2", 48, 4, 40, 0.5),
            _wh("W3", 24, 2, 10, 0.1),
        ]
    )
    out = allocate({"A": 72}, plan)
    assert out["order_qty"].sum() == 72
    assert (out["order_qty"] % 12 == 0).all()
    assert out["order_qty"].is_monotonic_decreasing
    out = allocate({"A": 77}, plan)
    assert out["order_qty"].sum() == 77
    assert (out["order_qty"] % 12 != 0).sum() == 1  # the 5 loose units go to one warehouse


def test_a_cut_line_says_so_and_its_order_columns_follow_the_allocation():
    # the audit's case: 10 + 2 cases of 36 ordered, MOQ 72, 200 units to split
    plan = _plan_frame(
        [
            _wh("W1", 360, 10, 284, 0.97) | {"on_hand": 65.0},
            _wh("W2", 72, 2, 32, 1.0),
        ]
    ).assign(case_pack=36, moq=72.0, reason=["order 360 = 10 cases of 36", "order 72"])
    out = allocate({"A": 200}, plan)
    assert out["unconstrained_qty"].tolist() == [360, 72]
    assert out["order_qty"].tolist() == [180, 20]
    # whole cases first; the 20 left, less than a case, go loose to the line furthest behind
    assert out["cases"].tolist() == [5, 0] and out["loose_units"].tolist() == [0, 20]
    cols = list(out.columns)
    assert cols.index("unconstrained_qty") + 1 == cols.index("order_qty")
    assert cols.index("cases") + 1 == cols.index("loose_units")
    first, second = out["reason"]
    assert first.startswith(
        "order 360 = 10 cases of 36; supply short (200 for 432 ordered): cut to 180 of 360 "
        "here = 5 cases of 36, by stock-out risk 97%"
    )
    assert "MOQ" not in first and "loose" not in first
    assert second.startswith(
        "order 72; supply short (200 for 432 ordered): cut to 20 of 72 here = 20 loose units"
    )
    assert "the 20 loose units are what the supply leaves after whole cases" in second
    assert "below the MOQ of 72, which the short supply cannot meet" in second
    assert out["allocation_reason"][1] == second.removeprefix("order 72; ")


def test_a_full_order_keeps_its_reason_and_a_short_sku_moq_is_named():
    plan = _plan_frame([_wh("W1", 48, 4, 40, 0.9), _wh("W2", 24, 2, 20, 0.5)]).assign(
        case_pack=12, moq=60.0, reason=["r1", "r2"]
    )
    full = allocate({"A": 72}, plan)
    assert full["reason"].tolist() == ["r1", "r2"]
    assert full["loose_units"].tolist() == [0, 0] and full["cases"].tolist() == [4, 2]
    # the MOQ of the warehouse: each line is below it
    each = allocate({"A": 36}, plan)
    assert each["order_qty"].sum() == 36
    assert all("below the MOQ of 60" in r for r in each["reason"] if "cut to 0" not in r)
    # the MOQ of the SKU's lines together: said once per line, of the SKU
    pooled = allocate({"A": 36}, plan, moq_scope="sku")
    assert pooled["order_qty"].tolist() == each["order_qty"].tolist()
    said = [r for r, q in zip(pooled["reason"], pooled["order_qty"], strict=True) if q > 0]
    assert said and all("the SKU's 36 units across its warehouses are below its MOQ of 60" in r
                        for r in said)  # fmt: skip
    assert not any("; below the MOQ" in r for r in pooled["reason"])
    with pytest.raises(InvalidParameterError, match="The `moq_scope` parameter of `allocate`"):
        allocate({"A": 36}, plan, moq_scope="order")


def test_allocating_a_policy_plan_keeps_its_columns_in_order():
    positions = pd.DataFrame(
        [position("A", "W1", case_pack=12, moq=24), position("A", "W2", case_pack=12, moq=24)]
    )
    plan = (
        ReplenishmentPolicy()
        .plan(positions, pd.concat([forecast("A", "W1"), forecast("A", "W2")]))
        .plan
    )
    out = allocate({"A": 30}, plan)
    assert out["unconstrained_qty"].tolist() == [36, 36]
    assert out["order_qty"].sum() == 30 and (out["cases"] * 12 + out["loose_units"]).sum() == 30
    rest = [c for c in out.columns if c not in ("unconstrained_qty", "loose_units",
                                                 "allocation_reason")]  # fmt: skip
    assert rest == list(PLAN_COLUMNS)
    # what counts the stock before this order arrives does not change
    for col in ("weeks_of_cover", "stockout_probability", "order_up_to"):
        assert out[col].tolist() == plan[col].tolist()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 24), st.floats(0, 500), st.floats(0, 1)),
        min_size=1,
        max_size=6,
    ),
    supply=st.integers(0, 2000),
)
def test_allocation_is_whole_capped_and_sums_to_supply(rows, supply):
    plan = _plan_frame([_wh(f"W{i}", c * p, c, d, r) for i, (c, p, d, r) in enumerate(rows)])
    out = allocate({"A": supply}, plan)
    alloc = out["order_qty"].to_numpy()
    assert np.all(alloc >= 0) and np.all(alloc <= out["unconstrained_qty"].to_numpy())
    assert np.all(alloc == np.round(alloc))
    assert alloc.sum() == min(supply, out["unconstrained_qty"].sum())
    # the order columns agree with what was allocated, and loose units are less than a case
    packs = np.array([p for _, p, _, _ in rows], float)
    assert np.all(out["cases"] * packs + out["loose_units"] == alloc)
    assert np.all(out["loose_units"] < packs)


def test_unknown_supply_keeps_orders_and_bad_supply_is_rejected(caplog):
    plan = _plan_frame(
        [
            dict(
                warehouse_id="W1",
                order_qty=10,
                cases=10,
                demand_mean_lr=5,
                stockout_probability=0.5,
            )
        ]
    )
    with caplog.at_level(logging.WARNING, logger="models.replenishment"):
        out = allocate({"B": 3}, plan)
    assert out["order_qty"].tolist() == [10] and "no supply given" in caplog.text
    with pytest.raises(InvalidParameterError, match="The `available` parameter of `allocate`"):
        allocate({"A": -1}, plan)
    with pytest.raises(InvalidParameterError, match="A=2.5"):
        allocate({"A": 2.5}, plan)
