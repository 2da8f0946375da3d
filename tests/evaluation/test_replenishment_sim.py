"""Replenishment simulation on tiny hand-made arrays; the online-retail runner on a toy folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.replenishment_sim import (
    SimResult,
    butler_policy,
    empirical_forecasts,
    last_year_levels,
    main,
    mean_cover_levels,
    naive_policies,
    order_up_to,
    plot_tradeoff,
    run_online_retail,
    sim_metrics,
    simulate,
)
from features.errors import InvalidParameterError
from models.replenishment import TAIL_QUANTILES, ReplenishmentConfig


def scripted(orders: dict[int, float], n: int = 1):
    """A policy ordering ``orders[t]`` at the end of week ``t`` (nothing otherwise)."""
    seen = []

    def policy(t, on_hand, in_transit):
        seen.append((t, on_hand.copy(), in_transit.copy()))
        return np.full(n, float(orders.get(t, 0)))

    policy.seen = seen
    return policy


def test_lost_sales_arithmetic():
    demand = np.array([[0.0, 5, 10, 3]])
    result = simulate(demand, scripted({0: 8}), start=1, lead_time=2)
    assert result.served.tolist() == [[5, 3, 0]]
    assert result.on_hand.tolist() == [[3, 0, 0]]
    m = sim_metrics(result)
    assert m["fill_rate"] == pytest.approx(8 / 18)
    assert m["units_lost"] == 10
    assert m["stockout_week_share"] == pytest.approx(2 / 3)  # weeks 2 and 3 lose demand
    assert m["avg_inventory"] == pytest.approx(1)
    assert m["weeks_of_cover"] == pytest.approx(3 / 18)


@pytest.mark.parametrize("lead_time", [0, 1, 2, 3])
def test_an_order_arrives_lead_time_plus_one_weeks_after_its_week_ends(lead_time):
    demand = np.zeros((1, 10))
    policy = scripted({2: 100})  # placed at the end of week 2
    result = simulate(demand, policy, start=1, lead_time=lead_time)
    arrival = 2 + lead_time + 1
    on_hand = result.on_hand[0]  # weeks 1..9
    assert on_hand[: arrival - 1].sum() == 0
    assert on_hand[arrival - 1] == 100
    # while on its way, the policy sees it as in transit, not on hand
    seen = {t: (oh[0], it[0]) for t, oh, it in policy.seen}
    for t in range(3, arrival):
        assert seen[t] == (0, 100)
    if arrival < 10:
        assert seen.get(arrival, (100, 0)) == (100, 0)


def test_arrival_comes_before_that_weeks_demand():
    demand = np.array([[0.0, 0, 0, 0, 7, 0]])
    result = simulate(demand, scripted({1: 7}), start=1, lead_time=2)  # arrives week 4
    assert result.served[0].tolist() == [0, 0, 0, 7, 0]


def test_orders_that_cannot_arrive_are_not_placed():
    policy = scripted({})
    simulate(np.zeros((1, 8)), policy, start=3, lead_time=2)
    assert [t for t, _, _ in policy.seen] == [2, 3, 4]  # 4 + 3 = 7 is the last week


def test_fill_rate_of_infinite_and_zero_stock():
    rng = np.random.default_rng(0)
    demand = rng.poisson(5, size=(20, 30)).astype(float)
    demand[3, :10] = np.nan  # a series live from week 10
    full = simulate(demand, scripted({9: 1e9}, n=20), start=10)
    empty = simulate(demand, scripted({}, n=20), start=10)
    assert sim_metrics(full)["fill_rate"] == 1
    assert sim_metrics(full)["stockout_week_share"] == 0
    assert sim_metrics(empty)["fill_rate"] == 0
    assert sim_metrics(empty)["avg_inventory"] == 0
    assert sim_metrics(empty)["stockout_week_share"] == 1


def test_metrics_can_count_some_series():
    result = SimResult(
        demand=np.array([[10.0, 0], [4, 4]]),
        served=np.array([[10.0, 0], [0, 4]]),
        on_hand=np.array([[5.0, 5], [0, 0]]),
        orders=np.zeros((2, 2)),
    )
    assert sim_metrics(result, rows=np.array([True, False]))["fill_rate"] == 1
    assert sim_metrics(result)["fill_rate"] == pytest.approx(14 / 18)
    assert sim_metrics(result)["stockout_week_share"] == pytest.approx(1 / 3)


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="The `lead_time` parameter of `simulate`"):
        simulate(np.zeros((1, 5)), scripted({}), start=1, lead_time=1.5)
    with pytest.raises(InvalidParameterError, match="The `start` parameter of `simulate`"):
        simulate(np.zeros((1, 5)), scripted({}), start=0)


def test_order_up_to_orders_the_gap_in_whole_units():
    policy = order_up_to(np.array([[10.0], [10.0], [10.4]]))
    qty = policy(0, np.array([3.0, 12.0, 0.0]), np.array([2.0, 0.0, 0.0]))
    assert qty.tolist() == [5, 0, 11]


def test_mean_cover_uses_the_last_four_live_weeks():
    demand = np.array([[np.nan, np.nan, 4.0, 8.0, 0.0, 12.0, 20.0]])
    levels = mean_cover_levels(demand, cover_weeks=3)
    assert levels[0, :2].tolist() == [0, 0]
    assert levels[0, 3] == pytest.approx(6 * 3)  # mean of 4, 8
    assert levels[0, 5] == pytest.approx(6 * 3)  # mean of 4, 8, 0, 12
    assert levels[0, 6] == pytest.approx(10 * 3)  # mean of 8, 0, 12, 20


def test_last_year_sums_the_protected_weeks_52_weeks_earlier():
    n_weeks = 70
    demand = np.arange(n_weeks, dtype=float)[None, :].repeat(2, axis=0)
    demand[1, :10] = np.nan  # second series starts in week 10
    levels, known = last_year_levels(demand, lead_time=2)
    t = 60  # protects weeks 61, 62, 63 → their sales in weeks 9, 10, 11
    assert levels[0, t] == 9 + 10 + 11
    assert known[0, t] and not known[1, t]
    assert known[1, t + 1] and levels[1, t + 1] == 10 + 11 + 12
    assert not known[:, :51].any()  # week t + 1 - 52 must exist
    assert known[0, 51] and levels[0, 51] == 0 + 1 + 2


def test_naive_last_year_falls_back_to_mean_cover():
    demand = np.full((2, 60), 6.0)
    demand[0, :52] = 2.0  # last year sold 2 a week
    demand[1, :20] = np.nan  # no history a year back
    policies = naive_policies(demand, lead_time=2)
    zero = np.zeros(2)
    assert policies["last_year"](55, zero, zero).tolist() == [6, 18]  # 3 × 2; 3 × mean 6
    assert policies["mean_cover"](55, zero, zero).tolist() == [18, 18]
    doubled = naive_policies(demand, lead_time=2, multiplier=2.0)["last_year"]
    assert doubled(55, zero, zero).tolist() == [12, 36]


def test_empirical_stand_in_forecast():
    weeks = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    demand = np.vstack([np.arange(20.0), np.r_[np.full(15, np.nan), np.ones(5)]])
    fc = empirical_forecasts(demand, ["a", "b"], weeks, [12, 16], horizon=3, window=13)
    first = fc[(fc["cutoff"] == weeks[12]) & (fc["unique_id"] == "a")]
    assert first["week"].tolist() == list(weeks[13:16])
    assert first["mean"].iat[0] == 6 and first["p50"].iat[0] == 6
    assert first["p95"].iat[0] == pytest.approx(np.quantile(np.arange(13.0), 0.95))
    assert set(fc[fc["cutoff"] == weeks[12]]["unique_id"]) == {"a"}  # b is not live yet
    assert (fc[fc["unique_id"] == "b"]["mean"] == 1).all()


def test_butler_policy_orders_through_the_production_policy():
    weeks = pd.date_range("2024-01-01", periods=12, freq="W-MON")
    keys = pd.DataFrame({"sku_id": ["A", "B"], "warehouse_id": ["UK", "UK"]})
    demand = np.array([[10.0] * 12, [4.0] * 12])
    fc = empirical_forecasts(demand, ["A", "B"], weeks, range(3, 11), horizon=3)
    by_week = {
        int(np.flatnonzero(weeks == c)[0]): f.rename(columns={"unique_id": "sku_id"})
        .assign(warehouse_id="UK")
        .drop(columns="cutoff")
        for c, f in fc.groupby("cutoff")
    }
    policy = butler_policy(
        by_week, keys, lead_time=2, config=ReplenishmentConfig(service_level=0.95)
    )
    assert policy(3, np.array([12.0, 0]), np.array([0.0, 0])).tolist() == [18, 12]
    assert policy(0, np.zeros(2), np.zeros(2)).tolist() == [0, 0]  # no forecast that week
    result = simulate(demand, policy, start=4, lead_time=2)
    m = sim_metrics(result)
    assert m["fill_rate"] == 1
    # order-up-to = exactly L + R weeks of a known demand: the shelf is empty at each week's end
    assert result.on_hand[0].tolist() == [20, 10, 0, 0, 0, 0, 0, 0]
    assert m["avg_inventory"] == pytest.approx((30 + 12) / 16)


@pytest.fixture
def retail_dir(tmp_path: Path) -> Path:
    """A toy online_retail_weekly folder: 4 series over 64 weeks, one starting late."""
    rng = np.random.default_rng(1)
    weeks = pd.date_range("2010-01-04", periods=64, freq="W-MON").date
    frames = []
    for item, channel, rate, first in [
        ("10001", "UK", 30, 0),
        ("10001", "INTL", 3, 0),
        ("10002", "UK", 0.4, 5),
        ("10003", "UK", 8, 60),
    ]:
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"{item}_{channel}",
                    "item_id": item,
                    "channel": channel,
                    "week": weeks[first:],
                    "units": rng.poisson(rate, size=64 - first).astype("int32"),
                }
            )
        )
    pd.concat(frames).to_parquet(tmp_path / "sales.parquet")
    return tmp_path


def test_run_online_retail_and_plot(retail_dir: Path, tmp_path: Path):
    from evaluation.replenishment_sim import load_demand

    series, weeks, demand = load_demand(retail_dir)
    assert (
        demand.shape == (4, 64) and np.isnan(demand[series["unique_id"] == "10003_UK", :60]).all()
    )
    fc = empirical_forecasts(demand, series["unique_id"], weeks, range(55, 63), horizon=3)
    report = run_online_retail(
        retail_dir, fc, n_weeks=8, service_levels=(0.8, 0.95), multipliers=(1.0, 2.0)
    )
    table = report.table
    assert table["policy"].tolist() == [
        "butler P80", "butler P95", "mean_cover ×1", "last_year ×1", "mean_cover ×2",
        "last_year ×2",
    ]  # fmt: skip
    assert table["fill_rate"].between(0, 1).all()
    assert report.summary["n_series"] == 3  # 10003_UK starts inside the window
    assert report.summary["assumptions"]["lead_time_weeks"] == 2
    butler = table.set_index("policy")
    assert butler.loc["butler P95", "avg_inventory"] >= butler.loc["butler P80", "avg_inventory"]
    json.dumps(report.to_dict(), default=str)
    png = plot_tradeoff(table, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_with_the_stand_in(retail_dir: Path, tmp_path: Path, capsys):
    out = main(
        ["--data", str(retail_dir), "--stand-in", "--weeks", "6",
         "--out-json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "s.png")]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "STAND-IN" in printed and "butler P95" in printed
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["n_weeks"] == 6
    assert (tmp_path / "s.png").exists()
    assert out["summary"]["forecast"].startswith("STAND-IN")


def test_the_forecast_tail_reaches_the_policy_and_the_measure_is_recorded(retail_dir: Path):
    from evaluation.replenishment_sim import load_demand

    series, weeks, demand = load_demand(retail_dir)
    fc = empirical_forecasts(demand, series["unique_id"], weeks, range(55, 63), horizon=3)
    tailed = fc.assign(**{c: fc["p95"] * 10 for c in TAIL_QUANTILES})
    runs = {}
    for name, frame, measure in [
        ("plain", fc, "fill_rate"),
        ("tailed", tailed, "fill_rate"),
        ("tailed cycle", tailed, "cycle"),
    ]:
        report = run_online_retail(
            retail_dir, frame, n_weeks=8, service_levels=(0.95,), multipliers=(1.0,),
            service_measure=measure,
        )  # fmt: skip
        assert report.summary["service_measure"] == measure
        assert report.summary["forecast_tail"] == (frame is tailed)
        runs[name] = report.table.set_index("policy").loc["butler P95", "avg_inventory"]
    # a tail ten times the P95 makes a fill-rate target hold more stock than the gamma did
    assert runs["tailed"] > runs["plain"]
    assert runs["tailed cycle"] != runs["tailed"]
