"""Replenishment: forecast quantiles + stock + stock on its way → order quantities with reasons.

For each SKU × warehouse, :class:`ReplenishmentPolicy` turns the weekly demand forecast into
a distribution of demand over the *protection interval* (lead time ``L`` + review period
``R``, in weeks), orders up to the level its service target asks for, and says why in one
line a buyer can read. :func:`allocate` splits short supply of a SKU across its warehouses
(分仓补仓) by demand and stock-out risk instead of evenly.

Two service targets (``ReplenishmentConfig.service_measure``):

* ``fill_rate`` (the default): the share of demand served from stock. The order-up-to level
  is the lowest one whose expected shortage in the review period (demand over ``L + R``
  beyond it, less what was already short over ``L``) is at most ``1 - service_level`` of the
  review period's expected demand. On lumpy demand this is the target that matters: a few
  large orders above the P95 carry much of the volume.
* ``cycle``: the probability of not running out before the next order arrives; the
  order-up-to level is that quantile of demand over ``L + R``.

The demand model, in brief (details in :meth:`ReplenishmentPolicy.plan`):

* a forecast week that carries the upper tail (``p98 … p99_9``, :data:`TAIL_QUANTILES`, as
  Butler's forecaster gives it) is read from its quantiles: the piecewise-linear quantile
  function through ``p50 … p99_9``, continued below P50 and above P99.9 with the nearest
  segment's slope and floored at zero;
* a week with only ``p50 … p95`` is a gamma distribution with the forecast ``mean``; its
  shape is the one whose quantiles, relative to the mean, best match the forecast's
  ``p50 … p95`` (so the dispersion comes from the quantile spread; equal quantiles mean a
  known demand, and a zero mean means no demand). Its tail beyond P95 is the gamma's guess,
  which is too light for lumpy demand: give the tail columns for a fill-rate target;
* weeks are independent, and demand over ``T`` weeks is their sum, computed by Monte-Carlo
  convolution with a fixed seed: ``n_draws`` stratified draws per week (Latin hypercube: the
  same shuffled quantile levels for every row, a different shuffle per week). A fractional
  last week counts that fraction of the week's draw (2.5 weeks = half of the third week).

Common draws make the plan monotone by construction, not just on average: a higher service
level, a longer lead time or review period never lowers the order-up-to level, and more stock
never raises the order or the stock-out probability. The same seed gives the same plan.

Nothing here reads or writes files; ``butler replenish`` does that.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from features.errors import ContractViolation, InvalidParameterError
from models.forecast import TAIL_QUANTILES as _FORECAST_TAIL
from models.forecast import quantile_columns

logger = logging.getLogger(__name__)

#: Forecast quantile columns and their levels (units per week).
QUANTILES: dict[str, float] = {"p50": 0.5, "p80": 0.8, "p90": 0.9, "p95": 0.95}
#: Optional upper-tail columns of ``forecasts``; a week that has all of them is read from its
#: quantiles instead of a gamma (module docstring).
TAIL_QUANTILES: dict[str, float] = dict(
    zip(quantile_columns(_FORECAST_TAIL), _FORECAST_TAIL, strict=True)
)
#: Columns ``forecasts`` must have: one row per SKU × warehouse × future week (Monday).
FORECAST_COLUMNS = ("sku_id", "warehouse_id", "week", "mean", *QUANTILES)
#: What ``service_level`` is a target for (module docstring).
ServiceMeasure = Literal["fill_rate", "cycle"]
SERVICE_MEASURES: tuple[str, ...] = get_args(ServiceMeasure)
#: What the MOQ is a minimum of (``ReplenishmentConfig.moq_scope``).
MOQ_SCOPES = ("warehouse", "sku")
#: Columns ``positions`` must have; ``OVERRIDE_COLUMNS`` may be added per row.
POSITION_COLUMNS = ("sku_id", "warehouse_id", "on_hand", "in_transit", "lead_time_weeks")
OVERRIDE_COLUMNS = ("review_period_weeks", "service_level", "moq", "case_pack")
#: Optional column of ``positions``: why the pair must not be ordered now (a delisted SKU);
#: blank = order as planned. A held pair is still planned, with no order and the reason.
HOLD_COLUMN = "hold"
#: How the reason of a held pair begins, and no other reason does.
HELD_REASON = "not ordered: "
#: Columns of :attr:`ReplenishmentPlan.plan`, in order.
PLAN_COLUMNS = (
    "sku_id", "warehouse_id", "on_hand", "in_transit", "lead_time_weeks", "review_period_weeks",
    "service_level", "demand_mean_lr", "demand_q_lr", "order_up_to", "order_qty", "moq",
    "case_pack", "cases", "weeks_of_cover", "stockout_probability", "reason",
)  # fmt: skip
#: Columns of :attr:`ReplenishmentPlan.errors`.
ERROR_COLUMNS = ("sku_id", "warehouse_id", "field", "reason")

SERVICE_LEVEL_RANGE = (0.5, 0.999)
# the plan looks at most a year ahead: lead time + review may not pass this many weeks
MAX_COVER_WEEKS = 52
_EPS = 1e-9  # float slack before rounding up, so 30.000000001 units stay 30
# Shapes the weekly gamma may take (plus infinity, a known demand). 0.01 is a week that sells
# about once in a hundred; 10⁴ is a coefficient of variation of 1 %.
_SHAPES = np.logspace(-2, 4, 241)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplenishmentConfig:
    """Defaults of the replenishment policy; ``positions`` may override them per row.

    Args:
        service_level: the target, as a share: of demand served from stock
            (``fill_rate``), or of order cycles without a stock-out (``cycle``).
        service_measure: ``fill_rate`` (default) or ``cycle``; see the module docstring.
        review_period_weeks: weeks between two orders (``R``).
        moq: minimum order quantity in units; a positive order is raised to it.
        moq_scope: what the MOQ is a minimum of: ``warehouse`` (default), each SKU ×
            warehouse order alone; or ``sku``, the SKU's orders across its warehouses
            together (one purchase order delivered to several warehouses): a SKU whose
            orders add up to less is raised to it as a whole, the extra split by each
            warehouse's demand over lead time + review.
        case_pack: units per case; orders are rounded up to whole cases.
        n_draws: Monte-Carlo draws per row for demand over lead time + review; quantiles are
            read to about ``1 / n_draws``.
        seed: seed of the draws' shuffles; the same seed gives the same plan.
    """

    service_level: float = 0.95
    service_measure: str = "fill_rate"
    review_period_weeks: float = 1.0
    moq: float = 0.0
    moq_scope: str = "warehouse"
    case_pack: int = 1
    n_draws: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        func = "ReplenishmentConfig"
        low, high = SERVICE_LEVEL_RANGE
        if not _is_number(self.service_level) or not low < self.service_level <= high:
            raise InvalidParameterError(
                f"The `service_level` parameter of `{func}` must be in ({low}, {high}]. "
                f"Got {self.service_level!r} instead."
            )
        if self.moq_scope not in MOQ_SCOPES:
            raise InvalidParameterError(
                f"The `moq_scope` parameter of `{func}` must be one of "
                f"{', '.join(MOQ_SCOPES)}. Got {self.moq_scope!r} instead."
            )
        if self.service_measure not in SERVICE_MEASURES:
            raise InvalidParameterError(
                f"The `service_measure` parameter of `{func}` must be one of "
                f"{', '.join(SERVICE_MEASURES)}. Got {self.service_measure!r} instead."
            )
        if not _is_number(self.review_period_weeks) or not self.review_period_weeks > 0:
            raise InvalidParameterError(
                f"The `review_period_weeks` parameter of `{func}` must be a number of weeks "
                f"> 0. Got {self.review_period_weeks!r} instead."
            )
        if not _is_number(self.moq) or not self.moq >= 0:
            raise InvalidParameterError(
                f"The `moq` parameter of `{func}` must be a number of units >= 0. "
                f"Got {self.moq!r} instead."
            )
        whole = _is_number(self.case_pack) and float(self.case_pack).is_integer()
        if not whole or not self.case_pack >= 1:
            raise InvalidParameterError(
                f"The `case_pack` parameter of `{func}` must be a whole number of units >= 1. "
                f"Got {self.case_pack!r} instead."
            )
        if not isinstance(self.n_draws, int | np.integer) or not self.n_draws >= 100:
            raise InvalidParameterError(
                f"The `n_draws` parameter of `{func}` must be a whole number >= 100. "
                f"Got {self.n_draws!r} instead."
            )
        if not isinstance(self.seed, int | np.integer) or isinstance(self.seed, bool):
            raise InvalidParameterError(
                f"The `seed` parameter of `{func}` must be a whole number. "
                f"Got {self.seed!r} instead."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplenishmentPlan:
    """What :meth:`ReplenishmentPolicy.plan` returns.

    Attributes:
        plan: one row per position that could be planned, in the order of ``positions``,
            with :data:`PLAN_COLUMNS`. ``weeks_of_cover`` is NaN when the forecast demand is
            zero (cover is unbounded).
        errors: one row per problem found (a position may have several), with
            :data:`ERROR_COLUMNS`; ``reason`` says what to fix. Those positions are not in
            ``plan``.
    """

    plan: pd.DataFrame
    errors: pd.DataFrame


class ReplenishmentPolicy:
    """Periodic-review order-up-to policy driven by forecast quantiles.

    Args:
        config: the defaults (service level, review period, MOQ, case pack).

    Examples:
        >>> policy = ReplenishmentPolicy(ReplenishmentConfig(service_level=0.95))
        >>> result = policy.plan(positions, forecasts)
        >>> result.plan[["sku_id", "warehouse_id", "order_qty", "reason"]]
        >>> result.errors  # rows that could not be planned, with the fix
    """

    def __init__(self, config: ReplenishmentConfig | None = None) -> None:
        self.config = config or ReplenishmentConfig()

    def plan(self, positions: pd.DataFrame, forecasts: pd.DataFrame) -> ReplenishmentPlan:
        """Plan an order for every SKU × warehouse of ``positions``.

        Per row, with ``S = on_hand + in_transit`` and ``D(T)`` the demand over the next
        ``T`` weeks (see the module docstring for its distribution):

        * ``demand_mean_lr`` = E[D(L+R)]; ``demand_q_lr`` = the demand level the target asks
          for: with ``cycle``, the ``service_level`` quantile of D(L+R); with ``fill_rate``,
          the lowest level ``s`` with E[(D(L+R) - s)⁺] - E[(D(L) - s)⁺] <= (1 -
          service_level) × E[D(L+R) - D(L)] (read off the draws);
        * ``order_up_to`` = ``demand_q_lr`` rounded up to whole units;
        * ``order_qty`` = ``max(0, order_up_to - S)``, raised to ``moq`` when positive, then
          rounded up to whole case packs; ``moq`` and ``case_pack`` are the row's (its
          override or the config's); ``cases`` = ``order_qty / case_pack``;
        * ``weeks_of_cover`` = ``S`` / mean weekly demand over L+R (NaN when it is zero);
        * ``stockout_probability`` = P(D(L) > S): running out before this order arrives.

        A pair whose :data:`HOLD_COLUMN` is not blank is planned the same way but not
        ordered: ``order_qty`` and ``cases`` are 0 and the reason gives the hold and the
        order the target would have asked for.

        The first forecast week of a pair is the first week of the protection interval;
        the forecast must cover ``ceil(L + R)`` consecutive weeks. Quantiles that cross
        (``p80 < p50``) are put back in order, with a warning.

        Args:
            positions: one row per SKU × warehouse with :data:`POSITION_COLUMNS` (stock in
                units, lead time in weeks) and optionally :data:`OVERRIDE_COLUMNS`; a missing
                override takes the config's value. Optionally :data:`HOLD_COLUMN`.
            forecasts: :data:`FORECAST_COLUMNS`, units per week, one row per pair × week.

        Returns:
            The plan and the rows that could not be planned (negative stock, missing lead
            time, no forecast for the pair, a bad override …), each with a reason.

        Raises:
            ContractViolation: a frame lacks a required column.
        """
        func = "ReplenishmentPolicy.plan"
        _require(positions, POSITION_COLUMNS, "positions", func)
        _require(forecasts, FORECAST_COLUMNS, "forecasts", func)
        pos = self._positions(positions)
        log = _ErrorLog(pos)
        _check_positions(pos, log, given=positions.reset_index(drop=True))
        mean, shape, knots, horizon_ok = _weekly_demand(pos, forecasts, log, ok=~log.bad)
        ok = ~log.bad & horizon_ok
        pos, mean, shape, knots = pos[ok].reset_index(drop=True), mean[ok], shape[ok], knots[ok]

        lead = pos["lead_time_weeks"].to_numpy(float)
        lr = lead + pos["review_period_weeks"].to_numpy(float)
        level = pos["service_level"].to_numpy(float)
        stock = pos["on_hand"].to_numpy(float) + pos["in_transit"].to_numpy(float)
        cfg = self.config
        mu_lr = (_week_weights(lr, mean.shape[1]) * mean).sum(axis=1)
        q_lr, p_out = interval_demand(
            mean, shape, lr, lead, level, stock, n_draws=cfg.n_draws, seed=cfg.seed,
            quantiles=knots, measure=cfg.service_measure,
        )  # fmt: skip
        up_to = np.maximum(np.ceil(q_lr - _EPS), 0.0)
        raw = np.where(up_to - stock > _EPS, np.ceil(up_to - stock - _EPS), 0.0)
        moq = pos["moq"].to_numpy(float)
        pack = pos["case_pack"].to_numpy(float)
        held = pos["hold"].to_numpy(object)
        if cfg.moq_scope == "sku":  # the SKU's orders together reach the MOQ
            sku = pos["sku_id"].to_numpy(object)
            qty = _pooled_moq(sku, raw, moq, pack, mu_lr, held != "")
            qty = np.where(held != "", np.where((raw > 0) & (moq > raw), moq, raw), qty)
            raised = qty > raw
        else:
            raised = (raw > 0) & (moq > raw)
            qty = np.where(raised, moq, raw)
        cases = np.ceil(qty / pack - _EPS) + 0.0  # + 0.0: no order is 0, not ceil's -0.0
        ordered = np.where(held == "", cases, 0.0)
        with np.errstate(all="ignore"):
            cover = stock * lr / mu_lr
        cover[~np.isfinite(cover)] = np.nan

        out = pos[list(PLAN_COLUMNS[:7])].copy()
        out["demand_mean_lr"] = mu_lr
        out["demand_q_lr"] = q_lr
        out["order_up_to"] = up_to
        out["order_qty"] = ordered * pack
        # the MOQ and case pack the order was rounded to, so a spreadsheet can filter on them
        out["moq"] = moq
        out["case_pack"] = pack.astype(np.int64)
        out["cases"] = ordered.astype(np.int64)
        out["weeks_of_cover"] = cover
        out["stockout_probability"] = p_out
        with np.errstate(all="ignore"):
            weekly = np.where(lr > 0, mu_lr / lr, np.nan)
        pooled = cfg.moq_scope == "sku"
        out["reason"] = [
            _reason(cfg.service_measure, *row, pooled=pooled)
            for row in zip(level, lead, lr - lead, up_to, stock, cases * pack, cases, pack,
                           np.where(raised, moq, 0.0), weekly, qty - raw, strict=True)
        ]  # fmt: skip
        out["reason"] = [
            reason if hold == "" else _held(hold, reason)
            for hold, reason in zip(held, out["reason"], strict=True)
        ]
        if log.rows:
            logger.warning("%d of %d positions could not be planned", log.n_bad, len(log.bad))
        return ReplenishmentPlan(plan=out, errors=log.frame())

    def _positions(self, positions: pd.DataFrame) -> pd.DataFrame:
        """Positions with ids as text, numbers as floats and overrides filled from config."""
        cfg = self.config
        pos = positions.reset_index(drop=True)
        out = pd.DataFrame(
            {key: _ids(pos[key]) for key in ("sku_id", "warehouse_id")}, index=pos.index
        )
        for col in POSITION_COLUMNS[2:]:
            out[col] = as_numbers(pos[col])
        defaults = {
            "review_period_weeks": cfg.review_period_weeks,
            "service_level": cfg.service_level,
            "moq": cfg.moq,
            "case_pack": cfg.case_pack,
        }
        for col, default in defaults.items():
            if col not in pos:
                out[col] = float(default)
                continue
            given = as_numbers(pos[col])
            # a blank override takes the default; text that is not a number stays NaN → error
            out[col] = given.where(given.notna() | pos[col].notna(), float(default))
        hold = pos[HOLD_COLUMN] if HOLD_COLUMN in pos else pd.Series("", index=pos.index)
        out[HOLD_COLUMN] = hold.fillna("").astype(str).str.strip()
        return out


def fit_weekly_shape(mean: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Gamma shape of each week's demand, from its mean and its ``p50 … p95`` quantiles.

    The week is taken as a gamma with the given mean; its shape is the one (on a log grid
    from 0.01 to 10⁴, or infinite) whose quantiles divided by the mean are closest, in
    squared error, to ``quantiles / mean``. Infinite means a known demand (all quantiles
    equal the mean); weeks with zero mean get NaN (no demand).

    Args:
        mean: shape ``(n,)``, units per week, >= 0.
        quantiles: shape ``(n, 4)``, the columns of :data:`QUANTILES` in order.

    Returns:
        Shape ``(n,)``; the variance is ``mean² / shape``.
    """
    shapes = np.append(_SHAPES, np.inf)
    idx = _shape_index(np.asarray(mean, float), np.asarray(quantiles, float))
    return np.where(idx >= 0, shapes[np.maximum(idx, 0)], np.nan)


def interval_demand(
    mean: np.ndarray,
    shape: np.ndarray,
    weeks: np.ndarray,
    lead_weeks: np.ndarray,
    level: np.ndarray,
    stock: np.ndarray,
    *,
    n_draws: int = 1000,
    seed: int = 0,
    quantiles: np.ndarray | None = None,
    measure: str = "cycle",
) -> tuple[np.ndarray, np.ndarray]:
    """Demand level to order up to over ``weeks``, and P(demand over ``lead_weeks`` > ``stock``).

    Args:
        mean: ``(n, H)`` weekly demand means, first week first.
        shape: ``(n, H)`` indices into the shape grid (from :func:`_shape_index`; -1 = no
            demand, one past the grid = known demand).
        weeks: ``(n,)`` protection interval L + R in weeks, at most ``H``.
        lead_weeks: ``(n,)`` lead time L in weeks, at most ``weeks``.
        level: ``(n,)`` service levels.
        stock: ``(n,)`` on hand + in transit.
        n_draws: draws per row.
        seed: seed of the per-week shuffles.
        quantiles: ``(n, H, 9)`` weekly ``p50 … p99_9`` (:data:`QUANTILES` then
            :data:`TAIL_QUANTILES`); a week whose values are all there is drawn from them
            instead of its gamma. None = gammas only.
        measure: ``cycle`` (the ``level`` quantile) or ``fill_rate`` (the lowest level whose
            expected shortage over the review part is at most ``1 - level`` of its demand).

    Returns:
        The order-up-to demand level (linear between draws for ``cycle``, a draw for
        ``fill_rate``) and the share of draws whose demand over ``lead_weeks`` exceeds
        ``stock``.
    """
    n, h = mean.shape
    w_lr, w_l = _week_weights(weeks, h), _week_weights(lead_weeks, h)
    given = None
    if quantiles is not None:
        given = ~np.isnan(quantiles).any(axis=2)
    target, p_out = np.zeros(n), np.zeros(n)
    for start in range(0, n, 2048):  # chunks keep the (rows, draws) arrays near 16 MB
        rows = slice(start, min(start + 2048, n))
        # float32 halves the memory traffic; whole units stay exact far past any order size
        total_lr = np.zeros((rows.stop - rows.start, n_draws), dtype=np.float32)
        total_l = np.zeros_like(total_lr)
        for j in range(h):
            draws = _draw_table(n_draws, seed, j)[shape[rows, j]]
            draws *= mean[rows, j, None].astype(np.float32)
            if given is not None and given[rows, j].any():
                read = np.flatnonzero(given[rows, j])
                knots = quantiles[rows][read, j]
                draws[read] = _quantile_draws(knots, _draw_levels(n_draws, seed, j))
            for total, weight in ((total_l, w_l[rows, j]), (total_lr, w_lr[rows, j])):
                if (weight == 1).all():
                    total += draws
                elif weight.any():
                    total += draws * weight[:, None].astype(np.float32)
        p_out[rows] = (total_l > stock[rows, None] + _EPS).mean(axis=1)
        if measure == "fill_rate":
            target[rows] = _fill_rate_level(total_lr, total_l, level[rows])
        else:
            total_lr.sort(axis=1)
            # stratified draws sit at levels (i + 0.5) / n_draws
            pos = np.clip(level[rows] * n_draws - 0.5, 0, n_draws - 1)
            low = np.floor(pos).astype(np.int64)
            high = np.minimum(low + 1, n_draws - 1)
            r = np.arange(len(low))
            frac = pos - low
            target[rows] = total_lr[r, low] * (1 - frac) + total_lr[r, high] * frac
        # float32 draws: keep a known demand of 30.000001 at 30
        target[rows] = np.round(target[rows], 4)
    return target, p_out


def _fill_rate_level(total_lr: np.ndarray, total_l: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per row, the lowest draw ``s`` of demand over L + R whose expected review shortage
    E[(D(L+R) - s)⁺] - E[(D(L) - s)⁺] is at most ``(1 - level)`` × E[D(L+R) - D(L)].

    The shortage falls as ``s`` rises (its slope is P(D(L) > s) - P(D(L+R) > s) <= 0), so
    the first draw that meets the target is the lowest level that does.
    """
    n_draws = total_lr.shape[1]
    x = np.sort(total_lr, axis=1).astype(np.float64)
    y = np.sort(total_l, axis=1).astype(np.float64)
    review = x.mean(axis=1) - y.mean(axis=1)
    count_above = n_draws - np.arange(n_draws)
    # E[(X - x_k)⁺] = (Σ_{j>=k} x_j - (n - k) x_k) / n for the sorted draws x
    tail_x = np.cumsum(x[:, ::-1], axis=1)[:, ::-1]
    excess_x = (tail_x - count_above * x) / n_draws
    tail_y = np.concatenate([np.cumsum(y[:, ::-1], axis=1)[:, ::-1], np.zeros((len(y), 1))], 1)
    excess_y = np.empty_like(x)
    for i in range(len(x)):
        m = np.searchsorted(y[i], x[i], side="right")
        excess_y[i] = (tail_y[i, m] - (n_draws - m) * x[i]) / n_draws
    shortage = excess_x - excess_y
    allowed = (1 - level) * review + 1e-6 * (1 + review)
    meets = shortage <= allowed[:, None]
    first = np.where(meets.any(axis=1), meets.argmax(axis=1), n_draws - 1)
    return x[np.arange(len(x)), first]


@functools.cache
def _knot_levels() -> np.ndarray:
    """Levels of the quantile-function knots: 0, ``p50 … p99_9`` and 1."""
    return np.array([0.0, *QUANTILES.values(), *TAIL_QUANTILES.values(), 1.0])


def _quantile_draws(knots: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draws at levels ``u`` of the piecewise-linear quantile function through ``knots``.

    ``knots`` is ``(r, 9)``: ``p50 … p99_9``, non-decreasing. Below P50 the P50–P80 slope
    goes on down to level 0 and above P99.9 the P99.8–P99.9 slope goes on up to level 1;
    the result is floored at zero.
    """
    lv = _knot_levels()
    low = knots[:, 0] - lv[1] * (knots[:, 1] - knots[:, 0]) / (lv[2] - lv[1])
    high = knots[:, -1] + (1 - lv[-2]) * (knots[:, -1] - knots[:, -2]) / (lv[-2] - lv[-3])
    full = np.column_stack([low, knots, high])
    k = np.clip(np.searchsorted(lv, u, side="right") - 1, 0, len(lv) - 2)
    w = (u - lv[k]) / (lv[k + 1] - lv[k])
    return np.maximum(full[:, k] + w * (full[:, k + 1] - full[:, k]), 0.0).astype(np.float32)


def _shape_index(mean: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Index of the best grid shape per week (see :func:`fit_weekly_shape`); -1 = no demand."""
    out = np.full(mean.shape, -1, dtype=np.int64)
    pos = mean > 0
    table = _shape_table()  # (n_shapes + 1, 4); the last row is the known-demand case
    ratios = quantiles[pos] / mean[pos, None]
    # argmin over shapes of |ratios - table|² without the (n, shapes, 4) cube
    err = (table**2).sum(axis=1)[None, :] - 2 * ratios @ table.T
    out[pos] = err.argmin(axis=1)
    return out


@functools.cache
def _shape_table() -> np.ndarray:
    """Quantiles of the mean-1 gamma at each grid shape (rows) and level (columns)."""
    levels = np.array(list(QUANTILES.values()))
    table = gammaincinv(_SHAPES[:, None], levels[None, :]) / _SHAPES[:, None]
    return np.vstack([table, np.ones(len(levels))])


@functools.cache
def _draw_table(n_draws: int, seed: int, week: int) -> np.ndarray:
    """Draws of week ``week`` of a mean-1 gamma, one row per shape index.

    Row ``i`` holds the quantiles of grid shape ``i`` at the stratified levels
    ``(i + 0.5) / n_draws``, in the order this week takes them (a shuffle seeded by
    ``(seed, week)``); the next row is the known demand (all ones) and the last row, index
    -1, is no demand (all zeros).
    """
    u = _draw_levels(n_draws, seed, week)
    table = gammaincinv(_SHAPES[:, None], u[None, :]) / _SHAPES[:, None]
    table = np.vstack([table, np.ones(n_draws), np.zeros(n_draws)]).astype(np.float32)
    table.flags.writeable = False
    return table


@functools.cache
def _draw_levels(n_draws: int, seed: int, week: int) -> np.ndarray:
    """The stratified levels ``(i + 0.5) / n_draws`` in week ``week``'s shuffled order."""
    u = (np.arange(n_draws) + 0.5) / n_draws
    u = u[np.random.default_rng([seed, week]).permutation(n_draws)]
    u.flags.writeable = False
    return u


def _week_weights(weeks: np.ndarray, h: int) -> np.ndarray:
    """``(n, h)`` share of each forecast week inside the first ``weeks`` (fractional) weeks."""
    return np.clip(np.asarray(weeks, float)[:, None] - np.arange(h)[None, :], 0.0, 1.0)


def _weekly_demand(
    pos: pd.DataFrame, forecasts: pd.DataFrame, log: _ErrorLog, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weekly demand means and shape indices, ``(n_positions, H)``, first forecast week first,
    and the weekly ``p50 … p99_9`` ``(n_positions, H, 9)`` (NaN where the tail is not given).

    Positions whose forecast is missing, too short, not consecutive or not a number are
    logged and flagged False in the fourth array.
    """
    n = len(pos)
    need = np.ceil(pos["lead_time_weeks"] + pos["review_period_weeks"] - _EPS).to_numpy()
    need = np.where(ok, need, 0).astype(np.int64)
    keys = pd.MultiIndex.from_arrays([pos["sku_id"], pos["warehouse_id"]])
    code = np.where(ok, np.arange(n), -1)
    lookup = pd.Series(code[ok], index=keys[ok])
    lookup = lookup[~lookup.index.duplicated(keep=False)]

    fc = pd.DataFrame(
        {
            "code": lookup.reindex(
                pd.MultiIndex.from_arrays(
                    [_ids(forecasts["sku_id"]), _ids(forecasts["warehouse_id"])]
                )
            ).to_numpy(),
            "week": pd.to_datetime(forecasts["week"], errors="coerce").to_numpy(),
        }
    )
    values = np.column_stack(
        [pd.to_numeric(forecasts[c], errors="coerce").to_numpy(float) for c in FORECAST_COLUMNS[3:]]
    )
    tail = np.column_stack(
        [
            pd.to_numeric(forecasts[c], errors="coerce").to_numpy(float)
            if c in forecasts
            else np.full(len(forecasts), np.nan)
            for c in TAIL_QUANTILES
        ]
    )
    # a tail that is partly missing or negative is not used (the gamma reads p50 … p95)
    tail[(np.isnan(tail) | (tail < 0)).any(axis=1)] = np.nan
    keep = ~np.isnan(fc["code"].to_numpy(float))
    fc, values, tail = fc[keep].astype({"code": np.int64}), values[keep], tail[keep]
    order = np.lexsort((fc["week"].to_numpy(), fc["code"].to_numpy()))
    fc, values, tail = fc.iloc[order].reset_index(drop=True), values[order], tail[order]
    rank = fc.groupby("code").cumcount().to_numpy()
    first = fc.groupby("code")["week"].transform("first").to_numpy()
    gap = fc["week"].to_numpy() != first + (7 * rank).astype("timedelta64[D]")
    bad_value = np.isnan(values).any(axis=1) | (values < 0).any(axis=1)

    codes = fc["code"].to_numpy()
    n_weeks = np.bincount(codes, minlength=n)
    first_gap = _first_rank(codes, rank, gap, n)
    first_bad = _first_rank(codes, rank, bad_value, n)
    usable = np.minimum(n_weeks, np.minimum(first_gap, first_bad))
    short = ok & (usable < need)
    weeks = pd.Series(fc["week"].to_numpy(), index=pd.MultiIndex.from_arrays([codes, rank]))
    for i in np.flatnonzero(short):
        total = pos["lead_time_weeks"].iat[i] + pos["review_period_weeks"].iat[i]
        if n_weeks[i] == 0:
            reason = (
                "no forecast for this SKU × warehouse: check the SKU and warehouse ids, "
                "or run the forecast for this pair"
            )
        elif first_bad[i] < min(need[i], first_gap[i]):
            reason = (
                f"forecast week {first_bad[i] + 1} has a missing or negative value; "
                "re-run the forecast for this pair"
            )
        elif first_gap[i] < need[i]:
            last_ok = _day(weeks.get((i, first_gap[i] - 1)))
            reason = (
                f"forecast weeks are not consecutive after {last_ok}; "
                "forecast every week (Monday starts) without gaps or duplicates"
            )
        else:
            reason = (
                f"forecast covers {n_weeks[i]} weeks but lead time + review is {total:g} "
                f"weeks; forecast at least {need[i]} weeks ahead"
            )
        log.add(i, "forecast", reason)

    h = int(max(need.max(initial=0), 1))
    take = rank < h
    mean = np.zeros((n, h))
    quant = np.zeros((n, h, len(QUANTILES)))
    upper = np.full((n, h, len(TAIL_QUANTILES)), np.nan)
    mean[codes[take], rank[take]] = values[take, 0]
    quant[codes[take], rank[take]] = values[take, 1:]
    upper[codes[take], rank[take]] = tail[take]
    mean, quant = np.nan_to_num(mean), np.nan_to_num(quant)
    knots = np.concatenate([quant, upper], axis=2)
    has_tail = ~np.isnan(upper).any(axis=2)
    steps = np.diff(knots, axis=2)
    crossing = ((steps < 0) & ~np.isnan(steps)).any(axis=2) & ok[:, None]
    if crossing.any():
        logger.warning(
            "%d forecast weeks have crossing quantiles (e.g. p80 < p50); sorted them",
            int(crossing.sum()),
        )
        quant = np.maximum.accumulate(quant, axis=2)
        knots[has_tail] = np.maximum.accumulate(knots[has_tail], axis=1)
    shape = _shape_index(mean.ravel(), quant.reshape(-1, len(QUANTILES))).reshape(n, h)
    knots[~has_tail] = np.nan
    return mean, shape, knots, ~short


def _first_rank(codes: np.ndarray, rank: np.ndarray, flag: np.ndarray, n: int) -> np.ndarray:
    """Per code, the smallest rank where ``flag`` holds (a large number when never)."""
    out = np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64)
    np.minimum.at(out, codes[flag], rank[flag])
    return out


def _day(value: object) -> str:
    stamp = pd.Timestamp(value) if value is not None else pd.NaT
    return "?" if pd.isna(stamp) else stamp.date().isoformat()


class _ErrorLog:
    """Row problems collected before any is reported (as splink's ``ErrorLogger``)."""

    def __init__(self, pos: pd.DataFrame) -> None:
        self._pos = pos
        self.bad = np.zeros(len(pos), dtype=bool)
        self.rows: list[tuple[int, str, str]] = []

    @property
    def n_bad(self) -> int:
        return int(self.bad.sum())

    def add(self, i: int, field: str, reason: str) -> None:
        self.bad[i] = True
        self.rows.append((i, field, reason))

    def frame(self) -> pd.DataFrame:
        rows = sorted(self.rows, key=lambda r: r[0])  # stable: checks keep their order
        return pd.DataFrame(
            {
                "sku_id": [self._pos["sku_id"].iat[i] for i, _, _ in rows],
                "warehouse_id": [self._pos["warehouse_id"].iat[i] for i, _, _ in rows],
                "field": [f for _, f, _ in rows],
                "reason": [r for _, _, r in rows],
            },
            columns=list(ERROR_COLUMNS),
        )


def _check_positions(pos: pd.DataFrame, log: _ErrorLog, given: pd.DataFrame) -> None:
    """Log every row-level problem of ``pos``; several per row when there are several.

    ``given`` is the caller's frame, row for row, so a reason can quote text that was not a
    number.
    """
    for key, what in (("sku_id", "SKU id"), ("warehouse_id", "warehouse id")):
        for i in np.flatnonzero(pos[key].isna() | (pos[key] == "")):
            log.add(i, key, f"{what} is missing; fill it in (the internal code from the ERP)")
    pairs = pos[["sku_id", "warehouse_id"]]
    counts = pairs.groupby(["sku_id", "warehouse_id"], dropna=False)["sku_id"].transform("size")
    dup = pairs.duplicated(keep=False).to_numpy() & pos["sku_id"].notna().to_numpy()
    for i in np.flatnonzero(dup):
        log.add(
            i,
            "sku_id",
            f"this SKU × warehouse appears {int(counts.iat[i])} times in the positions; "
            "keep one row per pair (sum the stock first if it is split)",
        )

    low, high = SERVICE_LEVEL_RANGE
    checks = (
        ("on_hand", lambda v: v >= 0,
         "must be a number of units >= 0; recount the stock or fix the snapshot"),
        ("in_transit", lambda v: v >= 0,
         "must be a number of units >= 0 (0 when nothing is on its way); check open POs"),
        ("lead_time_weeks", lambda v: v >= 0,
         "must be a number of weeks >= 0; enter the supplier's lead time"),
        ("review_period_weeks", lambda v: v > 0,
         "must be a number of weeks > 0 (1 = ordering every week)"),
        ("service_level", lambda v: (v > low) & (v <= high),
         f"must be in ({low}, {high}], e.g. 0.95"),
        ("moq", lambda v: v >= 0, "must be a number of units >= 0 (0 = no minimum)"),
        ("case_pack", lambda v: (v >= 1) & (np.mod(v, 1) == 0),
         "must be a whole number of units per case >= 1 (1 = loose units)"),
    )  # fmt: skip
    for col, valid, fix in checks:
        values = pos[col].to_numpy(float)
        with np.errstate(invalid="ignore"):
            bad = np.isnan(values) | ~valid(values)
        for i in np.flatnonzero(bad):
            if not np.isnan(values[i]):
                shown = f"{values[i]:g}"
            elif col in given and not _blank(given[col].iat[i]):
                shown = f"{str(given[col].iat[i]).strip()!r}, not a number"
            else:
                shown = "missing"
            log.add(i, col, f"{col} is {shown}; it {fix}")
    cover = pos["lead_time_weeks"].to_numpy(float) + pos["review_period_weeks"].to_numpy(float)
    for i in np.flatnonzero(cover > MAX_COVER_WEEKS):
        log.add(
            i,
            "lead_time_weeks",
            f"lead time + review is {cover[i]:g} weeks, more than the {MAX_COVER_WEEKS} weeks a "
            "plan looks ahead; check that the lead time is in weeks, not days",
        )


#: An order the MOQ raised to more than this many weeks of a pair's demand says so.
MOQ_WARN_WEEKS = 26


def _reason(
    measure: str,
    level: float,
    lead: float,
    review: float,
    up_to: float,
    stock: float,
    qty: float,
    cases: float,
    pack: float,
    moq: float,
    weekly: float = float("nan"),
    extra: float = 0.0,
    *,
    pooled: bool = False,
) -> str:
    """One line a buyer can read: the level the target asks for, the stock, the order.
    Weeks are shown to a tenth (a lead time of 45 days is 6.4 weeks, not 6.42857). An
    order the MOQ raised past :data:`MOQ_WARN_WEEKS` of the pair's mean weekly demand
    (``weekly``) says so: the MOQ is the supplier's, per order, not per warehouse."""
    weeks = f"{round(lead + review, 1):g} weeks"
    lead, review = round(lead, 1), round(review, 1)
    if measure == "fill_rate":
        need = f"order-up-to {_fmt(up_to)} for a {100 * level:g}% fill rate"
        if qty <= 0:
            return f"no order: stock + in transit {_fmt(stock)} covers the {need} over {weeks}"
        text = (
            f"{need} over {weeks} (lead time {lead:g} + review {review:g}), "
            f"stock + in transit is {_fmt(stock)}, order {_fmt(qty)}"
        )
    else:
        name = f"P{100 * level:g}"
        if qty <= 0:
            return (
                f"no order: stock + in transit {_fmt(stock)} covers {name} demand "
                f"{_fmt(up_to)} over {weeks}"
            )
        text = (
            f"{name} demand over {weeks} (lead time {lead:g} + review {review:g}) is "
            f"{_fmt(up_to)}, stock + in transit is {_fmt(stock)}, order {_fmt(qty)}"
        )
    if moq > 0 and pooled:  # the SKU's orders across warehouses raised together
        many = weekly > 0 and qty / weekly > MOQ_WARN_WEEKS
        text += (
            f" (+{_fmt(extra)} so the SKU's orders across its warehouses reach its MOQ of "
            f"{_fmt(moq)}" + (f": {qty / weekly:.0f} weeks of this warehouse's demand)"
                              if many else ")")
        )  # fmt: skip
    elif moq > 0:
        many = weekly > 0 and qty / weekly > MOQ_WARN_WEEKS
        text += f" (raised to the MOQ of {_fmt(moq)}" + (
            f": {qty / weekly:.0f} weeks of this warehouse's demand; order it with the other "
            "warehouses' in one purchase order)"
            if many
            else ")"
        )
    if pack > 1:
        text += f" = {cases:.0f} cases of {pack:.0f}"
    return text


def _pooled_moq(
    sku: np.ndarray,
    raw: np.ndarray,
    moq: np.ndarray,
    pack: np.ndarray,
    demand: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """Orders with each SKU's MOQ applied to its warehouses' orders together.

    A SKU whose orders (held pairs left out), each rounded up to whole cases, add up to more
    than 0 and less than its MOQ (the largest its rows give) is raised to the MOQ one case
    at a time, each case to the ordering warehouse whose demand over lead time + review its
    order covers least; so the total passes the MOQ by less than one case. Other rows keep
    ``raw``."""
    out = raw.copy()
    live = ~held
    for key in pd.unique(sku[live & (raw > 0)]):
        rows = np.flatnonzero((sku == key) & live)
        takers = rows[raw[rows] > 0]
        qty = np.ceil(raw[takers] / pack[takers] - _EPS) * pack[takers]
        floor = moq[rows].max()
        if not 0 < qty.sum() < floor:
            continue
        need = np.maximum(demand[takers], 0.0) + _EPS  # equal when no demand is known
        while qty.sum() < floor - _EPS:
            k = int(np.argmax(need / (qty + pack[takers])))
            qty[k] += pack[takers][k]
        out[takers] = qty
    return out


def _held(hold: str, reason: str) -> str:
    """The reason of a held pair: the hold, then what the target would have ordered."""
    if reason.startswith("no order: "):
        return f"{HELD_REASON}{hold}; it would not need an order anyway ({reason[10:]})"
    return f"{HELD_REASON}{hold}; the target would have ordered: {reason}"


def allocate(
    available: Mapping[str, float] | pd.Series | pd.DataFrame,
    plan: pd.DataFrame,
    *,
    moq_scope: str = "warehouse",
) -> pd.DataFrame:
    """Split each SKU's available supply across its warehouses when it is short of the orders.

    A SKU whose supply covers the sum of its ``order_qty`` gets every order in full. When
    supply is short, it goes out in two rounds, each split in proportion to a weight and
    never past a warehouse's cap (water-filling):

    1. up to the mean demand over lead time + review (``demand_mean_lr - on_hand -
       in_transit``, at most ``order_qty``), weighted by ``stockout_probability ×
       demand_mean_lr``: the warehouses likely to run out of the most demand come first;
    2. what is left, up to ``order_qty``, in proportion to each warehouse's remaining need.

    The shares are then made whole: whole case packs first, by largest remainder; what the
    supply leaves after whole cases (less than a case wherever one would fit) goes as loose
    units to the warehouse furthest below its share, so a short SKU's allocations are whole
    units that sum exactly to its supply and no unit is held back.

    The order columns then describe the allocation: ``order_qty`` is the units to order,
    ``cases`` its whole cases and ``loose_units`` the rest; ``unconstrained_qty`` keeps the
    order the service target asked for. The ``reason`` of a line that was cut says so, with
    its loose units and, when the cut took it below its MOQ, that too: a short supply cannot
    always meet the supplier's minimum, and the line says so rather than dropping the units.
    ``weeks_of_cover`` and ``stockout_probability`` count the stock before this order
    arrives and do not change.

    Args:
        available: supply in whole units per ``sku_id``: a mapping, a Series indexed by
            ``sku_id``, or a DataFrame with columns ``sku_id, supply``. SKUs of ``plan`` not
            in it keep their full orders (logged).
        plan: :attr:`ReplenishmentPlan.plan` (or any frame with ``sku_id, warehouse_id,
            on_hand, in_transit, order_qty, demand_mean_lr, stockout_probability`` and
            optionally ``cases``, ``case_pack``, ``moq`` and ``reason``).
        moq_scope: what ``moq`` is a minimum of, as in :class:`ReplenishmentConfig`:
            ``warehouse`` (each line) or ``sku`` (the SKU's lines together).

    Returns:
        ``plan`` with ``order_qty``, ``cases`` and ``reason`` as allocated, and three more
        columns: ``unconstrained_qty`` (before ``order_qty``), ``loose_units`` (after
        ``cases``) and ``allocation_reason`` (last).

    Raises:
        ContractViolation: a frame lacks a column.
        InvalidParameterError: a supply is negative, not whole or not a number, or
            ``moq_scope`` is not one of :data:`MOQ_SCOPES`.

    Examples:
        >>> out = allocate({"SKU1": 120}, result.plan)
        >>> out[["warehouse_id", "unconstrained_qty", "order_qty", "cases", "loose_units"]]
    """
    func = "allocate"
    _require(
        plan,
        ("sku_id", "warehouse_id", "on_hand", "in_transit", "order_qty", "demand_mean_lr",
         "stockout_probability"),
        "plan", func,
    )  # fmt: skip
    if moq_scope not in MOQ_SCOPES:
        raise InvalidParameterError(
            f"The `moq_scope` parameter of `{func}` must be one of {', '.join(MOQ_SCOPES)}. "
            f"Got {moq_scope!r} instead."
        )
    supply = _supply(available, func)
    out = plan.reset_index(drop=True).copy()
    sku = _ids(out["sku_id"])
    order = out["order_qty"].to_numpy(float)
    if "case_pack" in out:
        pack = out["case_pack"].to_numpy(float)
        pack = np.where(pack >= 1, pack, 1.0)  # a missing pack is loose units
    else:
        cases = out["cases"].to_numpy(float) if "cases" in out else np.zeros(len(out))
        pack = np.where(cases > 0, order / np.where(cases > 0, cases, 1), 1.0)
    moq = out["moq"].to_numpy(float) if "moq" in out else np.zeros(len(out))
    alloc = order.copy()
    reason = np.where(order > 0, "", "nothing ordered").astype(object)
    cut = np.zeros(len(out), dtype=bool)

    missing = sorted(set(sku[order > 0]) - set(supply))
    if missing:
        logger.warning("no supply given for %d SKUs; their orders are kept in full", len(missing))
    for key, idx in pd.Series(np.arange(len(out))).groupby(sku.to_numpy()).groups.items():
        idx = np.asarray(idx)
        ordered = idx[order[idx] > 0]
        if not len(ordered):
            continue
        total = order[ordered].sum()
        n_wh = len(ordered)
        if key not in supply:
            reason[ordered] = "no supply figure for this SKU; full order kept"
            continue
        have = supply[key]
        if have >= total:
            reason[ordered] = (
                f"full order: supply {_fmt(have)} covers the {_fmt(total)} ordered "
                f"across {n_wh} warehouse{'s' if n_wh > 1 else ''}"
            )
            continue
        rows = out.iloc[ordered]
        stock = rows["on_hand"].to_numpy(float) + rows["in_transit"].to_numpy(float)
        demand = rows["demand_mean_lr"].to_numpy(float)
        risk = rows["stockout_probability"].to_numpy(float)
        need1 = np.minimum(order[ordered], np.maximum(0.0, demand - stock))
        share = _water_fill(min(have, need1.sum()), need1, risk * demand)
        rest = order[ordered] - share
        share += _water_fill(have - share.sum(), rest, rest)
        alloc[ordered] = _whole(share, pack[ordered], order[ordered], have)
        cut[ordered] = True
        # the SKU's MOQ (the largest its lines give) is met by its lines together or not at all
        sku_moq = moq[ordered].max() if moq_scope == "sku" and have < moq[ordered].max() else 0
        reason[ordered] = [
            _cut_reason(have, total, a, o, p, d, pk, m if moq_scope == "warehouse" else 0, sku_moq)
            for a, o, p, d, pk, m in zip(
                alloc[ordered], order[ordered], risk, demand, pack[ordered], moq[ordered],
                strict=True,
            )
        ]  # fmt: skip
    alloc += 0.0  # a -0.0 from rounding reads as 0 in a spreadsheet
    whole = np.floor(alloc / pack + _EPS)
    loose = alloc - whole * pack
    out.insert(out.columns.get_loc("order_qty"), "unconstrained_qty", order)
    out["order_qty"] = alloc
    cases_at = out.columns.get_loc("cases") + 1 if "cases" in out else len(out.columns)
    out["cases"] = whole.astype(np.int64)
    out.insert(cases_at, "loose_units", loose + 0.0)
    if "reason" in out:
        out["reason"] = [
            f"{said}; {why}" if short else said
            for said, why, short in zip(out["reason"], reason, cut, strict=True)
        ]
    out["allocation_reason"] = reason
    return out


def _cut_reason(
    have: float,
    total: float,
    alloc: float,
    order: float,
    risk: float,
    demand: float,
    pack: float,
    moq: float,
    sku_moq: float,
) -> str:
    """What a line of a SKU short of supply got, and why; ``moq`` is the line's own minimum
    (0 when the MOQ is the SKU's), ``sku_moq`` the SKU's one its supply falls short of."""
    text = f"supply short ({_fmt(have)} for {_fmt(total)} ordered): "
    text += f"cut to {_fmt(alloc)} of {_fmt(order)} here" if alloc < order else (
        f"{_fmt(order)} here in full"
    )  # fmt: skip
    whole = math.floor(alloc / pack + _EPS)
    loose = float(alloc - whole * pack)
    if pack > 1 and alloc > 0:
        parts = []
        if whole > 0:
            parts.append(f"{whole} case{'s' if whole != 1 else ''} of {pack:.0f}")
        if loose > _EPS:
            parts.append(f"{_fmt(loose)} loose unit{'s' if loose != 1 else ''}")
        text += " = " + " + ".join(parts)
    text += f", by stock-out risk {risk:.0%} on mean demand {_fmt(demand)}, then remaining need"
    if pack > 1 and loose > _EPS:
        text += (
            f"; the {_fmt(loose)} loose units are what the supply leaves after whole cases "
            f"(less than a case of {pack:.0f}), given to the line furthest below its share"
        )
    if 0 < alloc < moq - _EPS:
        text += (
            f"; below the MOQ of {_fmt(moq)}, which the short supply cannot meet: agree the "
            "smaller order with the supplier"
        )
    if sku_moq > 0 and alloc > 0:
        text += (
            f"; the SKU's {_fmt(have)} units across its warehouses are below its MOQ of "
            f"{_fmt(sku_moq)}, which the short supply cannot meet: agree the smaller order "
            "with the supplier"
        )
    return text


def _supply(available: Mapping[str, float] | pd.Series | pd.DataFrame, func: str) -> dict:
    """``available`` as ``{sku_id: whole units}``, checked."""
    if isinstance(available, pd.DataFrame):
        _require(available, ("sku_id", "supply"), "available", func)
        available = pd.Series(available["supply"].to_numpy(), index=available["sku_id"])
    items = dict(available.items())
    out, bad = {}, []
    for key, value in items.items():
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iat[0]
        if pd.isna(number) or number < 0 or not float(number).is_integer():
            bad.append(f"{key}={value!r}")
        else:
            out[str(key).strip()] = float(number)
    if bad:
        raise InvalidParameterError(
            f"The `available` parameter of `{func}` must give whole units >= 0 per SKU. "
            f"Got {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''} instead."
        )
    return out


def _water_fill(amount: float, caps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split ``amount`` in proportion to ``weights``, never past ``caps``.

    Whatever a capped entry cannot take goes to the others in the same proportion; entries
    whose weights are all zero share in proportion to their caps.
    """
    x = np.zeros_like(caps, dtype=float)
    active = caps > _EPS
    left = float(amount)
    while left > _EPS and active.any():
        w = np.where(active, weights, 0.0)
        if w.sum() <= 0:
            w = np.where(active, caps - x, 0.0)
        give = left * w / w.sum()
        room = caps - x
        full = active & (give >= room - _EPS)
        if not full.any():
            return x + give
        left -= room[full].sum()
        x[full] = caps[full]
        active &= ~full
    return x


def _whole(share: np.ndarray, pack: np.ndarray, cap: np.ndarray, total: float) -> np.ndarray:
    """Whole-unit allocations summing to ``total``: whole cases first, then loose units."""
    alloc = np.minimum(np.floor(share / pack + _EPS) * pack, cap)
    left = total - alloc.sum()
    while left > _EPS:
        deficit = share - alloc
        fits = (pack <= left + _EPS) & (alloc + pack <= cap + _EPS)
        if fits.any():
            i = int(np.argmax(np.where(fits, deficit, -np.inf)))
            alloc[i] += pack[i]
            left -= pack[i]
            continue
        room = cap - alloc
        if not (room > _EPS).any():  # cannot happen while supply < sum of caps
            break
        i = int(np.argmax(np.where(room > _EPS, deficit, -np.inf)))
        give = min(left, room[i])
        alloc[i] += give
        left -= give
    return alloc


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str, func: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractViolation(
            f"The `{name}` parameter of `{func}` must have the columns {', '.join(columns)}. "
            f"Got a frame without {', '.join(missing)} instead."
        )


def as_numbers(values: pd.Series) -> pd.Series:
    """Numbers as floats, NaN where a value is none; text such as ``" 1,200 "`` (thousands
    separated, as a spreadsheet shows them) is read too, and so are full-width digits
    (``１２０``, as a Chinese input method types them)."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        text = values.astype("string").str.normalize("NFKC").str.strip()
        grouped = text.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", na=False)
        values = text.where(~grouped, text.str.replace(",", "", regex=False))
    return pd.to_numeric(values, errors="coerce").astype(float)


def _blank(value: object) -> bool:
    return bool(pd.isna(value)) or not str(value).strip()


def _ids(values: pd.Series) -> pd.Series:
    """Ids as stripped text; missing stays missing (so 'nan' never becomes an id)."""
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.notna(), None)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.number)
        and not isinstance(value, bool)
        and (not math.isnan(float(value)))
    )


def _fmt(x: float) -> str:
    """A quantity for a reason line: whole numbers plain, others to one decimal."""
    r = round(float(x), 1)
    return f"{r:,.0f}" if r.is_integer() else f"{r:,.1f}"
