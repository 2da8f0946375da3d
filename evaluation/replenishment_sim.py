"""Replenishment simulation: replay backtest weeks with an ordering policy and lost sales.

Usage:
    python -m evaluation.replenishment_sim --data /work/shared/data/online_retail_weekly \\
        --forecasts forecasts.parquet --lead-time 2 --out-json sim.json --plot sim.png

Without ``--forecasts`` the Butler policy runs on Butler's forecaster (:func:`butler_forecasts`);
``--stand-in`` swaps in empirical quantiles of each series' last 13 weeks instead
(:func:`empirical_forecasts`), to separate the policy from the forecast.

Conventions of :func:`simulate` (all in whole weeks, Monday starts):

* ``demand[i, t]`` is series ``i``'s demand in week ``t``; NaN (the series is not live yet)
  counts as no demand.
* Periodic review, ``R = 1``: at the end of each week ``t`` the policy sees stock on hand and
  stock on its way and orders. An order placed at the end of week ``t`` arrives at the start
  of week ``t + L + 1``, before that week's demand; so it has to cover weeks
  ``t + 1 … t + L + 1`` (``L + R`` weeks), which is the policy's protection interval.
* Lost sales: a week serves ``min(on hand, demand)``; the rest of its demand is lost.
* Start: before the first simulated week each series holds the policy's own first order-up-to
  level (its order at the end of the week before, with nothing on hand or on its way,
  delivered at once); nothing is on its way.

Metrics (:func:`sim_metrics`), over every series × simulated week:

* ``fill_rate`` = units served / units demanded;
* ``stockout_week_share`` = series-weeks with lost demand / series-weeks with demand > 0;
* ``avg_inventory`` = mean units on hand at the end of a week;
* ``weeks_of_cover`` = average inventory / average weekly demand.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError, UnreadableFileError
from models.replenishment import (
    QUANTILES,
    SERVICE_MEASURES,
    TAIL_QUANTILES,
    ReplenishmentConfig,
    ReplenishmentPolicy,
)

logger = logging.getLogger(__name__)

#: ``(t, on_hand, in_transit) -> order quantity`` per series, placed at the end of week ``t``.
OrderPolicy = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
#: Columns of the forecasts :func:`run_online_retail` takes (``week`` after ``cutoff``); the
#: upper-tail columns of :data:`~models.replenishment.TAIL_QUANTILES` are used when present.
FORECAST_COLUMNS = ("cutoff", "unique_id", "week", "mean", *QUANTILES)
SERVICE_LEVELS = (0.80, 0.90, 0.95, 0.98, 0.99, 0.995)
COVER_MULTIPLIERS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
_EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """Weekly arrays of one simulation, shape ``(n_series, n_simulated_weeks)``.

    Attributes:
        demand: demand (NaN counted as 0).
        served: units sold.
        on_hand: units on hand at the end of the week.
        orders: units ordered at the end of the week.
    """

    demand: np.ndarray
    served: np.ndarray
    on_hand: np.ndarray
    orders: np.ndarray


def simulate(
    demand: np.ndarray, policy: OrderPolicy, *, start: int, lead_time: int = 2
) -> SimResult:
    """Replay weeks ``start … n_weeks - 1`` of ``demand`` under ``policy`` (see the module doc).

    Args:
        demand: ``(n_series, n_weeks)`` units per week; NaN = not live.
        policy: called at the end of week ``start - 1`` with nothing on hand (its order is the
            starting stock), then at the end of every simulated week whose order can still
            arrive inside the horizon.
        start: index of the first simulated week (>= 1: the policy needs a week of history).
        lead_time: ``L``, whole weeks.

    Returns:
        The weekly arrays of the simulated weeks.

    Raises:
        InvalidParameterError: ``start`` or ``lead_time`` out of range.

    Examples:
        >>> result = simulate(demand, naive_mean_cover(demand, cover_weeks=3), start=72)
        >>> sim_metrics(result)["fill_rate"]
    """
    demand = np.asarray(demand, float)
    n, n_weeks = demand.shape
    if not (isinstance(lead_time, int | np.integer) and lead_time >= 0):
        raise InvalidParameterError(
            f"The `lead_time` parameter of `simulate` must be a whole number of weeks >= 0. "
            f"Got {lead_time!r} instead."
        )
    if not 1 <= start < n_weeks:
        raise InvalidParameterError(
            f"The `start` parameter of `simulate` must be in [1, {n_weeks - 1}]. "
            f"Got {start!r} instead."
        )
    zeros = np.zeros(n)
    on_hand = _whole(policy(start - 1, zeros, zeros))
    arrivals = np.zeros((n, n_weeks + lead_time + 2))
    weeks = n_weeks - start
    out = {k: np.zeros((n, weeks)) for k in ("demand", "served", "on_hand", "orders")}
    for k, t in enumerate(range(start, n_weeks)):
        on_hand = on_hand + arrivals[:, t]
        wanted = np.nan_to_num(demand[:, t])
        served = np.minimum(on_hand, wanted)
        on_hand = on_hand - served
        out["demand"][:, k], out["served"][:, k], out["on_hand"][:, k] = wanted, served, on_hand
        if t + lead_time + 1 < n_weeks:
            in_transit = arrivals[:, t + 1 : t + lead_time + 1].sum(axis=1)
            qty = _whole(policy(t, on_hand, in_transit))
            arrivals[:, t + lead_time + 1] += qty
            out["orders"][:, k] = qty
    return SimResult(**out)


def sim_metrics(result: SimResult, rows: np.ndarray | None = None) -> dict[str, float]:
    """Fill rate, stock-out week share, average inventory and weeks of cover (module doc).

    Args:
        result: a simulation.
        rows: boolean mask or indices of the series to count (all by default).
    """
    sel = slice(None) if rows is None else rows
    demand, served, on_hand = result.demand[sel], result.served[sel], result.on_hand[sel]
    lost = demand - served
    demanded = demand.sum()
    weeks_with_demand = (demand > 0).sum()
    return {
        "fill_rate": float(served.sum() / demanded) if demanded else float("nan"),
        "stockout_week_share": (
            float((lost > _EPS).sum() / weeks_with_demand) if weeks_with_demand else float("nan")
        ),
        "avg_inventory": float(on_hand.mean()),
        "weeks_of_cover": float(on_hand.sum() / demanded) if demanded else float("nan"),
        "units_demanded": float(demanded),
        "units_lost": float(lost.sum()),
    }


def order_up_to(levels: np.ndarray) -> OrderPolicy:
    """The policy that orders up to ``levels[:, t]`` at the end of week ``t`` (whole units)."""

    def order(t: int, on_hand: np.ndarray, in_transit: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, np.ceil(levels[:, t] - on_hand - in_transit - _EPS))

    return order


def mean_cover_levels(demand: np.ndarray, *, cover_weeks: float, window: int = 4) -> np.ndarray:
    """Naive "mean × cover": order up to the mean of the last ``window`` weeks × ``cover_weeks``.

    The mean at ``t`` is over weeks ``t - window + 1 … t`` in which the series was live (0
    when none).

    Returns:
        ``(n_series, n_weeks)`` order-up-to levels, column ``t`` for an order at the end of
        week ``t``.
    """
    live = ~np.isnan(demand)
    total = _trailing_sum(np.nan_to_num(demand), window)
    count = _trailing_sum(live.astype(float), window)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0) * cover_weeks


def last_year_levels(
    demand: np.ndarray, *, lead_time: int, review: int = 1, season: int = 52
) -> tuple[np.ndarray, np.ndarray]:
    """Naive "last year": order up to the sales of the same ``L + R`` weeks a year earlier.

    The level at the end of week ``t`` is the sum of weeks ``t + 1 - season … t + L + R -
    season``: each protected week's sales ``season`` weeks before.

    Returns:
        The ``(n_series, n_weeks)`` levels and a mask of where they exist (every one of those
        weeks live); elsewhere the level is 0 and callers fall back to another policy.
    """
    n, n_weeks = demand.shape
    span = lead_time + review
    levels = np.zeros((n, n_weeks))
    known = np.zeros((n, n_weeks), dtype=bool)
    for t in range(season - 1, n_weeks):
        past = demand[:, t + 1 - season : t + 1 - season + span]
        if past.shape[1] == span:
            known[:, t] = ~np.isnan(past).any(axis=1)
            levels[:, t] = np.where(known[:, t], np.nan_to_num(past).sum(axis=1), 0.0)
    return levels, known


def naive_policies(
    demand: np.ndarray, *, lead_time: int, multiplier: float = 1.0, review: int = 1
) -> dict[str, OrderPolicy]:
    """The two planner rules of today, with their order-up-to levels scaled by ``multiplier``.

    ``mean_cover``: last 4 weeks' mean × ``L + R`` weeks; ``last_year``: the same ``L + R``
    weeks a year earlier, or ``mean_cover`` where a series has no such history.
    """
    cover = mean_cover_levels(demand, cover_weeks=lead_time + review)
    year, known = last_year_levels(demand, lead_time=lead_time, review=review)
    return {
        "mean_cover": order_up_to(cover * multiplier),
        "last_year": order_up_to(np.where(known, year, cover) * multiplier),
    }


def butler_policy(
    forecasts: Mapping[int, pd.DataFrame],
    keys: pd.DataFrame,
    *,
    lead_time: int,
    config: ReplenishmentConfig,
) -> OrderPolicy:
    """The production policy (:class:`~models.replenishment.ReplenishmentPolicy`) as an OrderPolicy.

    Args:
        forecasts: week index ``t`` → the forecast made at the end of week ``t`` in the
            policy's form (``sku_id, warehouse_id, week, mean, p50 … p95``; its first week is
            ``t + 1``).
        keys: ``sku_id, warehouse_id`` of each series, in the simulator's row order.
        lead_time: ``L`` in weeks.
        config: service level, case pack and the rest.

    Returns:
        A policy ordering each series' ``order_qty``; series that cannot be planned at a
        week (no forecast) order nothing, logged.
    """
    policy = ReplenishmentPolicy(config)
    index = pd.MultiIndex.from_frame(keys[["sku_id", "warehouse_id"]].astype(str))
    base = keys[["sku_id", "warehouse_id"]].reset_index(drop=True)

    def order(t: int, on_hand: np.ndarray, in_transit: np.ndarray) -> np.ndarray:
        qty = np.zeros(len(base))
        frame = forecasts.get(t)
        if frame is None:
            logger.warning("no forecast made at week %d; nothing is ordered", t)
            return qty
        positions = base.assign(on_hand=on_hand, in_transit=in_transit, lead_time_weeks=lead_time)
        result = policy.plan(positions, frame)
        rows = index.get_indexer(
            pd.MultiIndex.from_frame(result.plan[["sku_id", "warehouse_id"]].astype(str))
        )
        qty[rows] = result.plan["order_qty"].to_numpy(float)
        return qty

    return order


def empirical_forecasts(
    demand: np.ndarray,
    unique_ids: Sequence[str],
    weeks: pd.DatetimeIndex,
    cutoffs: Iterable[int],
    *,
    horizon: int,
    window: int = 13,
) -> pd.DataFrame:
    """A STAND-IN forecast: each week ahead is the empirical distribution of the last weeks.

    At cutoff ``t``, every one of the next ``horizon`` weeks gets the mean and the
    ``p50 … p95`` of the series' live weeks among ``t - window + 1 … t``. It is a baseline
    for the simulator's own tests and a first run, not Butler's forecaster.

    Returns:
        Long ``cutoff, unique_id, week, mean, p50, p80, p90, p95`` (the form
        :func:`run_online_retail` takes); series with no live week in the window are left out.
    """
    frames = []
    ids = np.asarray(unique_ids)
    levels = list(QUANTILES.values())
    for t in cutoffs:
        past = demand[:, max(0, t - window + 1) : t + 1]
        live = ~np.isnan(past).all(axis=1)
        past = past[live]
        stats = np.column_stack([np.nanmean(past, axis=1), np.nanquantile(past, levels, axis=1).T])
        for h in range(1, horizon + 1):
            frame = pd.DataFrame(stats, columns=["mean", *QUANTILES])
            frame.insert(0, "week", weeks[t] + pd.Timedelta(weeks=h))
            frame.insert(0, "unique_id", ids[live])
            frame.insert(0, "cutoff", weeks[t])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_demand(data_dir: Path | str) -> tuple[pd.DataFrame, pd.DatetimeIndex, np.ndarray]:
    """``online_retail_weekly`` as a dense ``(n_series, n_weeks)`` array of units.

    Returns:
        The series (``unique_id, item_id, channel``, sorted), the weeks (Mondays) and the
        units, NaN before each series' first week.

    Raises:
        UnreadableFileError: ``sales.parquet`` is missing or unreadable.
    """
    path = Path(data_dir) / "sales.parquet"
    try:
        sales = pd.read_parquet(path, columns=["unique_id", "item_id", "channel", "week", "units"])
    except (OSError, ValueError) as exc:
        raise UnreadableFileError(
            f"Cannot read {path}: {exc}. Pass --data the online_retail_weekly folder."
        ) from exc
    sales["week"] = pd.to_datetime(sales["week"])
    wide = sales.pivot(index="unique_id", columns="week", values="units").sort_index()
    series = (
        sales.drop_duplicates("unique_id")[["unique_id", "item_id", "channel"]]
        .set_index("unique_id")
        .loc[wide.index]
        .reset_index()
    )
    return series, pd.DatetimeIndex(wide.columns), wide.to_numpy(float)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimReport:
    """What :func:`run_online_retail` returns.

    Attributes:
        table: one row per policy run: ``policy, family, knob`` (service level for Butler,
            cover multiplier for the naives) and the :func:`sim_metrics`.
        summary: assumptions, data window and the comparison with the naive policies.
    """

    table: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"summary": self.summary, "table": self.table.to_dict("records")}


def butler_forecasts(
    data_dir: Path | str,
    *,
    n_weeks: int = 24,
    lead_time: int = 2,
    config: object | None = None,
) -> pd.DataFrame:
    """Butler's forecaster, replayed week by week over the last ``n_weeks`` of a folder.

    The model is fitted once, on the weeks before the window (it never sees the simulated
    weeks), and then forecasts ``lead_time + 1`` weeks ahead at every decision week from the
    history up to that week (``WeeklyDemandForecaster.predict(history=...)``: lags and scales
    move on, the trees stay). ``mean`` is the forecaster's ``expected`` demand, which the
    policy sums over weeks; its spread comes from the calibrated quantiles.

    Returns:
        :data:`FORECAST_COLUMNS` and the upper-tail columns, one block per decision week.
    """
    from evaluation.datasets import load_weekly_dataset
    from evaluation.forecast_backtest import config_for
    from models.forecast import WeeklyDemandForecaster

    dataset = load_weekly_dataset(data_dir)
    panel = dataset.panel
    weeks = np.sort(panel["ds"].unique())
    start = len(weeks) - n_weeks
    model = WeeklyDemandForecaster(config or config_for(dataset))  # type: ignore[arg-type]
    model.fit(panel[panel["ds"] <= weeks[start - 1]], static_features=dataset.static_features)
    frames = []
    for k in range(start - 1, len(weeks) - 1):
        history = panel[panel["ds"] <= weeks[k]]
        fc = model.predict(lead_time + 1, history=history)
        frames.append(fc.assign(cutoff=weeks[k]))
        logger.info("butler forecasts from %s", pd.Timestamp(weeks[k]).date())
    out = pd.concat(frames, ignore_index=True).rename(columns={"ds": "week"})
    out["mean"] = out["expected"]
    return out[[*FORECAST_COLUMNS, *(c for c in TAIL_QUANTILES if c in out)]]


def run_online_retail(
    data_dir: Path | str,
    forecasts: pd.DataFrame,
    *,
    lead_time: int = 2,
    n_weeks: int = 24,
    service_levels: Sequence[float] = SERVICE_LEVELS,
    multipliers: Sequence[float] = COVER_MULTIPLIERS,
    target_service_level: float = 0.95,
    service_measure: str = "fill_rate",
    forecast_label: str = "given",
) -> SimReport:
    """Simulate Butler's policy and the two naive ones on the last ``n_weeks`` of online retail.

    Assumed, as the data has neither: lead time ``lead_time`` weeks for every series, weekly
    review, case pack 1 and no MOQ. A SKU × channel series is a SKU × warehouse (``sku_id`` =
    ``item_id``, ``warehouse_id`` = ``channel``). Only series live at the first decision
    (a sale on or before the week before the window) are simulated.

    Args:
        data_dir: folder of ``online_retail_weekly`` (``sales.parquet``).
        forecasts: :data:`FORECAST_COLUMNS`: for each decision week ``cutoff`` (a Monday; the
            forecast is made at the end of that week) the weeks after it. Every decision week
            from the one before the window needs ``lead_time + 1`` weeks ahead.
        lead_time: ``L`` in whole weeks.
        n_weeks: simulated weeks, the last of the data.
        service_levels: Butler's service levels on the trade-off curve.
        multipliers: cover multipliers of the naive policies on the curve.
        target_service_level: the level compared with the naives in ``summary``.
        service_measure: what Butler's service levels are targets for (``fill_rate`` or
            ``cycle``, :class:`~models.replenishment.ReplenishmentConfig`).
        forecast_label: what produced ``forecasts``, recorded in ``summary``.

    Returns:
        The table of every run and the summary.
    """
    series, weeks, demand = load_demand(data_dir)
    start = len(weeks) - n_weeks
    live = ~np.isnan(demand[:, :start]).all(axis=1)
    series, demand = series[live].reset_index(drop=True), demand[live]
    keys = series.rename(columns={"item_id": "sku_id", "channel": "warehouse_id"})
    by_cutoff = _forecasts_by_week(forecasts, series, weeks, horizon=lead_time + 1)

    rows = []
    for level in sorted({*service_levels, target_service_level}):
        config = ReplenishmentConfig(service_level=level, service_measure=service_measure)
        logger.info("simulating butler at service level %.2f", level)
        policy = butler_policy(by_cutoff, keys, lead_time=lead_time, config=config)
        result = simulate(demand, policy, start=start, lead_time=lead_time)
        rows.append({"policy": f"butler P{100 * level:g}", "family": "butler", "knob": level,
                     **sim_metrics(result)})  # fmt: skip
    for m in multipliers:
        for name, policy in naive_policies(demand, lead_time=lead_time, multiplier=m).items():
            result = simulate(demand, policy, start=start, lead_time=lead_time)
            rows.append({"policy": f"{name} ×{m:g}", "family": name, "knob": m,
                         **sim_metrics(result)})  # fmt: skip
    table = pd.DataFrame(rows)
    summary = {
        "data": str(data_dir),
        "forecast": forecast_label,
        "weeks": [str(weeks[start].date()), str(weeks[-1].date())],
        "n_weeks": n_weeks,
        "n_series": int(len(series)),
        "service_measure": service_measure,
        "forecast_tail": all(c in forecasts for c in TAIL_QUANTILES),
        "assumptions": {
            "lead_time_weeks": lead_time,
            "review_period_weeks": 1,
            "case_pack": 1,
            "moq": 0,
            "arrival": "order at end of week t arrives at start of week t+L+1",
            "start_stock": "each policy's own first order-up-to level",
            "lost_sales": True,
        },
        **_compare(table, target_service_level),
    }
    return SimReport(table=table, summary=summary)


def _forecasts_by_week(
    forecasts: pd.DataFrame, series: pd.DataFrame, weeks: pd.DatetimeIndex, *, horizon: int
) -> dict[int, pd.DataFrame]:
    """Split ``forecasts`` by decision week index into the policy's form, first ``horizon``
    weeks after each cutoff; pairs whose forecast does not start the week after are dropped."""
    missing = [c for c in FORECAST_COLUMNS if c not in forecasts.columns]
    if missing:
        raise InvalidParameterError(
            f"The `forecasts` parameter of `run_online_retail` must have the columns "
            f"{', '.join(FORECAST_COLUMNS)}. Got a frame without {', '.join(missing)} instead."
        )
    fc = forecasts[[*FORECAST_COLUMNS, *(c for c in TAIL_QUANTILES if c in forecasts)]].copy()
    fc["cutoff"], fc["week"] = pd.to_datetime(fc["cutoff"]), pd.to_datetime(fc["week"])
    ahead = (fc["week"] - fc["cutoff"]).dt.days
    fc = fc[(ahead > 0) & (ahead <= 7 * horizon)]
    first = fc.groupby(["cutoff", "unique_id"])["week"].transform("min")
    late = first != fc["cutoff"] + pd.Timedelta(weeks=1)
    if late.any():
        logger.warning("%d forecast rows do not start the week after their cutoff; dropped",
                       int(late.sum()))  # fmt: skip
        fc = fc[~late]
    fc = fc.merge(series, on="unique_id", how="inner")
    fc = fc.rename(columns={"item_id": "sku_id", "channel": "warehouse_id"})
    position = pd.Series(np.arange(len(weeks)), index=weeks)
    out = {}
    for cutoff, frame in fc.groupby("cutoff"):
        if cutoff in position.index:
            out[int(position[cutoff])] = frame.drop(columns=["cutoff", "unique_id"])
    return out


def _compare(table: pd.DataFrame, level: float) -> dict:
    """Butler at ``level`` against each naive rule: as used today (×1) and at equal fill rate.

    At equal fill rate, a naive policy's inventory is read off its trade-off curve by
    linear interpolation (None when Butler's fill rate is beyond the curve).
    """
    butler = table[(table["family"] == "butler") & np.isclose(table["knob"], level)].iloc[0]
    out: dict = {"butler": {k: float(butler[k]) for k in ("fill_rate", "avg_inventory")}}
    for family in ("mean_cover", "last_year"):
        curve = table[table["family"] == family].sort_values("fill_rate")
        today = curve[np.isclose(curve["knob"], 1.0)]
        same_fill = None
        if curve["fill_rate"].min() <= butler["fill_rate"] <= curve["fill_rate"].max():
            same_fill = float(np.interp(butler["fill_rate"], curve["fill_rate"],
                                        curve["avg_inventory"]))  # fmt: skip
        out[family] = {
            "today_fill_rate": float(today["fill_rate"].iat[0]) if len(today) else None,
            "today_avg_inventory": float(today["avg_inventory"].iat[0]) if len(today) else None,
            "avg_inventory_at_butler_fill_rate": same_fill,
        }
    at_same = [out[f]["avg_inventory_at_butler_fill_rate"] for f in ("mean_cover", "last_year")]
    at_same = [v for v in at_same if v is not None]
    best = min(at_same) if at_same else None
    out["inventory_saving_vs_better_naive_at_equal_fill_rate"] = (
        1 - butler["avg_inventory"] / best if best else None
    )
    out["target_met"] = bool(
        butler["fill_rate"] >= 0.95 and best is not None and butler["avg_inventory"] <= 0.85 * best
    )
    return out


def plot_tradeoff(table: pd.DataFrame, path: Path | str, *, title: str = "") -> Path:
    """Fill rate against average inventory, one line per policy family; saved as a PNG.

    Args:
        table: :attr:`SimReport.table`.
        path: where to write the image.
        title: the plot's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = {"butler": "Butler (service level)", "mean_cover": "4-week mean × cover",
              "last_year": "last year's same weeks"}  # fmt: skip
    for family, curve in table.groupby("family", sort=False):
        curve = curve.sort_values("avg_inventory")
        ax.plot(curve["avg_inventory"], curve["fill_rate"], marker="o",
                label=labels.get(family, family))  # fmt: skip
        for _, r in curve.iterrows():
            knob = f"{r['knob']:.2f}" if family == "butler" else f"×{r['knob']:g}"
            ax.annotate(knob, (r["avg_inventory"], r["fill_rate"]), fontsize=7,
                        xytext=(3, -9), textcoords="offset points")  # fmt: skip
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("average units on hand per series-week")
    ax.set_ylabel("fill rate (units served / demanded)")
    ax.set_title(title or "Fill rate vs inventory")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    """Run the online-retail simulation, print the table, optionally save JSON and a plot."""
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="online_retail_weekly folder")
    parser.add_argument("--forecasts", type=Path, help="parquet of forecasts (default: Butler's)")
    parser.add_argument(
        "--stand-in", action="store_true", help="use the empirical stand-in forecast instead"
    )
    parser.add_argument("--lead-time", type=int, default=2, help="weeks (default 2)")
    parser.add_argument(
        "--service-measure",
        choices=SERVICE_MEASURES,
        default="fill_rate",
        help="what Butler's service levels target (default fill_rate)",
    )
    parser.add_argument("--weeks", type=int, default=24, help="simulated weeks (default 24)")
    parser.add_argument(
        "--save-forecasts", type=Path, help="write the forecasts used to this parquet file"
    )
    parser.add_argument("--out-json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)

    if args.forecasts:
        forecasts, label = pd.read_parquet(args.forecasts), str(args.forecasts)
    elif not args.stand_in:
        forecasts = butler_forecasts(args.data, n_weeks=args.weeks, lead_time=args.lead_time)
        label = "butler: WeeklyDemandForecaster fitted before the window, replayed weekly"
    else:
        series, weeks, demand = load_demand(args.data)
        start = len(weeks) - args.weeks
        forecasts = empirical_forecasts(
            demand, series["unique_id"], weeks, range(start - 1, len(weeks) - 1),
            horizon=args.lead_time + 1,
        )  # fmt: skip
        label = "STAND-IN: empirical quantiles of the last 13 weeks"
    if args.save_forecasts:
        forecasts.to_parquet(args.save_forecasts, index=False)
    report = run_online_retail(
        args.data,
        forecasts,
        lead_time=args.lead_time,
        n_weeks=args.weeks,
        service_measure=args.service_measure,
        forecast_label=label,
    )
    shown = report.table.drop(columns=["family", "knob"]).to_string(
        index=False, float_format=lambda v: f"{v:,.3f}"
    )
    s = report.summary
    lines = [
        f"forecast: {s['forecast']}",
        f"weeks {s['weeks'][0]} .. {s['weeks'][1]}, {s['n_series']:,} series, "
        f"lead time {args.lead_time} weeks, review 1, case pack 1, lost sales; "
        f"Butler's service level is a {args.service_measure} target",
        shown,
        f"saving vs the better naive at equal fill rate: "
        f"{_pct(s['inventory_saving_vs_better_naive_at_equal_fill_rate'])}; "
        f"target met: {s['target_met']}",
    ]
    print("\n".join(lines))  # noqa: T201
    if args.out_json:
        args.out_json.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    if args.plot:
        plot_tradeoff(report.table, args.plot, title=f"Online Retail, last {args.weeks} weeks")
    return report.to_dict()


def _whole(qty: np.ndarray) -> np.ndarray:
    """Orders as non-negative whole units."""
    return np.maximum(0.0, np.ceil(np.asarray(qty, float) - _EPS))


def _trailing_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over columns ``t - window + 1 … t`` for each ``t``."""
    cum = np.cumsum(values, axis=1)
    out = cum.copy()
    out[:, window:] -= cum[:, :-window]
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    main()
