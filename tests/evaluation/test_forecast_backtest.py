"""`butler eval forecast` as functions: config per dataset, backtest, scoring, the files."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from evaluation import forecast_backtest as fb
from evaluation.datasets import load_weekly_dataset
from features.errors import InvalidParameterError
from models.backtest import FORECAST_COLUMNS
from models.forecast import BASELINES, MODEL_NAME

pytestmark = pytest.mark.filterwarnings("ignore:Found null values:UserWarning")

SMALL = {"n_estimators": 20, "n_jobs": 1, "calibration_weeks": 4, "min_child_samples": 10}


@pytest.fixture
def small_models(monkeypatch):
    """`evaluate` with a tiny LightGBM: the dataset's own settings plus SMALL."""
    original = fb.config_for
    monkeypatch.setattr(fb, "config_for", lambda ds, **kw: original(ds, **(SMALL | kw)))


def test_config_follows_the_dataset(weekly_folder):
    ds = load_weekly_dataset(weekly_folder("walmart"))
    cfg = fb.config_for(ds)
    assert (cfg.freq, cfg.calendar, cfg.week_offset_days) == ("W-FRI", "us", 6)
    assert fb.config_for(ds, n_estimators=7).n_estimators == 7
    tuned = dataclasses.replace(ds, model_overrides={"num_leaves": 15})
    assert fb.config_for(tuned).num_leaves == 15


def test_caller_overrides_beat_the_dataset_model_settings(weekly_folder):
    ds = load_weekly_dataset(weekly_folder("walmart"))
    tuned = dataclasses.replace(ds, model_overrides={"n_estimators": 300})
    assert fb.config_for(tuned, n_estimators=20).n_estimators == 20


def test_a_renamed_known_folder_is_backtested_with_its_settings(weekly_folder, small_models):
    folder = weekly_folder("walmart", name="walmart_holdout", n_weeks=30)
    result = fb.evaluate(folder, 4, n_windows=1)
    assert result.dataset == "walmart_holdout (as walmart_weekly)"
    assert result.config["freq"] == "W-FRI" and result.config["week_offset_days"] == 6
    assert result.config["calibration_weeks"] == 4  # SMALL's, over the dataset's 13
    assert result.config["num_leaves"] == 255  # the dataset's own


def test_an_until_that_is_no_date_or_before_the_data_names_the_weeks(weekly_folder):
    folder = weekly_folder("walmart", n_weeks=30)
    with pytest.raises(InvalidParameterError, match="'soon' is not a date.*YYYY-MM-DD, between"):
        fb.evaluate(folder, 4, until="soon")
    with pytest.raises(InvalidParameterError, match="1990-01-01 is before the first week"):
        fb.evaluate(folder, 4, until="1990-01-01")


def test_evaluate_backtests_every_model_and_writes_the_files(weekly_folder, small_models, tmp_path):
    folder = weekly_folder("walmart", n_weeks=30)
    steps: list[tuple[int, int]] = []
    result = fb.evaluate(folder, 4, n_windows=1, on_progress=lambda d, t: steps.append((d, t)))
    assert result.dataset == "walmart_weekly" and result.mode == "backtest"
    assert set(result.forecasts["model"]) == {MODEL_NAME, *BASELINES}
    assert steps[-1] == (1 + len(BASELINES), 1 + len(BASELINES))
    assert result.config["freq"] == "W-FRI" and result.config["n_estimators"] == 20

    fb.write_json(result, tmp_path / "figures.json")
    doc = json.loads((tmp_path / "figures.json").read_text("utf-8"))
    assert doc["dataset"] == "walmart_weekly" and doc["horizon"] == 4
    assert len(doc["cutoffs"]) == 1

    fb.write_forecasts(result, tmp_path / "fc.csv")
    csv = pd.read_csv(tmp_path / "fc.csv")
    assert list(csv.columns) == FORECAST_COLUMNS
    assert list(csv.columns) == ["unique_id", "week", "model", "mean", "p50", "p80", "p90", "p95"]
    assert len(csv) == len(result.forecasts)
    assert set(pd.to_datetime(csv["week"]).dt.weekday) == {4}  # dates, Fridays
    assert csv["p90"].notna().all()  # the baselines' conformal quantiles too

    fb.write_forecasts(result, tmp_path / "fc.parquet")
    parquet = pd.read_parquet(tmp_path / "fc.parquet")
    assert list(parquet.columns) == FORECAST_COLUMNS and len(parquet) == len(csv)

    table = fb.summary_table(result)
    assert set(table.index) == {MODEL_NAME, *BASELINES}
    assert "wape" in table.columns


def test_evaluate_against_actuals_scores_the_later_weeks(
    weekly_folder, weekly_sales, small_models, tmp_path
):
    folder = weekly_folder("online_retail", n_weeks=30)
    later = weekly_sales("online_retail", n_weeks=34)
    later = later[later["week"] > pd.Timestamp("2023-01-02") + pd.Timedelta(weeks=29)]
    later.to_parquet(tmp_path / "later.parquet", index=False)
    result = fb.evaluate(folder, 4, actuals=tmp_path / "later.parquet")
    assert result.mode == "actuals"
    ours = result.forecasts[result.forecasts["model"] == MODEL_NAME]
    assert len(ours) == len(later)
    assert ours["y"].sum() == later["units"].sum()
