"""The weekly demand forecaster: config checks, output contract, censoring, no train/serve skew.

Every fit uses a tiny LightGBM (20 trees, one thread) on a panel of at most 20 series.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from features.calendar import calendar_features
from features.errors import InvalidParameterError, NotFittedError
from features.forecast import censor_stockouts
from models.forecast import (
    BASELINES,
    DEMAND_FLOOR,
    MODEL_NAME,
    QUANTILES,
    TAIL_QUANTILES,
    CalendarFeature,
    ForecastConfig,
    WeeklyDemandForecaster,
    baseline_forecasts,
    quantile_columns,
    registered_name,
)
from models.seasonal_svd import NAME as SEASONAL_SVD

pytestmark = pytest.mark.filterwarnings("ignore:Found null values:UserWarning")

QCOLS = quantile_columns(QUANTILES)
TAIL_COLS = quantile_columns(TAIL_QUANTILES)
OUTPUT_COLUMNS = ["unique_id", "ds", "model", "mean", *QCOLS, *TAIL_COLS, "expected"]


def small_config(**overrides) -> ForecastConfig:
    params = {"n_estimators": 20, "n_jobs": 1, "calibration_weeks": 4, "min_child_samples": 10}
    return ForecastConfig(**(params | overrides))


def make_panel(
    n_series: int = 16, n_weeks: int = 60, *, seed: int = 0, prefix: str = "S"
) -> pd.DataFrame:
    """Poisson weekly sales around a per-series level with a yearly swing."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-02", periods=n_weeks, freq="W-MON")
    t = np.arange(n_weeks)
    frames = []
    for i in range(n_series):
        level = rng.uniform(2, 30)
        lam = level * (1 + 0.3 * np.sin(2 * np.pi * t / 52))
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"{prefix}{i:02d}",
                    "ds": ds,
                    "y": rng.poisson(lam).astype(float),
                    "group": float(i % 3),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def stocked_panel() -> pd.DataFrame:
    """16 series × 60 weeks with a static column and three stock-out weeks in one series."""
    panel = make_panel()
    panel["in_stock"] = True
    out = (panel["unique_id"] == "S03") & panel["ds"].isin(panel["ds"].unique()[40:43])
    panel.loc[out, ["y", "in_stock"]] = [0.0, False]
    return panel


@pytest.fixture(scope="module")
def fitted(stocked_panel) -> WeeklyDemandForecaster:
    return WeeklyDemandForecaster(small_config()).fit(stocked_panel, static_features=["group"])


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("freq", "D"),
        ("calendar", "fr"),
        ("week_offset_days", 7),
        ("week_offset_days", -1),
        ("lags", ()),
        ("lags", (0, 1)),
        ("target_transform", "log"),
        ("blend_with", ("Prophet",)),
        ("calibration_weeks", -1),
        ("quantiles", ()),
        ("quantiles", (0.9, 0.5)),
        ("quantiles", (0.5, 0.5)),
        ("quantiles", (0.5, 1.0)),
        ("n_estimators", 0),
        ("learning_rate", 0.0),
        ("learning_rate", 1.5),
        ("size_bands", 0),
        ("svd_rank", 0),
        ("tail_quantiles", (0.9,)),  # not above the last of `quantiles`
        ("tail_quantiles", (0.99, 0.98)),
        ("tail_quantiles", (0.99, 1.0)),
    ],
)
def test_config_rejects_bad_values_with_the_parameter_named(param, value):
    with pytest.raises(InvalidParameterError, match="parameter of `ForecastConfig` must be"):
        ForecastConfig(**{param: value})


def test_config_is_frozen_and_flattens_to_params():
    cfg = ForecastConfig(lags=(1, 2), extra_lgb_params={"reg_lambda": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_estimators = 5  # type: ignore[misc]
    params = cfg.to_params()
    assert params["lags"] == "(1, 2)"
    assert params["reg_lambda"] == 1.0
    assert "extra_lgb_params" not in params
    assert all(isinstance(v, str | int | float) for v in params.values())


def test_lightgbm_is_pinned_to_repeat_a_fit_and_the_config_can_override_it():
    models = WeeklyDemandForecaster(ForecastConfig(n_models=2))._make_mlf().models
    for model in models.values():
        assert model.get_params()["deterministic"] is True
        assert model.get_params()["force_col_wise"] is True
    loose = ForecastConfig(extra_lgb_params={"deterministic": False})
    (model,) = WeeklyDemandForecaster(loose)._make_mlf().models.values()
    assert model.get_params()["deterministic"] is False


def test_names_of_models_and_quantile_columns():
    assert registered_name("sku_warehouse") == "butler-forecast-sku-warehouse"
    assert registered_name("sku") == "butler-forecast-sku"
    assert quantile_columns([0.5, 0.8, 0.9, 0.95]) == ["p50", "p80", "p90", "p95"]
    assert quantile_columns(TAIL_QUANTILES) == ["p98", "p99", "p99_5", "p99_8", "p99_9"]


def test_calendar_feature_moves_labels_to_the_week_start_and_pickles():
    fridays = pd.date_range("2023-11-03", periods=6, freq="W-FRI")
    feature = CalendarFeature("us", "thanksgiving_week", offset_days=6)
    want = calendar_features(fridays - pd.Timedelta(days=6), calendar="us")["thanksgiving_week"]
    np.testing.assert_array_equal(feature(fridays), want.to_numpy())
    assert feature.__name__ == "thanksgiving_week"
    again = pickle.loads(pickle.dumps(feature))
    np.testing.assert_array_equal(again(fridays), feature(fridays))


# -- fitted output -----------------------------------------------------------------------------


def test_forecast_frame_contract_and_monotone_quantiles(fitted, stocked_panel):
    fc = fitted.predict(6)
    assert list(fc.columns) == OUTPUT_COLUMNS
    assert len(fc) == 16 * 6
    assert set(fc["model"]) == {MODEL_NAME}
    last = stocked_panel["ds"].max()
    assert sorted(fc["ds"].unique()) == list(pd.date_range(last, periods=7, freq="W-MON")[1:])
    assert fc.groupby("unique_id").size().eq(6).all()
    values = fc[["mean", *QCOLS, *TAIL_COLS, "expected"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    q = fc[[*QCOLS, *TAIL_COLS]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert fitted.n_series_ == 16 and fitted.last_ds_ == last


def test_rounding_dust_of_the_trees_is_reported_as_no_demand(fitted, monkeypatch):
    model = copy.deepcopy(fitted)
    model.blend_base_ = None
    real = model.mlf_.predict

    def dusty(*args, **kwargs):
        raw = real(*args, **kwargs)
        raw["lgb0"] = np.where(raw["unique_id"] == "S01", 1.2e-9, raw["lgb0"])
        return raw

    monkeypatch.setattr(model.mlf_, "predict", dusty)
    fc = model.predict(4)
    assert (fc.loc[fc["unique_id"] == "S01", "mean"] == 0).all()
    point = fc["mean"].to_numpy()
    assert ((point == 0) | (point >= DEMAND_FLOOR)).all() and (point > 0).any()


def test_predict_for_some_ids_only(fitted):
    fc = fitted.predict(2, ids=["S05", "S01"])
    assert sorted(fc["unique_id"].unique()) == ["S01", "S05"]
    full = fitted.predict(2)
    pd.testing.assert_frame_equal(
        fc.sort_values(["unique_id", "ds"]).reset_index(drop=True),
        full[full["unique_id"].isin(["S01", "S05"])].reset_index(drop=True),
    )


def test_the_global_seasonal_blend_answers_a_few_ids_as_it_answers_all():
    """The low-rank seasonal naive depends on every series: a request for two series must
    get the rows of the full forecast, not a denoising of those two alone."""
    panel = make_panel(12, 120, seed=3)
    model = WeeklyDemandForecaster(small_config(blend_with=(SEASONAL_SVD,), svd_rank=2))
    model.fit(panel, static_features=["group"])
    assert model.blend_base_ == SEASONAL_SVD and model.blend_weight_ < 1
    assert model.tail_.groupby("unique_id").size().min() == 2 * 52 + 8
    full = model.predict(3)
    few = model.predict(3, ids=["S07", "S02"]).sort_values(["unique_id", "ds"])
    pd.testing.assert_frame_equal(
        few.reset_index(drop=True),
        full[full["unique_id"].isin(["S02", "S07"])].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(model.predict(3, history=panel), full)


def test_predict_before_fit_is_not_fitted_error():
    with pytest.raises(NotFittedError, match="fit"):
        WeeklyDemandForecaster(small_config()).predict(4)
    assert issubclass(NotFittedError, SklearnNotFittedError)


@pytest.mark.parametrize("h", [0, 53, 2.5, "4", -1])
def test_predict_rejects_a_bad_horizon(fitted, h):
    with pytest.raises(InvalidParameterError, match=r"`h` parameter .* \[1, 52\]"):
        fitted.predict(h)


def test_predict_rejects_unknown_ids_and_names_them(fitted):
    with pytest.raises(InvalidParameterError, match="NOPE"):
        fitted.predict(2, ids=["S01", "NOPE"])


def test_fit_rejects_bad_panels(stocked_panel):
    model = WeeklyDemandForecaster(small_config())
    with pytest.raises(InvalidParameterError, match="lacks the columns y"):
        model.fit(stocked_panel.drop(columns="y"))
    with pytest.raises(InvalidParameterError, match="lacks the columns brand"):
        model.fit(stocked_panel, static_features=["brand"])
    holed = stocked_panel.copy()
    holed.loc[[3, 7], "y"] = np.nan
    with pytest.raises(InvalidParameterError, match="2 missing or non-numeric values of y"):
        model.fit(holed)
    short = stocked_panel[stocked_panel["ds"] < stocked_panel["ds"].min() + pd.Timedelta(weeks=7)]
    with pytest.raises(InvalidParameterError, match="covers 7 weeks; at least 8"):
        model.fit(short)
    assert not hasattr(model, "mlf_")


def test_fit_rejects_a_panel_with_a_missing_or_repeated_week(stocked_panel):
    gap = stocked_panel.drop(index=stocked_panel.index[20])
    with pytest.raises(InvalidParameterError, match="skips weeks at .*dense_panel"):
        WeeklyDemandForecaster(small_config()).fit(gap)
    twice = pd.concat([stocked_panel, stocked_panel.iloc[[20]]], ignore_index=True)
    with pytest.raises(InvalidParameterError, match="repeats a week"):
        WeeklyDemandForecaster(small_config()).fit(twice)


def test_a_second_fit_replaces_the_first():
    first = make_panel(14, 30, seed=1, prefix="A")
    second = make_panel(14, 34, seed=2, prefix="B")
    model = WeeklyDemandForecaster(small_config())
    model.fit(first)
    model.fit(second)
    fc = model.predict(2)
    assert set(fc["unique_id"]) == set(second["unique_id"])
    assert fc["ds"].min() == second["ds"].max() + pd.Timedelta(weeks=1)
    assert model.n_series_ == 14 and model.last_ds_ == second["ds"].max()
    with pytest.raises(InvalidParameterError, match="A00"):
        model.predict(2, ids=["A00"])


def test_a_tail_level_with_too_few_errors_above_it_is_extrapolated_not_the_largest_error():
    from models.forecast import _thin_tail_extrapolated

    rng = np.random.default_rng(0)
    scores = np.r_[rng.exponential(1.0, 590), 60.0, 80.0]  # 592 errors, two wild weeks
    levels = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999)
    got = _thin_tail_extrapolated(scores, levels, min_errors=10)
    empirical = np.quantile(scores, levels)
    # levels with ≥ 10 errors above them are the data's own quantiles
    assert got[:5] == pytest.approx(empirical[:5])
    # the thin ones follow an exponential tail: for Exp(1), Q(q) = −ln(1 − q)
    assert got[-1] == pytest.approx(-np.log(0.001), rel=0.25) and got[-1] < 15 < empirical[-1]
    assert got == sorted(got)
    # with errors enough everywhere nothing is extrapolated
    many = rng.exponential(1.0, 20_000)
    assert _thin_tail_extrapolated(many, levels, 10) == pytest.approx(np.quantile(many, levels))


def test_a_config_pickled_before_min_tail_errors_keeps_its_settings_in_place():
    # a slotted dataclass unpickles by position: the new field must come last
    cfg = ForecastConfig(n_jobs=1, seed=7)
    old_state = cfg.__getstate__()[:-1]  # as pickled before the field was added
    old = ForecastConfig.__new__(ForecastConfig)
    old.__setstate__(old_state)
    assert (old.version, old.n_jobs, old.seed) == (cfg.version, 1, 7)
    assert not hasattr(old, "min_tail_errors")  # fitting reads it with its default


def test_no_calibration_means_quantiles_equal_the_point():
    model = WeeklyDemandForecaster(small_config(calibration_weeks=0)).fit(make_panel(14, 30))
    fc = model.predict(3)
    for col in [*QCOLS, *TAIL_COLS, "expected"]:
        np.testing.assert_allclose(fc[col], fc["mean"])


def test_interval_scale_widens_the_calibrated_quantiles_around_the_same_point():
    panel = make_panel(14, 30)
    plain = WeeklyDemandForecaster(small_config()).fit(panel).predict(3)
    wider = WeeklyDemandForecaster(small_config(interval_scale=1.5)).fit(panel).predict(3)
    np.testing.assert_allclose(wider["mean"], plain["mean"])
    cols = [*QCOLS, *TAIL_COLS]
    # before the floor at zero, each quantile sits 1.5 times as far from the point
    unfloored = plain[cols].to_numpy() > 0
    np.testing.assert_allclose(
        (wider[cols].to_numpy() - wider[["mean"]].to_numpy())[unfloored],
        1.5 * (plain[cols].to_numpy() - plain[["mean"]].to_numpy())[unfloored],
        rtol=1e-9,
        atol=1e-9,
    )
    assert (wider["p95"] >= plain["p95"]).all()
    with pytest.raises(InvalidParameterError, match="interval_scale"):
        small_config(interval_scale=0)


def test_few_calibration_rows_still_give_a_forecast():
    # 10 series × 4 calibration weeks = 40 scored rows
    model = WeeklyDemandForecaster(small_config()).fit(make_panel(10, 30))
    assert len(model.predict(2)) == 20


def lumpy_and_steady_panel(n_weeks: int = 40) -> pd.DataFrame:
    """20 intermittent series selling about every other week: ten always sell 2 units, ten
    sell big, scattered wholesale amounts (one segment, two very different error spreads)."""
    rng = np.random.default_rng(7)
    ds = pd.date_range("2023-01-02", periods=n_weeks, freq="W-MON")
    frames = []
    for i in range(20):
        sells = rng.random(n_weeks) < 0.5
        size = np.full(n_weeks, 2.0) if i < 10 else rng.exponential(100, n_weeks).round()
        y = np.where(sells, size, 0.0)
        frames.append(pd.DataFrame({"unique_id": f"S{i:02d}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_quantiles_are_calibrated_per_size_band_within_a_segment():
    panel = lumpy_and_steady_panel()
    widths = {}
    for bands in (1, 2):
        cfg = small_config(calibration_weeks=8, size_bands=bands, blend_with=())
        model = WeeklyDemandForecaster(cfg).fit(panel)
        assert set(model.segment_) == {"intermittent"}
        fc = model.predict(2)
        # P95 above the point, in units of each series' recent level
        width = (fc["p95"] - fc["mean"]) / fc["unique_id"].map(model.scale_)
        widths[bands] = width.groupby(fc["unique_id"].str[1:].astype(int) >= 10).mean()
    assert widths[1][False] == pytest.approx(widths[1][True], rel=0.05)  # one set of scores
    assert widths[2][True] > 1.5 * widths[2][False]  # the lumpy band gets its own, wider


# -- censoring ---------------------------------------------------------------------------------


def steady_series_out_of_stock_at_the_end() -> tuple[pd.DataFrame, pd.Series]:
    """19 random series and one selling about 10 a week, out of stock in its last 5 weeks."""
    panel = make_panel(19, 60, seed=3)
    rng = np.random.default_rng(4)
    steady = pd.DataFrame(
        {
            "unique_id": "STEADY",
            "ds": panel["ds"].unique(),
            "y": rng.poisson(10, 60).astype(float),
            "group": 0.0,
        }
    )
    panel = pd.concat([panel, steady], ignore_index=True)
    panel["in_stock"] = True
    out = (panel["unique_id"] == "STEADY") & (
        panel["ds"] > panel["ds"].max() - pd.Timedelta(weeks=5)
    )
    panel.loc[out, ["y", "in_stock"]] = [0.0, False]
    return panel, out


def test_stockout_weeks_get_zero_weight_and_imputed_demand():
    panel, out = steady_series_out_of_stock_at_the_end()
    censored = censor_stockouts(panel)
    assert (censored.loc[out, "weight"] == 0).all() and (censored.loc[~out, "weight"] == 1).all()
    assert censored.loc[out, "censored"].all() and not censored.loc[~out, "censored"].any()
    assert censored.loc[out, "y"].between(7, 13).all()  # imputed near the steady 10
    pd.testing.assert_series_equal(censored.loc[~out, "y"], panel.loc[~out, "y"])


def forecast_of_steady(panel: pd.DataFrame, **overrides) -> float:
    model = WeeklyDemandForecaster(small_config(learning_rate=0.2, **overrides)).fit(panel)
    return float(model.predict(1, ids=["STEADY"])["mean"].iloc[0])


def test_stockout_weeks_are_not_learnt_as_zero_demand():
    panel, _ = steady_series_out_of_stock_at_the_end()
    # LightGBM alone: fitted on real zeros its forecast collapses (to about 5); censored, the
    # lags see the imputed demand and it stays near 10
    aware = forecast_of_steady(panel, blend_with=())
    naive = forecast_of_steady(panel.drop(columns="in_stock"), blend_with=())
    assert aware >= 7 and aware >= naive + 3


def test_stockout_weeks_are_not_zero_demand_with_the_default_blend():
    panel, _ = steady_series_out_of_stock_at_the_end()
    # the blend's baselines (a seasonal naive among them) soften the collapse, not the gap
    aware = forecast_of_steady(panel)
    naive = forecast_of_steady(panel.drop(columns="in_stock"))
    assert aware >= 7 and aware >= naive + 2


# -- training/serving skew ---------------------------------------------------------------------


def test_predict_time_features_equal_the_training_features_of_the_same_weeks(fitted, stocked_panel):
    """What the model sees for forecast weeks 1 and 2 is what preprocess builds for them."""
    seen: list[pd.DataFrame] = []

    def keep(features: pd.DataFrame) -> pd.DataFrame:
        seen.append(features.copy())
        return features

    step1 = fitted.mlf_.predict(1)
    fitted.mlf_.predict(2, before_predict_callback=keep)
    assert len(seen) == 2

    # the training rows: the censored panel the model was fitted on, then the forecast
    # weeks, the first holding the model's own forecast (mlforecast feeds it back as y)
    data = censor_stockouts(stocked_panel.sort_values(["unique_id", "ds"]))
    cols = ["unique_id", "ds", "y", "group"]
    last = data["ds"].max()
    week1, week2 = last + pd.Timedelta(weeks=1), last + pd.Timedelta(weeks=2)
    ids = sorted(data["unique_id"].unique())
    statics = data.groupby("unique_id")["group"].first()
    future = pd.DataFrame(
        {
            "unique_id": ids * 2,
            "ds": [week1] * len(ids) + [week2] * len(ids),
            # one ensemble member (n_models=1): its own forecast is what it feeds back
            "y": list(step1.set_index("unique_id").loc[ids, "lgb0"]) + [123.0] * len(ids),
        }
    )
    future["group"] = future["unique_id"].map(statics)
    extended = pd.concat([data[cols], future], ignore_index=True)
    extended = extended.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    prep = copy.deepcopy(fitted.mlf_).preprocess(extended, static_features=["group"], dropna=False)
    for step, week in ((0, week1), (1, week2)):
        want = prep[prep["ds"] == week].drop(columns=["unique_id", "ds", "y"])
        got = seen[step]
        assert list(got.columns) == list(want.columns)
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True),
            want.reset_index(drop=True),
            check_dtype=False,
            rtol=1e-9,
        )


def test_predict_from_the_training_history_is_the_plain_forecast(fitted, stocked_panel):
    pd.testing.assert_frame_equal(fitted.predict(4, history=stocked_panel), fitted.predict(4))


def test_predict_from_a_newer_history_forecasts_the_weeks_after_it(fitted, stocked_panel):
    last = stocked_panel["ds"].max()
    newer = stocked_panel[stocked_panel["ds"] == last].assign(ds=last + pd.Timedelta(weeks=1))
    history = pd.concat([stocked_panel, newer], ignore_index=True)
    fc = fitted.predict(2, ids=["S01"], history=history)
    assert fc["ds"].tolist() == [last + pd.Timedelta(weeks=2), last + pd.Timedelta(weeks=3)]
    assert (np.diff(fc[QCOLS].to_numpy(), axis=1) >= 0).all()


def test_a_model_saved_before_covariates_existed_still_predicts(fitted):
    old = copy.deepcopy(fitted)
    for name in ("dynamic_features_", "future_", "last_rows_"):
        del old.__dict__[name]
    pd.testing.assert_frame_equal(old.predict(4), fitted.predict(4))
    pd.testing.assert_frame_equal(old.predict(2, ids=["S01"]), fitted.predict(2, ids=["S01"]))


def test_joblib_round_trip_predicts_the_same(fitted, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    pd.testing.assert_frame_equal(loaded.predict(8), fitted.predict(8))
    assert loaded.config == fitted.config


# -- known-ahead covariates --------------------------------------------------------------------


def promo_panel(n_series: int = 12, n_weeks: int = 70, seed: int = 3) -> pd.DataFrame:
    """Sales that triple in random promotion weeks (nothing in the lags foretells them)."""
    rng = np.random.default_rng(seed)
    panel = make_panel(n_series, n_weeks, seed=seed)
    panel["promo_days"] = np.where(rng.random(len(panel)) < 0.2, 7.0, 0.0)
    panel["y"] = rng.poisson(np.where(panel["promo_days"] > 0, 3.0, 1.0) * 10.0).astype(float)
    return panel


def future_promos(panel: pd.DataFrame, weeks: list[int]) -> pd.DataFrame:
    """Eight weeks after the panel with a promotion planned in ``weeks`` (1-based)."""
    last = panel["ds"].max()
    ids = panel["unique_id"].unique()
    rows = [
        (uid, last + pd.Timedelta(weeks=k), 7.0 if k in weeks else 0.0)
        for uid in ids
        for k in range(1, 9)
    ]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "promo_days"])


@pytest.fixture(scope="module")
def promo_fitted():
    panel = promo_panel()
    model = WeeklyDemandForecaster(small_config(n_estimators=60, blend_with=())).fit(
        panel, dynamic_features=["promo_days"], future=future_promos(panel, [2, 5])
    )
    return panel, model


def test_planned_promotions_raise_the_forecast_of_their_weeks(promo_fitted):
    _, model = promo_fitted
    fc = model.predict(8)
    step = fc.groupby("unique_id").cumcount() + 1
    promo, plain = fc[step.isin([2, 5])], fc[~step.isin([2, 5])]
    assert promo["mean"].mean() > 2 * plain["mean"].mean()
    # a future passed at predict time replaces the one kept at fit time
    other = model.predict(8, future=future_promos(promo_fitted[0], [1]))
    first = other.groupby("unique_id").head(1)
    assert first["mean"].mean() > 2 * other.drop(first.index)["mean"].mean()


def test_some_ids_read_their_own_planned_weeks(promo_fitted):
    _, model = promo_fitted
    every = model.predict(8)
    some = model.predict(8, ids=["S03", "S07"])
    want = every[every["unique_id"].isin(["S03", "S07"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, want)


def test_weeks_without_planned_values_keep_the_last_known_ones(promo_fitted, caplog):
    panel, model = promo_fitted
    short = future_promos(panel, [2, 5])
    short = short[short["ds"] <= panel["ds"].max() + pd.Timedelta(weeks=4)]
    with caplog.at_level("WARNING", logger="models.forecast"):
        fc = model.predict(8, future=short)
    assert len(fc) == 8 * panel["unique_id"].nunique()
    assert "have no known-ahead values of promo_days" in caplog.text


def test_predict_from_a_history_reads_the_covariates_after_it(promo_fitted):
    panel, model = promo_fitted
    pd.testing.assert_frame_equal(
        model.predict(4, history=panel, future=model.future_), model.predict(4)
    )


def test_a_future_frame_without_the_dynamic_columns_is_rejected():
    panel = promo_panel(4, 30)
    model = WeeklyDemandForecaster(small_config(blend_with=()))
    with pytest.raises(InvalidParameterError, match="lacks the columns promo_days"):
        model.fit(panel, dynamic_features=["promo_days"], future=panel[["unique_id", "ds"]])
    with pytest.raises(InvalidParameterError, match="lacks the columns promo_days"):
        model.fit(panel.drop(columns="promo_days"), dynamic_features=["promo_days"])


# -- statsforecast baselines -------------------------------------------------------------------


def test_baselines_answer_every_series_even_when_a_model_cannot():
    panel = make_panel(5, 20)  # too short for a seasonal naive
    fc = baseline_forecasts(
        panel, 3, models=["Naive", "SeasonalNaive52", "WindowAverage8"], n_jobs=1
    )
    assert list(fc.columns) == ["unique_id", "ds", "model", "mean", *QCOLS]
    assert len(fc) == 5 * 3 * 3
    assert fc["mean"].notna().all()
    assert fc[QCOLS].isna().all().all()
    last8 = panel.groupby("unique_id")["y"].apply(lambda s: s.tail(8).mean())
    seasonal = fc[fc["model"] == "SeasonalNaive52"]
    np.testing.assert_allclose(seasonal["mean"], seasonal["unique_id"].map(last8))
    naive = fc[fc["model"] == "Naive"]
    last = panel.groupby("unique_id")["y"].last()
    np.testing.assert_allclose(naive["mean"], naive["unique_id"].map(last))


def test_baseline_quantiles_come_from_conformal_intervals_around_the_same_points():
    panel = pd.concat(
        [make_panel(6, 30), make_panel(2, 5, prefix="NEW")], ignore_index=True
    )  # two series too short for intervals (5 weeks < 2 × 3 + 1)
    models = ["Naive", "WindowAverage8", "AutoETS"]
    points = baseline_forecasts(panel, 3, models=models, n_jobs=1)
    wide = baseline_forecasts(panel, 3, models=models, n_jobs=1, intervals=True)
    np.testing.assert_allclose(wide["mean"], points["mean"])  # the points do not move
    assert wide[QCOLS].notna().all().all()
    np.testing.assert_allclose(wide["p50"], wide["mean"])
    assert (wide["p80"] <= wide["p90"]).all() and (wide["p90"] <= wide["p95"]).all()
    long = ~wide["unique_id"].str.startswith("NEW")
    assert (wide.loc[long, "p95"] > wide.loc[long, "mean"]).mean() > 0.9  # real intervals
    np.testing.assert_allclose(wide.loc[~long, "p95"], wide.loc[~long, "mean"])


def test_baselines_reject_an_unknown_model():
    with pytest.raises(InvalidParameterError, match="Prophet"):
        baseline_forecasts(make_panel(2, 20), 2, models=["Naive", "Prophet"])
    assert "AutoETS" in BASELINES
