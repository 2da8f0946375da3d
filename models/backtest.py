"""Rolling-origin backtests of the weekly forecasters, and scoring against unseen weeks.

Pure: panels in, figures and forecasts out; the evaluation runner and the training
pipeline both call it, so the figures they report are computed the same way.

:func:`backtest` cuts the panel at ``n_windows`` origins, ``h`` weeks apart, ending ``h``
weeks before the panel's last week; at each origin it fits Butler's model and every
statsforecast baseline on the weeks up to the origin and scores the ``h`` weeks after it.
:func:`score_actuals` fits on the whole panel instead and scores the ``h`` weeks that follow
against a file of later weeks that no model has seen (calendar features for those weeks come
from their dates alone).

Scored rows are every series × week of the scored period, including series that first sell
in it (every model forecasts 0 for them), so models are compared on the same rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError
from features.forecast import demand_segments
from models.forecast import (
    BASELINES,
    MODEL_NAME,
    QUANTILES,
    ForecastConfig,
    WeeklyDemandForecaster,
    baseline_forecasts,
    quantile_columns,
)
from models.metrics import forecast_metrics, naive_scale

logger = logging.getLogger(__name__)

#: The naive methods a planner uses today; the target is measured against the best of them.
NAIVE = ("Naive", "WindowAverage8", "SeasonalNaive52")

#: Columns of the long forecast file.
FORECAST_COLUMNS = ["unique_id", "week", "model", "mean", *quantile_columns(QUANTILES)]

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class BacktestResult:
    """Figures and forecasts of one backtest (or one scoring against actuals).

    Attributes:
        dataset: the dataset's name.
        mode: ``backtest`` or ``actuals``.
        horizon: weeks forecast from each origin.
        cutoffs: the origins (last training week of each window).
        metrics: one row per model × segment (``all``, ``fast``, ``slow``,
            ``intermittent``, ``new``): wape, mase, bias, pinball, wql, coverage_pXX,
            rows, plus per model fit_seconds, predict_seconds and series_per_second.
        forecasts: long forecasts ``cutoff, unique_id, week, model, mean, p50 … p95, y``
            (``y`` empty where no actual was given: a series an actuals file leaves out).
        seconds: wall time of the whole run.
    """

    dataset: str
    mode: str
    horizon: int
    cutoffs: list[pd.Timestamp]
    metrics: pd.DataFrame
    forecasts: pd.DataFrame
    seconds: float
    config: dict[str, object] = field(default_factory=dict)

    def overall(self) -> pd.DataFrame:
        """The ``all`` segment's row per model, best WAPE first."""
        rows = self.metrics[self.metrics["segment"] == "all"].set_index("model")
        return rows.sort_values("wape")

    def targets(self) -> dict[str, float]:
        """Butler's WAPE against the best naive method and the best statsforecast model."""
        rows = self.overall()
        if MODEL_NAME not in rows.index:
            return {}
        ours = float(rows.loc[MODEL_NAME, "wape"])
        naive = rows.loc[rows.index.intersection(NAIVE), "wape"]
        stats = rows.drop(index=MODEL_NAME)["wape"]
        out = {"butler_wape": ours}
        if len(naive):
            out |= {
                "best_naive": str(naive.idxmin()),
                "best_naive_wape": float(naive.min()),
                "reduction_vs_best_naive": float(1 - ours / naive.min()),
            }
        if len(stats):
            out |= {
                "best_baseline": str(stats.idxmin()),
                "best_baseline_wape": float(stats.min()),
                "reduction_vs_best_baseline": float(1 - ours / stats.min()),
            }
        if "SeasonalNaive52" in rows.index:
            out["reduction_vs_seasonal_naive"] = float(
                1 - ours / rows.loc["SeasonalNaive52", "wape"]
            )
        cov = rows.loc[MODEL_NAME].get("coverage_p90")
        if cov is not None and not pd.isna(cov):
            out["coverage_p90"] = float(cov)
        return out

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary: figures per model and segment, targets and timings."""
        metrics = self.metrics.replace({np.nan: None}).to_dict(orient="records")
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "horizon": self.horizon,
            "cutoffs": [str(c.date()) for c in self.cutoffs],
            "seconds": round(self.seconds, 2),
            "targets": self.targets(),
            "metrics": metrics,
            "config": self.config,
        }


def backtest(
    panel: pd.DataFrame,
    h: int,
    *,
    name: str = "panel",
    static_features: Sequence[str] = (),
    dynamic_features: Sequence[str] = (),
    n_windows: int = 2,
    config: ForecastConfig | None = None,
    baselines: Sequence[str] = BASELINES,
    on_progress: Progress | None = None,
) -> BacktestResult:
    """Rolling-origin backtest over the last ``n_windows × h`` weeks of a dataset.

    Args:
        panel: dense ``unique_id, ds, y`` [+ ``in_stock``] [+ static columns].
        h: horizon, 1–13 weeks.
        name: the data's name in the result.
        static_features: static columns of the panel for the global model.
        dynamic_features: known-ahead covariates of the panel (promotions, prices): the
            model reads their values in the weeks it forecasts, as it would in use.
        n_windows: origins, ``h`` weeks apart (non-overlapping scored weeks).
        config: the forecaster's config (its ``freq`` is the panel's); None = defaults.
        baselines: statsforecast models to compare.
        on_progress: called with (done, total) model fits.

    Returns:
        The figures and forecasts of every model on every window.

    Raises:
        InvalidParameterError: bad horizon or windows, or too little history.
    """
    _check_horizon(h, "backtest")
    if n_windows < 1:
        raise InvalidParameterError(
            f"The `n_windows` parameter of `backtest` must be ≥ 1. Got {n_windows} instead."
        )
    cfg = config or ForecastConfig()
    weeks = np.sort(panel["ds"].unique())
    if len(weeks) < n_windows * h + 20:
        least = n_windows * h + 20
        fix = (
            "Ingest more history (20 weeks to learn from, then the windows)"
            if len(weeks) < 21  # not even one window of one week
            else "Use fewer windows (--windows) or shorter ones (--horizon), or ingest more history"
        )
        raise InvalidParameterError(
            f"{name} covers {len(weeks)} weeks; a backtest of {n_windows} "
            f"window{'s' if n_windows != 1 else ''} of {h} week{'s' if h != 1 else ''} needs at "
            f"least {least}. {fix}."
        )
    cutoffs = [pd.Timestamp(weeks[-1 - k * h]) for k in range(n_windows, 0, -1)]
    started = time.perf_counter()
    parts, timings = [], []
    total = len(cutoffs) * (1 + len(baselines))
    done = 0
    for cutoff in cutoffs:
        train = panel[panel["ds"] <= cutoff]
        held = panel[(panel["ds"] > cutoff) & (panel["ds"] <= cutoff + pd.Timedelta(weeks=h))]
        fc, times = _forecast_all(
            train, h, cfg, static_features, baselines, dynamic_features, future=held
        )
        done += len(times)
        if on_progress:
            on_progress(done, total)
        parts.append(_attach(fc, held, train, cutoff))
        timings += times
    return _result(name, "backtest", h, cutoffs, parts, timings, started, cfg)


def score_actuals(
    panel: pd.DataFrame,
    actuals: pd.DataFrame,
    h: int,
    *,
    name: str = "panel",
    static_features: Sequence[str] = (),
    config: ForecastConfig | None = None,
    baselines: Sequence[str] = BASELINES,
    on_progress: Progress | None = None,
) -> BacktestResult:
    """Fit on the whole dataset, forecast the ``h`` weeks after it, score against actuals.

    Args:
        panel: the whole history (all of it is training data).
        actuals: ``unique_id, ds, y`` of later weeks.
        h: horizon, 1–13 weeks; actual weeks beyond it are not scored.
        name, static_features, config, baselines, on_progress: as in :func:`backtest`.

    Returns:
        The figures, from the actuals' rows in the ``h`` weeks, and the forecasts: those
        rows with their ``y``, then every other series × week the models forecast (a series
        the actuals do not list) with ``y`` empty, so the forecasts are whole.
    """
    _check_horizon(h, "score_actuals")
    started = time.perf_counter()
    cfg = config or ForecastConfig()
    cutoff = pd.Timestamp(panel["ds"].max())
    held = actuals[actuals["ds"] <= cutoff + pd.Timedelta(weeks=h)]
    if held.empty:
        raise InvalidParameterError(
            f"The actuals hold no week in the {h} weeks after {cutoff.date()}, the dataset's "
            "last week. Pass the weeks that follow the dataset."
        )
    fc, times = _forecast_all(panel, h, cfg, static_features, baselines)
    if on_progress:
        on_progress(len(times), len(times))
    scored = _attach(fc, held, panel, cutoff)
    listed = pd.MultiIndex.from_frame(held[["unique_id", "ds"]])
    unscored = fc[~pd.MultiIndex.from_frame(fc[["unique_id", "ds"]]).isin(listed)]
    unscored = unscored.rename(columns={"ds": "week"}).assign(y=np.nan, cutoff=cutoff)
    result = _result(name, "actuals", h, [cutoff], [scored], times, started, cfg)
    result.forecasts = pd.concat([result.forecasts, unscored[result.forecasts.columns]])
    result.forecasts = result.forecasts.reset_index(drop=True)
    return result


def _check_horizon(h: int, func: str) -> None:
    if not isinstance(h, int | np.integer) or not 1 <= h <= 13:
        raise InvalidParameterError(
            f"The `h` parameter of `{func}` must be an integer in [1, 13]. Got {h!r} instead."
        )


def _forecast_all(
    train: pd.DataFrame,
    h: int,
    cfg: ForecastConfig,
    static_features: Sequence[str],
    baselines: Sequence[str],
    dynamic_features: Sequence[str] = (),
    future: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[dict[str, float | str]]]:
    """Butler's model and each baseline on one training panel; forecasts and timings."""
    n = train["unique_id"].nunique()
    t0 = time.perf_counter()
    model = WeeklyDemandForecaster(cfg).fit(
        train, static_features=static_features, dynamic_features=dynamic_features, future=future
    )
    t1 = time.perf_counter()
    ours = model.predict(h)
    t2 = time.perf_counter()
    times = [{"model": MODEL_NAME, "fit_seconds": t1 - t0, "predict_seconds": t2 - t1, "n": n}]
    frames = [ours]
    for name in baselines:
        t0 = time.perf_counter()
        frames.append(baseline_forecasts(train, h, freq=cfg.freq, models=[name], intervals=True))
        # statsforecast fits and predicts in one call
        times.append(
            {"model": name, "fit_seconds": time.perf_counter() - t0, "predict_seconds": 0.0}
            | {"n": n}
        )
    return pd.concat(frames, ignore_index=True), times


def _attach(
    fc: pd.DataFrame, held: pd.DataFrame, train: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Every model's forecast on every held-out row (0 where a model has none)."""
    models = fc["model"].unique()
    rows = held[["unique_id", "ds", "y"]]
    grid = rows.merge(pd.DataFrame({"model": models}), how="cross")
    out = grid.merge(fc, on=["unique_id", "ds", "model"], how="left")
    qcols = quantile_columns(QUANTILES)
    has = out["mean"].notna()
    out["mean"] = out["mean"].fillna(0.0)
    # a model that forecasts quantiles forecasts 0 for series it has never seen
    quantiled = out.groupby("model")[qcols[0]].transform(lambda s: s.notna().any())
    for col in qcols:
        out[col] = out[col].where(has | ~quantiled, 0.0)
    segment = demand_segments(train)
    out["segment"] = out["unique_id"].map(segment).fillna("new")
    out["cutoff"] = cutoff
    scale = naive_scale(train)
    out["_scale"] = out["unique_id"].map(scale)
    return out.rename(columns={"ds": "week"})


def _result(
    name: str,
    mode: str,
    h: int,
    cutoffs: list[pd.Timestamp],
    parts: list[pd.DataFrame],
    timings: list[dict[str, float | str]],
    started: float,
    cfg: ForecastConfig,
) -> BacktestResult:
    scored = pd.concat(parts, ignore_index=True)
    qmap = dict(zip(quantile_columns(QUANTILES), QUANTILES, strict=True))
    rows = []
    for (model, segment), group in [
        *((key, g) for key, g in scored.groupby(["model", "segment"])),
        *(((m, "all"), g) for m, g in scored.groupby("model")),
    ]:
        scale = group.groupby("unique_id")["_scale"].first()
        figures = forecast_metrics(group, quantiles=qmap, scale=scale)
        rows.append({"model": model, "segment": segment, **figures})
    metrics = pd.DataFrame(rows)
    times = (
        pd.DataFrame(timings)
        .groupby("model")
        .agg(
            fit_seconds=("fit_seconds", "sum"),
            predict_seconds=("predict_seconds", "sum"),
            n=("n", "sum"),
        )
    )
    times["series_per_second"] = times["n"] / (times["fit_seconds"] + times["predict_seconds"])
    metrics = metrics.merge(times.drop(columns="n"), left_on="model", right_index=True)
    order = {"all": 0, "fast": 1, "slow": 2, "intermittent": 3, "new": 4}
    metrics = metrics.sort_values(
        ["model", "segment"], key=lambda s: s.map(order) if s.name == "segment" else s
    ).reset_index(drop=True)
    forecasts = scored.drop(columns=["_scale", "segment"])
    return BacktestResult(
        dataset=name,
        mode=mode,
        horizon=h,
        cutoffs=cutoffs,
        metrics=metrics,
        forecasts=forecasts,
        seconds=time.perf_counter() - started,
        config=cfg.to_params(),
    )


def backtest_figures(result: BacktestResult, *, n_series: int = 6) -> dict[str, Any]:
    """Matplotlib figures of a backtest (not saved: the caller writes or logs them).

    Returns:
        ``forecast_vs_actual`` (the biggest series: actuals, Butler's forecast with its P90
        band, the mean of the last 8 weeks) and ``wape_by_segment`` (every model).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    fc = result.forecasts
    ours = fc[fc["model"] == MODEL_NAME]
    top = ours.groupby("unique_id")["y"].sum().nlargest(n_series).index
    fig, axes = plt.subplots(max(len(top), 1), 1, figsize=(9, 2.2 * max(len(top), 1)))
    axes = np.atleast_1d(axes)
    for ax, uid in zip(axes, top, strict=False):
        s = ours[ours["unique_id"] == uid].sort_values("week")
        naive = fc[(fc["model"] == "WindowAverage8") & (fc["unique_id"] == uid)]
        ax.fill_between(s["week"], s["p50"], s["p90"], color="b", alpha=0.12, label="P50 to P90")
        ax.plot(s["week"], s["p90"], "b:", linewidth=0.8)
        ax.plot(s["week"], s["y"], "k.-", label="actual")
        ax.plot(s["week"], s["mean"], "b-", label="butler")
        if len(naive):
            naive = naive.sort_values("week")
            ax.plot(naive["week"], naive["mean"], "r--", label="mean of last 8 weeks")
        for cutoff in result.cutoffs[1:]:  # where a later window's forecasts start
            ax.axvline(cutoff, color="grey", linewidth=0.6, linestyle="--")
        ax.set_title(str(uid), fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left", ncol=4)
    fig.suptitle(f"{result.dataset}: the {len(top)} biggest series, h={result.horizon}")
    fig.tight_layout()

    seg = result.metrics.pivot(index="segment", columns="model", values="wape")
    order = [MODEL_NAME, *seg.loc["all"].drop(MODEL_NAME, errors="ignore").sort_values().index]
    seg = seg[[m for m in order if m in seg.columns]]
    fig2, ax = plt.subplots(figsize=(9, 3.5))
    colours = ["black", *plt.get_cmap("tab10").colors[: len(seg.columns) - 1]]
    seg.plot.bar(ax=ax, width=0.85, color=colours, rot=0)
    top_wape = 1.5  # taller bars (a baseline far off on intermittent series) are cut
    ax.set_ylim(0, min(float(np.nanmax(seg.to_numpy())) * 1.05, top_wape))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(f"WAPE (bars over {top_wape:.0%} cut)")
    ax.set_title(f"{result.dataset}: WAPE by segment, h={result.horizon} (butler in black)")
    ax.legend(fontsize=7, ncol=3)
    fig2.tight_layout()
    return {"forecast_vs_actual": fig, "wape_by_segment": fig2}
