"""`butler train forecast` end to end: store → backtest → fit → MLflow registry → service.

Named ``test_training_forecast`` rather than ``test_forecast``: without ``__init__.py`` files
pytest cannot collect two test modules of the same name (models has ``test_forecast``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.forecast import COVARIATES, ID_SEP
from models.forecast import MAX_HORIZON, ForecastConfig, WeeklyDemandForecaster, registered_name
from services.forecasting import forecast, load_forecaster, replenishment_plan, write_plan
from training.forecast import EXPERIMENT, train

pytestmark = [
    pytest.mark.filterwarnings("ignore:Found null values:UserWarning"),
    pytest.mark.filterwarnings("ignore:Downcasting object dtype:FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

CFG = ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)


def test_train_registers_a_champion_the_services_load_and_plan_from(
    settings, sales_store, tmp_path
):
    steps: list[tuple[int, int]] = []
    run = train(
        settings,
        CFG,
        level="sku_warehouse",
        horizon=4,
        n_windows=1,
        baselines=["Naive", "WindowAverage8"],
        on_progress=lambda d, t: steps.append((d, t)),
    )
    assert run.n_series == 16 and run.n_weeks == sales_store.WEEKS
    assert run.registered.name == registered_name("sku_warehouse")
    assert run.registered.alias == settings.model_alias == "champion"
    assert run.registered.version == "1"
    assert run.registered.run_id == run.run_id
    assert run.backtest.cutoffs == [sales_store.last_week - pd.Timedelta(weeks=4)]
    assert steps[-1] == (4, 4)

    # the registry and the run are in the SQLite file under the test's home
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(run.registered.name, "champion")
    assert str(version.version) == "1" and version.run_id == run.run_id
    logged = client.get_run(run.run_id)
    assert logged.data.params["level"] == "sku_warehouse"
    assert logged.data.params["n_estimators"] == "20"
    assert logged.data.params["dynamic_features"] == "promo_days,price_ratio"
    assert "butler.all.wape" in logged.data.metrics
    days = pd.to_datetime(sales_store.daily["day"]).dt.date
    assert logged.data.tags["data.trained_on"] == (
        f"sales {days.min()} … {days.max()}, 16 series"
    )  # what `butler models list` shows
    # the run says which model the backtest found best, Butler's or a baseline
    targets = run.backtest.targets()
    beaten = targets["reduction_vs_best_baseline"] < 0
    assert logged.data.tags["backtest.best_model"] == (
        targets["best_baseline"] if beaten else "butler"
    )
    assert client.get_experiment(logged.info.experiment_id).name == EXPERIMENT
    assert (settings.home / "mlflow.db").is_file()

    # the service loads the champion: the same model the run fitted on the whole panel
    model = load_forecaster(settings)
    assert isinstance(model, WeeklyDemandForecaster)
    assert model.last_ds_ == sales_store.last_week and model.n_series_ == 16
    # it keeps the store's covariates of the year ahead (no promotions planned here)
    assert model.dynamic_features_ == list(COVARIATES)
    weeks = model.future_.groupby("unique_id")["ds"].agg(["min", "count"])
    assert len(weeks) == 16 and (weeks["count"] == MAX_HORIZON).all()
    assert (weeks["min"] == sales_store.last_week + pd.Timedelta(weeks=1)).all()
    assert (model.future_["promo_days"] == 0).all()
    fc = forecast(settings, horizon=3, model=None)
    assert len(fc) == 16 * 3
    pair = fc["sku_id"] + ID_SEP + fc["warehouse_id"]
    assert (pair == fc["unique_id"]).all()
    assert fc["ds"].min() == sales_store.last_week + pd.Timedelta(weeks=1)
    panel = _panel(settings)
    refit = WeeklyDemandForecaster(CFG).fit(
        panel, dynamic_features=COVARIATES, future=model.future_
    )
    np.testing.assert_allclose(model.predict(3)["mean"], refit.predict(3)["mean"])

    # a second run moves the alias to version 2
    again = train(settings, CFG, horizon=4, n_windows=1, baselines=["Naive"])
    assert again.registered.version == "2"
    version = client.get_model_version_by_alias(run.registered.name, "champion")
    assert str(version.version) == "2"

    # the plan from the registered champion, with the rows it cannot plan
    positions = pd.DataFrame(
        [
            ("SKU01", "WH-SH", 5, 0, 2.0),
            ("SKU02", "WH-GZ", 10, 5, 1.0),
            ("SKU99", "WH-SH", 5, 0, 2.0),
        ],
        columns=["sku_id", "warehouse_id", "on_hand", "in_transit", "lead_time_weeks"],
    )
    result = replenishment_plan(settings, positions=positions)
    assert result.plan[["sku_id", "warehouse_id"]].values.tolist() == [
        ["SKU01", "WH-SH"],
        ["SKU02", "WH-GZ"],
    ]
    assert result.errors["sku_id"].tolist() == ["SKU99"]
    files = write_plan(result, tmp_path / "plan.xlsx")
    assert files == [tmp_path / "plan.xlsx"]


def _panel(settings):
    from features.forecast import store_panel
    from features.store import Store

    with Store.open(settings, read_only=True) as store:
        return store_panel(store)


def test_a_run_says_when_a_baseline_beat_butler(settings, sales_store, caplog):
    import mlflow

    weak = ForecastConfig(
        n_estimators=1, learning_rate=0.01, n_jobs=1, calibration_weeks=4, blend_with=()
    )  # one tiny tree, no blend: about the global median for every series
    with caplog.at_level("WARNING", logger="training.forecast"):
        run = train(settings, weak, level="sku", horizon=4, n_windows=1, baselines=["Naive"])
    mlflow.set_tracking_uri(settings.tracking_uri)
    tags = mlflow.MlflowClient().get_run(run.run_id).data.tags
    assert run.backtest.targets()["reduction_vs_best_baseline"] < 0
    assert tags["backtest.best_model"] == "Naive"
    assert "Naive forecast the store's sku series better than Butler" in caplog.text
