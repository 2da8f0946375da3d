"""Weekly demand forecasting: a global LightGBM model with calibrated quantiles.

:class:`WeeklyDemandForecaster` keeps an ``MLForecast`` object inside it (lags, rolling
windows and calendar features are mlforecast's, computed by the same code at fit and at
predict time) and turns its point forecast into quantiles with split-conformal scores: before
the final fit it holds out the last ``calibration_weeks`` weeks, forecasts them, and keeps the
quantiles of the errors scaled by each series' recent level, per demand segment. Quantiles
are then ``point + score_q × scale``, floored at zero, so they are monotone by construction.

Known-ahead covariates (promotion days, the advertised price: ``dynamic_features``) are
features of the week being forecast; ``fit`` takes their values for the weeks after the
panel (``future``) and keeps them, so ``predict`` reads the promotions that were planned.

The statsforecast baselines (Naive, SeasonalNaive, the intermittent-demand models) live in
:func:`baseline_forecasts`, so the backtest compares both families on the same windows.

No I/O here: panels in, DataFrames out (see :mod:`features.forecast` for the panel).
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from features.calendar import CALENDARS, calendar_features, feature_columns
from features.errors import InvalidParameterError, NotFittedError
from features.forecast import censor_stockouts, demand_segments
from features.forecast_lags import (
    nonzero_mean_26,
    nonzero_share_13,
    seasonal_level_52,
    weeks_since_sale,
)
from models.seasonal_svd import NAME as SEASONAL_SVD
from models.seasonal_svd import YEARS as SVD_YEARS
from models.seasonal_svd import seasonal_svd_forecast

logger = logging.getLogger(__name__)

#: Quantile levels every forecast carries (column ``p50`` … ``p95``).
QUANTILES: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
#: Upper-tail levels a forecast also carries by default (``p98`` … ``p99_9``): replenishment
#: at a fill-rate target needs the shape of the tail, where lumpy series lose most units.
TAIL_QUANTILES: tuple[float, ...] = (0.98, 0.99, 0.995, 0.998, 0.999)

#: The longest horizon ``predict`` answers, in weeks.
MAX_HORIZON = 52

#: Point forecasts below this many units are reported as 0.
DEMAND_FLOOR = 1e-6

#: LightGBM settings that make a fit repeat exactly on the same data. Left to itself,
#: LightGBM picks row- or column-wise histograms by timing both at each fit, so two runs on
#: one panel could differ by a tenth of a WAPE point; ``extra_lgb_params`` may override.
REPEATABLE_LGB_PARAMS: dict[str, Any] = {"deterministic": True, "force_col_wise": True}

#: Name of the served model in long forecast frames.
MODEL_NAME = "butler"

#: statsforecast models the backtest compares against (name → factory arguments).
BASELINES: tuple[str, ...] = (
    "Naive",
    "WindowAverage8",
    "SeasonalNaive52",
    "AutoETS",
    "CrostonOptimized",
    "ADIDA",
    "IMAPA",
    "TSB",
)

#: Models the point forecast may be blended with: the baselines and the low-rank seasonal
#: naive (a global method, so not one of the baselines the backtest reports).
BLEND_MODELS: tuple[str, ...] = (*BASELINES, SEASONAL_SVD)


class CalendarFeature:
    """One calendar column as an mlforecast date feature (picklable, named).

    mlforecast calls it with the week label dates; ``offset_days`` moves a label to the
    week's first day (Walmart labels weeks by their last day, a Friday: offset 6).
    """

    def __init__(self, calendar: str, column: str, offset_days: int = 0) -> None:
        self.calendar = calendar
        self.column = column
        self.offset_days = offset_days
        self.__name__ = column

    def __call__(self, dates: Any) -> np.ndarray:
        starts = pd.DatetimeIndex(dates) - pd.Timedelta(days=self.offset_days)
        return calendar_features(starts, calendar=self.calendar)[self.column].to_numpy()


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastConfig:
    """Hyperparameters of :class:`WeeklyDemandForecaster` (logged to MLflow as params).

    Attributes:
        freq: pandas weekly frequency of the panel's label dates (``W-MON`` for Butler's
            store, ``W-FRI`` for Walmart's week-ending Fridays).
        calendar: event calendar of :mod:`features.calendar` (``cn``, ``uk`` or ``us``).
        week_offset_days: days from a week's label date back to its first day.
        lags: lags of the target, in weeks.
        rolling_windows: windows (weeks) of the rolling means over lag 1.
        median_windows: windows of the rolling medians over lag 1 (robust to lumpy weeks).
        season_length: weeks in a year; lag features reach one year back through it.
        objective: LightGBM objective; ``l1`` estimates a conditional median, which is what
            an absolute-error (WAPE) target rewards.
        target_transform: ``none``, or ``standard`` to scale each series by its own mean
            and standard deviation before fitting (mlforecast's LocalStandardScaler), which
            suits smooth series of very different sizes. With ``standard`` each row is
            weighted by its series' standard deviation, so the loss still counts units (or
            dollars) the way WAPE does, while the trees see scale-free series.
        n_estimators, learning_rate, num_leaves, min_child_samples, subsample,
        colsample_bytree: LightGBM parameters.
        n_models: LightGBM models averaged (seeds ``seed`` … ``seed + n_models - 1``, each
            on its own row and column subsamples).
        calibration_weeks: weeks held out at fit time to calibrate the quantiles and the
            blend (0 turns calibration off: quantiles then equal the point forecast).
        size_bands: within each demand segment, series are split into this many bands of
            recent level (equal counts), and each band with enough calibration errors gets
            its own score quantiles (Mondrian conformal): the big lumpy series that dominate
            a fill rate do not borrow the narrow errors of the many small ones. 1 = one set
            of scores per segment.
        interval_scale: the calibrated quantiles' distance from the point forecast is
            multiplied by this (1 = as calibrated). Above 1 hedges intervals against a level
            that moves in the forecast weeks but did not in the calibration weeks, at the
            price of wider intervals when it does not.
        blend_with: models of :data:`BLEND_MODELS` the point forecast may be blended with
            (the statsforecast baselines, and the low-rank seasonal naive of
            :mod:`models.seasonal_svd`): on the calibration weeks, the model and weight
            (LightGBM share 0, 0.1 … 0.9) with the lowest WAPE win, unless LightGBM alone
            does better; empty = no blend.
        svd_rank: singular components the low-rank seasonal naive keeps.
        quantiles: levels of the output quantile columns.
        tail_quantiles: upper-tail levels calibrated the same way and output after
            ``quantiles`` (empty = none). Replenishment reads the weekly demand distribution
            from all of them; the backtest scores ``quantiles`` only.
        min_tail_errors: a calibrated level needs this many errors above it (n × (1 − q));
            a thinner level is extrapolated from the highest level that has them, with an
            exponential tail as steep as the quantiles below it rise. Else a small group's
            P99.9 is its single largest error (one viral week), and a fill-rate plan orders
            against it on every series of the group.
        n_jobs: threads for LightGBM and statsforecast.
        seed: random seed.
        version: version of these settings and of the fitted object's attributes; change it
            when either changes meaning, so a registered model of another version is
            retrained, not served.
    """

    freq: str = "W-MON"
    calendar: str = "cn"
    week_offset_days: int = 0
    lags: tuple[int, ...] = (1, 2, 3, 4, 8, 13, 52)
    rolling_windows: tuple[int, ...] = (4, 8, 13, 26)
    median_windows: tuple[int, ...] = (8, 26)
    season_length: int = 52
    objective: str = "l1"
    target_transform: str = "none"
    n_estimators: int = 400
    n_models: int = 1
    learning_rate: float = 0.05
    num_leaves: int = 63
    min_child_samples: int = 50
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    calibration_weeks: int = 8
    size_bands: int = 3
    interval_scale: float = 1.0
    blend_with: tuple[str, ...] = ("SeasonalNaive52", "WindowAverage8", "IMAPA", SEASONAL_SVD)
    svd_rank: int = 30
    quantiles: tuple[float, ...] = QUANTILES
    tail_quantiles: tuple[float, ...] = TAIL_QUANTILES
    n_jobs: int = 2
    seed: int = 0
    extra_lgb_params: dict[str, Any] = field(default_factory=dict)
    version: str = "2026.11.1"
    # after `version`: a slotted dataclass unpickles its fields by position, so a field
    # added before it would shift a registered model's settings by one
    min_tail_errors: int = 5

    def __post_init__(self) -> None:
        def bad(param: str, rule: str, got: Any) -> InvalidParameterError:
            return InvalidParameterError(
                f"The `{param}` parameter of `ForecastConfig` must be {rule}. Got {got!r} instead."
            )

        if not self.freq.startswith("W-"):
            raise bad("freq", "a weekly pandas frequency such as 'W-MON'", self.freq)
        if self.calendar not in CALENDARS:
            raise bad("calendar", f"one of {', '.join(CALENDARS)}", self.calendar)
        if not 0 <= self.week_offset_days <= 6:
            raise bad("week_offset_days", "between 0 and 6", self.week_offset_days)
        if not self.lags or min(self.lags) < 1:
            raise bad("lags", "a non-empty tuple of lags ≥ 1", self.lags)
        if self.target_transform not in ("none", "standard"):
            raise bad("target_transform", "'none' or 'standard'", self.target_transform)
        if any(name not in BLEND_MODELS for name in self.blend_with):
            raise bad("blend_with", f"names from {', '.join(BLEND_MODELS)}", self.blend_with)
        if self.svd_rank < 1:
            raise bad("svd_rank", "≥ 1", self.svd_rank)
        if self.calibration_weeks < 0:
            raise bad("calibration_weeks", "≥ 0", self.calibration_weeks)
        qs = tuple(self.quantiles)
        if not qs or any(not 0 < q < 1 for q in qs) or list(qs) != sorted(set(qs)):
            raise bad("quantiles", "increasing levels in (0, 1)", self.quantiles)
        tail = tuple(self.tail_quantiles)
        if any(not qs[-1] < q < 1 for q in tail) or list(tail) != sorted(set(tail)):
            raise bad("tail_quantiles", f"increasing levels in ({qs[-1]}, 1)", self.tail_quantiles)
        if not self.interval_scale > 0:
            raise bad("interval_scale", "> 0", self.interval_scale)
        if self.size_bands < 1:
            raise bad("size_bands", "≥ 1", self.size_bands)
        if self.min_tail_errors < 1:
            raise bad("min_tail_errors", "≥ 1", self.min_tail_errors)
        if self.n_models < 1:
            raise bad("n_models", "≥ 1", self.n_models)
        if self.n_estimators < 1 or not 0 < self.learning_rate <= 1:
            raise bad("n_estimators/learning_rate", "≥ 1 and in (0, 1]", self.n_estimators)

    def to_params(self) -> dict[str, Any]:
        """Flat parameters for experiment tracking."""
        params = asdict(self)
        extra = params.pop("extra_lgb_params")
        return {**{k: str(v) if isinstance(v, tuple) else v for k, v in params.items()}, **extra}


def registered_name(level: str) -> str:
    """Registry name of a series level's forecaster: ``butler-forecast-sku-warehouse``."""
    return "butler-forecast-" + level.replace("_", "-")


def quantile_columns(quantiles: Sequence[float]) -> list[str]:
    """Column names of quantile levels: 0.9 → ``p90``, 0.995 → ``p99_5``."""
    return ["p" + f"{round(q * 100, 4):g}".replace(".", "_") for q in quantiles]


class WeeklyDemandForecaster:
    """Global LightGBM weekly demand model with calibrated quantiles.

    Args:
        config: hyperparameters; the defaults suit Butler's store (Monday weeks, the
            Chinese shopping calendar).

    Attributes (after ``fit``):
        mlf_: the fitted ``MLForecast`` (lags, rolling features, calendar, LightGBM).
        scores_: conformal score quantiles, index = ``all``, segment or ``segment/band``
            (see ``size_bands``; ``band_edges_`` holds each segment's band limits), columns =
            ``mean`` and the quantile columns.
        last_ds_: last week of the training panel.
        dynamic_features_: the known-ahead covariates the model reads.
        future_: their values in the weeks after ``last_ds_`` (``unique_id, ds`` + columns),
            as passed to ``fit``.
        n_series_: number of series fitted.
        fit_seconds_: wall time of the last ``fit``.

    Examples:
        >>> model = WeeklyDemandForecaster(ForecastConfig()).fit(panel)   # doctest: +SKIP
        >>> model.predict(8)                                             # doctest: +SKIP
    """

    #: Read by a model saved before known-ahead covariates existed (``fit`` sets its own).
    dynamic_features_: Sequence[str] = ()

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = config or ForecastConfig()

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        panel: pd.DataFrame,
        static_features: Sequence[str] = (),
        dynamic_features: Sequence[str] = (),
        future: pd.DataFrame | None = None,
    ) -> Self:
        """Fit on a panel (``unique_id, ds, y`` [+ ``in_stock``] [+ static and dynamic columns]).

        Stock-out weeks (``in_stock == False``) are censored: their demand is imputed for
        the lag features and they carry no weight in the loss.

        Args:
            panel: the training panel, dense per series (see :mod:`features.forecast`).
            static_features: numeric or categorical columns constant per series.
            dynamic_features: known-ahead covariates, columns of the panel that vary by
                week (NaN allowed), e.g. :data:`features.forecast.COVARIATES`.
            future: their values in the weeks after the panel (``unique_id, ds`` + the
                dynamic columns), which ``predict`` reads. Series × weeks it lacks keep
                each series' last known values (with a warning at predict time).

        Returns:
            self, fitted.

        Raises:
            InvalidParameterError: missing columns, or a panel too short to fit.
        """
        started = time.perf_counter()
        self.static_features_ = list(static_features)
        self.dynamic_features_ = list(dynamic_features)
        data = self._check_panel(panel, static_features, func="fit")
        data = censor_stockouts(data)
        self.future_ = self._check_future(future, data["ds"].max(), func="fit")
        self.scores_, self.blend_weight_ = self._calibrate(data)
        self.mlf_ = self._fit_mlf(data)
        self.last_ds_ = pd.Timestamp(data["ds"].max())
        self.series_ = np.sort(data["unique_id"].unique())
        self.n_series_ = len(self.series_)
        self.scale_ = _recent_scale(data)
        # each series' last week and covariates: where predict's weeks start from, and what
        # the weeks `future` lacks fall back to
        self.last_rows_ = data.groupby("unique_id", sort=False).tail(1)[
            ["unique_id", "ds", *self.dynamic_features_]
        ]
        # what the blend model needs at predict time: the last year or two (+ 8 weeks)
        keep = self._history_weeks(self.blend_base_)
        self.tail_ = data.groupby("unique_id", sort=False).tail(keep)[["unique_id", "ds", "y"]]
        # the blend model's forecast of the longest horizon, once: a request reads its first
        # h weeks (every blend model's forecast of h weeks is the start of its longer one)
        self.base_ = (
            None
            if self.blend_base_ is None
            else self._blend_base(self.tail_, MAX_HORIZON, self.blend_base_)
        )
        self.segment_ = demand_segments(data)
        self.fit_seconds_ = time.perf_counter() - started
        logger.info(
            "forecaster fitted on %d series × %d weeks in %.1f s",
            self.n_series_,
            data["ds"].nunique(),
            self.fit_seconds_,
        )
        return self

    def _check_panel(
        self, panel: pd.DataFrame, static_features: Sequence[str], *, func: str
    ) -> pd.DataFrame:
        need = ["unique_id", "ds", "y", *static_features, *self.dynamic_features_]
        missing = [c for c in need if c not in panel.columns]
        if missing:
            raise InvalidParameterError(
                f"The panel passed to `WeeklyDemandForecaster.{func}` lacks the columns "
                f"{', '.join(missing)}. Build it with features.forecast (unique_id, ds, y)."
            )
        keep = [*need, *(["in_stock"] if "in_stock" in panel.columns else [])]
        data = panel[keep].copy()
        data["ds"] = pd.to_datetime(data["ds"])
        data["y"] = pd.to_numeric(data["y"], errors="coerce").astype("float64")
        if data["y"].isna().any():
            raise InvalidParameterError(
                f"The panel passed to `WeeklyDemandForecaster.{func}` has "
                f"{int(data['y'].isna().sum())} missing or non-numeric values of y. "
                "Fill weeks without sales with 0 (features.forecast.dense_panel)."
            )
        weeks = data["ds"].nunique()
        if weeks < self.config.calibration_weeks + 4:
            raise InvalidParameterError(
                f"The panel passed to `WeeklyDemandForecaster.{func}` covers {weeks} weeks; "
                f"at least {self.config.calibration_weeks + 4} are needed "
                f"(calibration_weeks = {self.config.calibration_weeks} + 4)."
            )
        data = data.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        step = data.groupby("unique_id", sort=False)["ds"].diff().dropna()
        bad = step[step != pd.Timedelta(weeks=1)]
        if len(bad):
            row = data.loc[bad.index[0]]
            what = "repeats a week" if bad.iloc[0] == pd.Timedelta(0) else "skips weeks"
            raise InvalidParameterError(
                f"The panel passed to `WeeklyDemandForecaster.{func}` must hold one row per "
                f"series and week with no gaps; series {row['unique_id']!r} {what} at "
                f"{row['ds'].date()} ({len(bad)} such rows). Build it with "
                "features.forecast.dense_panel."
            )
        return data

    def _check_future(
        self, future: pd.DataFrame | None, last: pd.Timestamp, *, func: str
    ) -> pd.DataFrame:
        """The known-ahead covariates of the weeks after ``last`` (empty without any)."""
        cols = ["unique_id", "ds", *self.dynamic_features_]
        if future is None or not self.dynamic_features_:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        missing = [c for c in cols if c not in future.columns]
        if missing:
            raise InvalidParameterError(
                f"The `future` frame passed to `WeeklyDemandForecaster.{func}` lacks the "
                f"columns {', '.join(missing)}: it holds unique_id, ds and the dynamic "
                f"features ({', '.join(self.dynamic_features_)}) of the weeks ahead."
            )
        out = future[cols].copy()
        out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
        dynamic = list(self.dynamic_features_)
        out[dynamic] = out[dynamic].astype("float32")
        out = out[out["ds"] > last].drop_duplicates(["unique_id", "ds"], keep="last")
        return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def _future_frame(
        self, history: pd.DataFrame, h: int, future: pd.DataFrame, ids: Any = None
    ) -> pd.DataFrame | None:
        """mlforecast's ``X_df``: the dynamic features of each series' ``h`` weeks ahead.

        The weeks follow each series' last week in ``history`` (its last row is enough).
        Weeks ``future`` does not cover keep the series' last values there: a covariate
        nobody planned is assumed to stay as it was.
        """
        dynamic = self.dynamic_features_
        if not dynamic:
            return None
        if ids is not None:
            wanted = set(ids)
            history = history[history["unique_id"].isin(wanted)]
            future = future[future["unique_id"].isin(wanted)]
        last = history.groupby("unique_id", sort=False).tail(1)[["unique_id", "ds", *dynamic]]
        steps = np.tile(np.arange(1, h + 1), len(last))
        grid = pd.DataFrame(
            {
                "unique_id": np.repeat(last["unique_id"].to_numpy(), h),
                "ds": np.repeat(last["ds"].to_numpy(), h) + pd.to_timedelta(steps, unit="W"),
            }
        )
        out = grid.merge(future[["unique_id", "ds", *dynamic]], on=["unique_id", "ds"], how="left")
        gaps = out[dynamic].isna().all(axis=1).to_numpy()
        if gaps.any():
            logger.warning(
                "%d of %d series × weeks forecast have no known-ahead values of %s; each "
                "series' last known values are used.",
                int(gaps.sum()),
                len(out),
                ", ".join(dynamic),
            )
            held = last.set_index("unique_id")[dynamic].reindex(out.loc[gaps, "unique_id"])
            out.loc[gaps, dynamic] = held.to_numpy()
        return out

    def _make_mlf(self) -> Any:
        import lightgbm as lgb
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import (
            ExpandingMean,
            ExponentiallyWeightedMean,
            RollingMax,
            RollingMean,
            RollingQuantile,
            RollingStd,
        )

        cfg = self.config
        transforms: list[Any] = [RollingMean(w) for w in cfg.rolling_windows]
        transforms += [RollingQuantile(0.5, w) for w in cfg.median_windows]
        transforms += [
            RollingStd(8),
            RollingMax(8),
            ExpandingMean(),
            ExponentiallyWeightedMean(0.3),
            nonzero_share_13,
            nonzero_mean_26,
            weeks_since_sale,
            seasonal_level_52,
        ]
        lag_transforms: dict[int, list[Any]] = {1: transforms}
        # last year's level around the weeks being forecast (lag 52 − 7 … 52)
        lag_transforms[cfg.season_length - 7] = [RollingMean(8)]
        # every calendar column, week_of_year and month included: they are computed on the
        # week's first day, so week-ending labels (Walmart's Fridays) get the right week
        dates: list[Any] = [
            CalendarFeature(cfg.calendar, col, cfg.week_offset_days)
            for col in feature_columns(cfg.calendar)
        ]
        models = {
            _member(i): lgb.LGBMRegressor(
                objective=cfg.objective,
                n_estimators=cfg.n_estimators,
                learning_rate=cfg.learning_rate,
                num_leaves=cfg.num_leaves,
                min_child_samples=cfg.min_child_samples,
                subsample=cfg.subsample,
                subsample_freq=1,
                colsample_bytree=cfg.colsample_bytree,
                random_state=cfg.seed + i,
                n_jobs=cfg.n_jobs,
                verbose=-1,
                **{**REPEATABLE_LGB_PARAMS, **cfg.extra_lgb_params},
            )
            for i in range(cfg.n_models)
        }
        from mlforecast.target_transforms import LocalStandardScaler

        scalers = [LocalStandardScaler()] if cfg.target_transform == "standard" else None
        return MLForecast(
            models=models,
            target_transforms=scalers,
            freq=cfg.freq,
            lags=list(cfg.lags),
            lag_transforms=lag_transforms,
            date_features=dates,
            num_threads=1,
        )

    def _fit_mlf(self, data: pd.DataFrame) -> Any:
        """Build the features over every week, then fit on the uncensored weeks only.

        Censored weeks stay in the series so the lags after them see imputed demand, but
        they are left out of the rows the model learns from (a zero weight would do the
        same, at many times the cost with LightGBM's absolute-error objective).
        """
        mlf = self._make_mlf()
        cols = ["unique_id", "ds", "y", *self.static_features_, *self.dynamic_features_]
        prep = mlf.preprocess(data[cols], static_features=self.static_features_, dropna=False)
        # dropna=False keeps every input row, in the panel's (unique_id, ds) order
        weight = data["weight"].to_numpy()
        keep = weight > 0
        features = prep.drop(columns=["unique_id", "ds", "y"])
        if self.config.target_transform == "standard":
            spread = data.groupby("unique_id", sort=False)["y"].transform("std").fillna(0.0)
            weight = weight * spread.clip(lower=max(float(spread.median()) * 0.01, 1e-6))
            from sklearn.base import clone

            mlf.models_ = {}
            for name, model in mlf.models.items():
                estimator = clone(model)
                y = prep["y"].to_numpy()[keep]
                mlf.models_[name] = estimator.fit(features[keep], y, sample_weight=weight[keep])
        else:
            mlf.fit_models(features[keep], prep["y"].to_numpy()[keep])
        return mlf

    def _calibrate(self, data: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """Blend and conformal score quantiles per segment, from a held-out tail.

        The model is fitted on all but the last ``calibration_weeks`` weeks and forecasts
        them. The blend (a baseline of ``blend_with`` and LightGBM's share ``w``) is the one
        with the lowest WAPE on those weeks, if it beats LightGBM alone; the scores are the
        (blended) forecast's errors scaled by each series' recent level. Sets
        ``blend_base_`` (None = no blend).
        """
        levels = self._levels()
        cols = quantile_columns(levels)
        weeks = self.config.calibration_weeks
        self.blend_base_: str | None = None
        self.band_edges_: dict[str, np.ndarray] = {}
        if weeks == 0:
            return pd.DataFrame(0.0, index=["all"], columns=["mean", *cols]), 1.0
        cutoff = data["ds"].max() - pd.Timedelta(weeks=weeks)
        train = data[data["ds"] <= cutoff]
        held = data[(data["ds"] > cutoff) & ~data.get("censored", False)]
        mlf = self._fit_mlf(train)
        x_df = self._future_frame(train, weeks, data[data["ds"] > cutoff])
        with _expected_nulls():
            point = _averaged(mlf.predict(weeks, X_df=x_df)).rename(columns={MODEL_NAME: "point"})
        point["point"] = _capped(point["point"], point["unique_id"], train)
        scored = held.merge(point, on=["unique_id", "ds"], how="inner")
        weight = 1.0
        total = scored["y"].abs().sum()
        best = float((scored["point"] - scored["y"]).abs().sum() / total) if total else 0.0
        grid = np.round(np.linspace(0.0, 0.9, 10), 2)
        for name in self.config.blend_with if total else ():
            base = self._blend_base(train, weeks, name)
            merged = scored.merge(base, on=["unique_id", "ds"], how="left")
            other = merged["base"].fillna(merged["point"]).to_numpy()
            for w in grid:
                blended = w * scored["point"].to_numpy() + (1 - w) * other
                wape = float(np.abs(blended - scored["y"].to_numpy()).sum() / total)
                if wape < best - 1e-4:
                    best, weight, self.blend_base_ = wape, float(w), name
                    scored["blend"] = blended
        if self.blend_base_ is not None:
            scored["point"] = scored["blend"]
        logger.info(
            "blend: %s at weight %.1f (calibration WAPE %.4f)", self.blend_base_, weight, best
        )
        scale = _recent_scale(train)
        segment = demand_segments(train)
        self.band_edges_ = _band_edges(scale, segment, self.config.size_bands)
        scored["score"] = (scored["y"] - scored["point"].clip(lower=0)) / scored["unique_id"].map(
            scale
        )
        scored["segment"] = scored["unique_id"].map(segment)
        scored["cell"] = scored["unique_id"].map(self._cells(scale, segment))
        rows = {}
        groups = [("all", scored), *scored.groupby("segment")]
        if self.config.size_bands > 1:
            groups += list(scored.groupby("cell"))
        for name, group in groups:
            # a segment needs enough errors for its quantiles; "all" always gets a row
            if name != "all" and len(group) < 50:
                continue
            if group.empty:
                rows[name] = [0.0] * (1 + len(cols))
                continue
            s = group["score"].to_numpy()
            quantiles = _thin_tail_extrapolated(
                s, levels, getattr(self.config, "min_tail_errors", 5), len(self.config.quantiles)
            )
            rows[name] = [float(np.mean(s)), *quantiles]
        table = pd.DataFrame.from_dict(rows, orient="index", columns=["mean", *cols])
        # quantiles must rise with the level even when a segment's sample is small
        table[cols] = np.maximum.accumulate(table[cols].to_numpy(), axis=1)
        table[cols] *= self.config.interval_scale
        logger.debug("calibration scores:\n%s", table)
        return table, weight

    def _levels(self) -> tuple[float, ...]:
        return (*self.config.quantiles, *self.config.tail_quantiles)

    def _cells(self, scale: pd.Series, segment: pd.Series) -> pd.Series:
        """Each series' calibration cell, ``segment/band`` (band 0 = the smallest levels)."""
        seg = segment.reindex(scale.index)
        band = pd.Series(0, index=scale.index)
        for name, edges in self.band_edges_.items():
            rows = (seg == name).to_numpy()
            band[rows] = np.searchsorted(edges, scale.to_numpy()[rows], side="right")
        return seg.astype(str) + "/" + band.astype(str)

    def _history_weeks(self, blend: str | None) -> int:
        """Weeks of each series' history the blend model reads at predict time."""
        years = SVD_YEARS if blend == SEASONAL_SVD else 1
        return years * self.config.season_length + 8

    def _blend_base(
        self, history: pd.DataFrame, h: int, name: str, ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Blend model ``name``'s forecast of the ``h`` weeks after ``history`` (of ``ids``).

        The low-rank seasonal naive is global: it runs over every series of ``history``
        (as at calibration) and is narrowed to ``ids`` afterwards; a baseline runs on
        ``ids`` alone.
        """
        cfg = self.config
        tail = history.groupby("unique_id", sort=False).tail(self._history_weeks(name))
        tail = tail[["unique_id", "ds", "y"]]
        if name == SEASONAL_SVD:
            base = seasonal_svd_forecast(
                tail, h, rank=cfg.svd_rank, years=SVD_YEARS, season_length=cfg.season_length
            )
            if ids is not None:
                base = base[base["unique_id"].isin(ids)]
        else:
            if ids is not None:
                tail = tail[tail["unique_id"].isin(ids)]
            base = baseline_forecasts(tail, h, freq=cfg.freq, models=[name], n_jobs=1)
        return base[["unique_id", "ds", "mean"]].rename(columns={"mean": "base"})

    # -- predicting --------------------------------------------------------------------------

    def predict(
        self,
        h: int,
        ids: Sequence[str] | None = None,
        *,
        history: pd.DataFrame | None = None,
        future: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Forecast the ``h`` weeks after the training panel (or after ``history``).

        Args:
            h: horizon in weeks, 1–52.
            ids: series to forecast; None = all fitted series.
            history: a newer panel of the same series (``unique_id, ds, y`` [+ ``in_stock``]
                + the static and dynamic columns) to forecast from without refitting: lags,
                scales and the blend baseline are recomputed from it, the fitted trees and
                calibration are kept. None = the training panel.
            future: the dynamic features of the weeks ahead (as in ``fit``); None = those
                passed to ``fit``.

        Returns:
            Long frame ``unique_id, ds, model, mean, p50, p80, p90, p95, p98 … p99_9,
            expected`` (the tail columns are ``config.tail_quantiles``; one row
            per series × week; ``model`` = ``butler``). ``mean`` is the point forecast the
            model is scored on (with the default ``l1`` objective, a conditional median,
            which is what an absolute-error measure rewards); the quantile columns are
            calibrated and non-decreasing; ``expected`` is the expected demand (the point
            plus the calibration window's mean error), which replenishment sums over weeks.

        Raises:
            NotFittedError: ``fit`` has not been called.
            InvalidParameterError: bad horizon, or an id the model was not fitted on.
        """
        if not hasattr(self, "mlf_"):
            raise NotFittedError(
                "This WeeklyDemandForecaster is not fitted yet. Call `fit(panel)` first."
            )
        if not isinstance(h, int | np.integer) or not 1 <= h <= MAX_HORIZON:
            raise InvalidParameterError(
                "The `h` parameter of `WeeklyDemandForecaster.predict` must be an integer "
                f"in [1, {MAX_HORIZON}]. Got {h!r} instead."
            )
        if ids is not None:
            ids = list(ids)
            unknown = sorted(set(ids) - set(self.series_))
            if unknown:
                raise InvalidParameterError(
                    "The `ids` parameter of `WeeklyDemandForecaster.predict` names series the "
                    f"model was not fitted on: {', '.join(unknown[:5])}"
                    f"{' …' if len(unknown) > 5 else ''}. Refit with their history."
                )
        tail, scale, segment = self.tail_, self.scale_, self.segment_
        if history is None:
            known = (
                getattr(self, "future_", None)
                if future is None
                else self._check_future(future, self.last_ds_, func="predict")
            )
            x_df = self._future_frame(getattr(self, "last_rows_", None), int(h), known, ids)
            with _expected_nulls():
                raw = self.mlf_.predict(int(h), ids=ids, X_df=x_df)
        else:
            data = censor_stockouts(
                self._check_panel(history, self.static_features_, func="predict")
            )
            known = self._check_future(future, data["ds"].max(), func="predict")
            x_df = self._future_frame(data, int(h), known, ids)
            cols = ["unique_id", "ds", "y", *self.static_features_, *self.dynamic_features_]
            with _expected_nulls():
                raw = self.mlf_.predict(int(h), ids=ids, new_df=data[cols], X_df=x_df)
            keep = self._history_weeks(self.blend_base_)
            tail = data.groupby("unique_id", sort=False).tail(keep)[["unique_id", "ds", "y"]]
            scale, segment = _recent_scale(data), demand_segments(data)
        raw = _averaged(raw)
        raw[MODEL_NAME] = _capped(raw[MODEL_NAME], raw["unique_id"], tail)
        if self.blend_base_ is not None:
            base = getattr(self, "base_", None)  # None in models fitted before it was kept
            if history is None and base is not None:
                base = base[base["ds"] <= self.last_ds_ + pd.Timedelta(weeks=int(h))]
                base = base if ids is None else base[base["unique_id"].isin(ids)]
            else:
                base = self._blend_base(tail, int(h), self.blend_base_, ids)
            raw = raw.merge(base, on=["unique_id", "ds"], how="left")
            w = self.blend_weight_
            raw[MODEL_NAME] = w * raw[MODEL_NAME] + (1 - w) * raw["base"].fillna(raw[MODEL_NAME])
        return self._with_quantiles(raw, scale, segment)

    def _with_quantiles(
        self, raw: pd.DataFrame, scale_of: pd.Series, segment_of: pd.Series
    ) -> pd.DataFrame:
        # the fitted score table names the levels (a model fitted before a level was added
        # keeps the levels it was calibrated for)
        cols = [c for c in self.scores_.columns if c != "mean"]
        point = raw[MODEL_NAME].clip(lower=0).to_numpy()
        # the trees' rounding dust (1e-9 units) is no demand: a buyer should read 0
        point = np.where(point < DEMAND_FLOOR, 0.0, point)
        # the finest calibrated group: segment × size band, else the segment, else all
        known = self.scores_.index
        cell = raw["unique_id"].map(self._cells(scale_of, segment_of))
        seg = raw["unique_id"].map(segment_of)
        key = cell.where(cell.isin(known), seg.where(seg.isin(known), "all"))
        scores = self.scores_.loc[key.to_numpy()]
        scale = raw["unique_id"].map(scale_of).fillna(1.0).to_numpy()[:, None]
        out = pd.DataFrame({"unique_id": raw["unique_id"], "ds": raw["ds"], "model": MODEL_NAME})
        out["mean"] = point
        qs = np.maximum(point[:, None] + scores[cols].to_numpy() * scale, 0.0)
        out[cols] = np.maximum.accumulate(qs, axis=1)
        out["expected"] = np.maximum(point + scores["mean"].to_numpy() * scale[:, 0], 0.0)
        return out.reset_index(drop=True)


def _thin_tail_extrapolated(
    scores: np.ndarray, levels: tuple[float, ...], min_errors: int, first_tail: int = 0
) -> list[float]:
    """The scores' quantiles at ``levels``. A tail level (index ≥ ``first_tail``) with fewer
    than ``min_errors`` scores above it is extrapolated from the highest level q0 that has
    them: Q(q) = Q(q0) + σ·ln((1 − q0) / (1 − q)), an exponential tail whose σ is the rise
    per unit of ln(1 − q) between q0 and the level two below it. The levels before
    ``first_tail`` (the ones a backtest scores) stay the data's own.

    Examples:
        >>> s = np.r_[np.linspace(0, 1, 98), 30.0, 40.0]   # two wild errors in 100
        >>> [round(q, 2) for q in _thin_tail_extrapolated(s, (0.5, 0.8, 0.9, 0.99), 10)]
        [0.51, 0.82, 0.92, 1.5]
    """
    empirical = [float(v) for v in np.quantile(scores, levels)]
    n = len(scores)
    reliable = [i for i, q in enumerate(levels) if n * (1 - q) >= min_errors - 1e-9]
    if not reliable:
        return empirical
    top = reliable[-1]
    low = max(top - 2, 0)
    q0, q_low = levels[top], levels[low]
    rise = empirical[top] - empirical[low]
    sigma = max(rise / np.log((1 - q_low) / (1 - q0)), 0.0) if top > low else 0.0
    return [
        empirical[i] if i <= top or i < first_tail
        else float(empirical[top] + sigma * np.log((1 - q0) / (1 - q)))
        for i, q in enumerate(levels)
    ]  # fmt: skip


def _band_edges(scale: pd.Series, segment: pd.Series, bands: int) -> dict[str, np.ndarray]:
    """Per segment, the levels that split its series into ``bands`` equal-count bands."""
    levels = np.linspace(0, 1, bands + 1)[1:-1]
    by_segment = scale.groupby(segment.reindex(scale.index))
    return {str(name): np.quantile(group.to_numpy(), levels) for name, group in by_segment}


def _capped(point: pd.Series, ids: pd.Series, history: pd.DataFrame) -> pd.Series:
    """Point forecasts floored at 0 and capped at twice the most each series sold in the
    last 60 weeks of ``history``: a global model can lend a tiny series its neighbours'
    level (a department selling cents forecast at hundreds of dollars)."""
    recent = history.groupby("unique_id", sort=False).tail(60)
    most = recent.groupby("unique_id")["y"].max().clip(lower=0)
    cap = ids.map(2 * most).fillna(np.inf).to_numpy()
    return point.clip(lower=0).where(point.to_numpy() <= cap, cap)


def _member(i: int) -> str:
    return f"lgb{i}"


def _averaged(raw: pd.DataFrame) -> pd.DataFrame:
    """One ``butler`` column: the mean of the ensemble members' forecasts."""
    members = [c for c in raw.columns if c.startswith("lgb") and c[3:].isdigit()]
    out = raw.drop(columns=members)
    out[MODEL_NAME] = raw[members].mean(axis=1)
    return out


@contextlib.contextmanager
def _expected_nulls() -> Iterator[None]:
    """Silence mlforecast's warning about null features: a lag that reaches before a series
    starts is NaN by design, and LightGBM routes missing values itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found null values", category=UserWarning)
        yield


def _recent_scale(data: pd.DataFrame, weeks: int = 13) -> pd.Series:
    """Each series' recent level: mean |y| of its last ``weeks`` weeks, floored."""
    tail = data.groupby("unique_id", sort=False).tail(weeks)
    level = tail["y"].abs().groupby(tail["unique_id"]).mean()
    overall = data["y"].abs().groupby(data["unique_id"]).mean()
    scale = np.maximum(level, 0.5 * overall)
    floor = max(float(np.nanmedian(scale[scale > 0])) * 0.05, 1e-3) if (scale > 0).any() else 1.0
    return scale.clip(lower=floor)


def baseline_forecasts(
    panel: pd.DataFrame,
    h: int,
    *,
    freq: str = "W-MON",
    models: Sequence[str] = BASELINES,
    n_jobs: int = 2,
    intervals: bool = False,
) -> pd.DataFrame:
    """statsforecast baselines on the same panel, in the long forecast format.

    Args:
        panel: ``unique_id, ds, y``.
        h: horizon in weeks.
        freq: weekly frequency of the panel.
        models: names from :data:`BASELINES`.
        n_jobs: processes.
        intervals: also give each baseline quantiles, from statsforecast's conformal
            intervals (each model refitted with the series' last ``2 h`` weeks held out in
            turn): the P80, P90 and P95 are the point forecast plus the upper half-widths
            of its 60, 80 and 90% intervals, the P50 the point forecast itself. A series
            with fewer than ``2 h + 1`` weeks (or a week the model cannot forecast) has too
            little history for them: its quantiles all equal the point forecast.

    Returns:
        Long frame ``unique_id, ds, model, mean`` + quantile columns (NaN without
        ``intervals``: the baselines are then point forecasts). Weeks a model cannot
        forecast (a seasonal naive without a year of history), and series a model fails on
        (AutoETS on a few very short series), fall back to the series' last 8 weeks' mean,
        so every model answers every series.
    """
    from statsforecast import StatsForecast
    from statsforecast import models as sm
    from statsforecast.utils import ConformalIntervals

    factories: dict[str, Callable[[Any], Any]] = {
        "Naive": lambda pi: sm.Naive(prediction_intervals=pi),
        "WindowAverage8": lambda pi: sm.WindowAverage(
            8, alias="WindowAverage8", prediction_intervals=pi
        ),
        "SeasonalNaive52": lambda pi: sm.SeasonalNaive(
            52, alias="SeasonalNaive52", prediction_intervals=pi
        ),
        "AutoETS": lambda pi: sm.AutoETS(season_length=1, prediction_intervals=pi),
        "CrostonOptimized": lambda pi: sm.CrostonOptimized(prediction_intervals=pi),
        "ADIDA": lambda pi: sm.ADIDA(prediction_intervals=pi),
        "IMAPA": lambda pi: sm.IMAPA(prediction_intervals=pi),
        "TSB": lambda pi: sm.TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=pi),
    }
    unknown = [m for m in models if m not in factories]
    if unknown:
        raise InvalidParameterError(
            f"The `models` parameter of `baseline_forecasts` must use {', '.join(factories)}. "
            f"Got {', '.join(unknown)} instead."
        )
    names = [*models, *([] if "WindowAverage8" in models else ["WindowAverage8"])]
    data = panel[["unique_id", "ds", "y"]]
    # a quantile q above the median is the upper end of the central (2q - 1) interval
    levels = {col: round((2 * q - 1) * 100) for col, q in
              zip(quantile_columns(QUANTILES), QUANTILES, strict=True) if q > 0.5}  # fmt: skip
    windows = 2
    long_enough = data.groupby("unique_id")["y"].transform("size") > windows * h

    def run(part: pd.DataFrame, which: Sequence[str], pi: Any = None) -> pd.DataFrame:
        # every model carries the intervals, the fallback too: statsforecast asks the
        # fallback for them on a series where a model fails
        sf = StatsForecast(
            models=[factories[name](pi) for name in which],
            freq=freq,
            n_jobs=n_jobs,
            fallback_model=sm.WindowAverage(8, alias="fallback", prediction_intervals=pi),
        )
        fc = sf.forecast(df=part, h=h, level=sorted(set(levels.values())) if pi else None)
        return fc.reset_index() if "unique_id" not in fc.columns else fc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = run(data, names)
        if intervals and long_enough.any():
            # the widths only: a model that fails on a series in one of the conformal
            # refits is replaced by the fallback for the whole series, which must not
            # change the point forecast scored
            wide = run(data[long_enough], models, ConformalIntervals(h=h, n_windows=windows))
            widths = wide[["unique_id", "ds"]].copy()
            for name in models:
                for level in set(levels.values()):
                    widths[f"{name}-hi-{level}"] = wide[f"{name}-hi-{level}"] - wide[name]
            fc = fc.merge(widths, on=["unique_id", "ds"], how="left")
            for name in models:
                for level in set(levels.values()):
                    fc[f"{name}-hi-{level}"] += fc[name]
    frames = []
    for name in models:
        mean = fc[name].fillna(fc["WindowAverage8"]).fillna(0.0)
        one = pd.DataFrame({"unique_id": fc["unique_id"], "ds": fc["ds"], "model": name})
        one["mean"] = mean.to_numpy()
        for col, q in zip(quantile_columns(QUANTILES), QUANTILES, strict=True):
            if not intervals:
                one[col] = np.nan
            elif q <= 0.5:
                one[col] = mean.to_numpy()  # conformal intervals are centred on the point
            else:
                upper = fc.get(f"{name}-hi-{levels[col]}", pd.Series(np.nan, index=fc.index))
                one[col] = np.maximum(upper.fillna(mean).to_numpy(), mean.to_numpy())
        frames.append(one)
    return pd.concat(frames, ignore_index=True)
