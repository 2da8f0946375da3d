"""`butler train forecast`: store → panel → backtest → fit → log and register in MLflow.

One model per series level (SKU × warehouse, SKU × platform, SKU), each registered as
``butler-forecast-<level>`` with the alias ``champion`` that the services load. The model
reads the store's known-ahead covariates (promotion days, advertised price) and keeps their
values for the weeks after the panel, so it serves the promotions planned at training time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from features.forecast import COVARIATES, Level, future_covariates, store_panel
from features.settings import Settings
from features.store import Store
from models.backtest import BacktestResult, backtest, backtest_figures
from models.forecast import (
    BASELINES,
    MAX_HORIZON,
    MODEL_NAME,
    ForecastConfig,
    WeeklyDemandForecaster,
    registered_name,
)
from training import tracking

logger = logging.getLogger(__name__)

EXPERIMENT = "forecast"


@dataclass(frozen=True, slots=True)
class ForecastRun:
    """What one training run produced."""

    level: str
    run_id: str
    registered: tracking.RegisteredModel
    n_series: int
    n_weeks: int
    backtest: BacktestResult


def train(
    settings: Settings,
    config: ForecastConfig | None = None,
    *,
    level: Level = "sku_warehouse",
    horizon: int = 8,
    n_windows: int = 2,
    baselines: Sequence[str] = BASELINES,
    on_progress: Callable[[int, int], None] | None = None,
    promote: bool = True,
) -> ForecastRun:
    """Backtest, fit and register the forecaster of one series level of the store.

    Args:
        settings: runtime settings (store, MLflow).
        config: hyperparameters; None = the defaults (Monday weeks, Chinese calendar).
        level: ``sku_warehouse``, ``sku_platform`` or ``sku``.
        horizon: weeks of the backtest windows.
        n_windows: backtest origins.
        baselines: statsforecast models the backtest compares.
        on_progress: called with (done, total) steps (backtest fits, then the final fit).
        promote: point the alias the services load at the new version (False: register
            it only; `butler models promote` moves the alias later).

    Returns:
        The run: its id, the registered version and the backtest figures.

    Raises:
        StoreError: the store holds no sales.
        InvalidParameterError: too little history for the backtest.
        RegistryUnavailableError: the registry cannot be written (checked first).
    """
    cfg = config or ForecastConfig()
    tracking.check_writable(settings)
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store, level=level)
        last = panel["ds"].max()
        future = future_covariates(
            store, level=level, after=last, weeks=MAX_HORIZON, ids=panel["unique_id"].unique()
        )
        snapshot = _snapshot(store)
    n_series, n_weeks = panel["unique_id"].nunique(), panel["ds"].nunique()
    logger.info("training %s: %d series × %d weeks", level, n_series, n_weeks)
    total = n_windows * (1 + len(baselines)) + 1

    def progress(done: int, _: int) -> None:
        if on_progress:
            on_progress(done, total)

    result = backtest(
        panel,
        horizon,
        name=f"store/{level}",
        n_windows=n_windows,
        config=cfg,
        baselines=baselines,
        dynamic_features=COVARIATES,
        on_progress=progress,
    )
    model = WeeklyDemandForecaster(cfg).fit(panel, dynamic_features=COVARIATES, future=future)
    progress(total, total)
    with tracking.run(settings, EXPERIMENT, run_name=f"forecast-{level}") as run_id:
        tracking.log_params(
            cfg.to_params()
            | {"level": level, "horizon": horizon, "n_windows": n_windows}
            | {"dynamic_features": ",".join(COVARIATES)}
            | {"n_series": n_series, "n_weeks": n_weeks}
        )
        tracking.log_tags({f"data.{k}": str(v) for k, v in snapshot.items()})
        tracking.log_trained_on(
            f"sales {snapshot['first_sale']} … {snapshot['newest_sale']}, {n_series:,} series"
        )
        tracking.log_metrics(_flat_metrics(result))
        targets = result.targets()
        tracking.log_metrics({f"target.{k}": v for k, v in targets.items()})
        beaten = float(targets.get("reduction_vs_best_baseline", 0.0)) < 0
        # the model is registered all the same: replenishment needs its quantiles, which no
        # baseline gives; the run says which model did better
        tracking.log_tags(
            {"backtest.best_model": str(targets["best_baseline"]) if beaten else MODEL_NAME}
        )
        if beaten:
            logger.warning(
                "%s forecast the store's %s series better than Butler in the backtest "
                "(WAPE %.1f%% against %.1f%%)",
                targets["best_baseline"], level, 100 * targets["best_baseline_wape"],
                100 * targets["butler_wape"],
            )  # fmt: skip
        tracking.log_metrics({"fit_seconds": model.fit_seconds_})
        tracking.log_dict(result.to_json(), "backtest.json")
        for name, figure in backtest_figures(result).items():
            tracking.log_figure(figure, f"plots/{name}.png")
        registered = tracking.log_and_register(
            settings,
            model,
            name=registered_name(level),
            alias=settings.model_alias if promote else None,
        )
    return ForecastRun(
        level=level,
        run_id=run_id,
        registered=registered,
        n_series=n_series,
        n_weeks=n_weeks,
        backtest=result,
    )


def _flat_metrics(result: BacktestResult) -> dict[str, float]:
    out: dict[str, float] = {}
    skip = {"model", "segment"}
    for row in result.metrics.to_dict(orient="records"):
        for key, value in row.items():
            if key in skip or value is None or pd.isna(value):
                continue
            out[f"{row['model']}.{row['segment']}.{key}"] = float(value)
    return out


def _snapshot(store: Store) -> dict[str, object]:
    """Which data the model saw: schema version, row counts, first and newest sales day."""
    from features.schema import current_version

    counts = {
        table: store.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for table in ("order_lines", "sales_daily", "inventory_snapshots")
    }
    first, newest = store.sql("SELECT min(day), max(day) FROM sales_daily").fetchall()[0]
    return {
        "schema_version": current_version(store.con), "first_sale": first, "newest_sale": newest,
        **counts,
    }  # fmt: skip
