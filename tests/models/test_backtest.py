"""Rolling-origin backtests and scoring against later weeks, on a tiny synthetic panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.errors import InvalidParameterError
from models.backtest import FORECAST_COLUMNS, BacktestResult, backtest, score_actuals
from models.forecast import MODEL_NAME, ForecastConfig, WeeklyDemandForecaster

pytestmark = pytest.mark.filterwarnings("ignore:Found null values:UserWarning")

BASELINES = ["Naive", "WindowAverage8"]
MODELS = {MODEL_NAME, *BASELINES}
CFG = ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)
WEEKS = pd.date_range("2023-01-02", periods=46, freq="W-MON")


def make_panel(n_weeks: int, n_series: int = 14, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = 3 + 2 * i
        for ds in WEEKS[:n_weeks]:
            rows.append((f"S{i:02d}", ds, float(rng.poisson(level))))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def new_series(first: int, last: int) -> pd.DataFrame:
    """A series that first sells in week ``first`` (no model has seen it)."""
    return pd.DataFrame({"unique_id": "NEW", "ds": WEEKS[first : last + 1], "y": 4.0})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.concat([make_panel(40), new_series(37, 39)], ignore_index=True)


@pytest.fixture(scope="module")
def result(panel) -> tuple[BacktestResult, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    res = backtest(
        panel,
        4,
        name="tiny",
        n_windows=2,
        config=CFG,
        baselines=BASELINES,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    return res, calls


def test_cutoffs_are_h_weeks_apart_and_end_h_weeks_before_the_last(result):
    res, _ = result
    assert res.cutoffs == [WEEKS[31], WEEKS[35]]
    assert res.mode == "backtest" and res.horizon == 4 and res.dataset == "tiny"


def test_every_model_is_scored_on_every_held_out_row(result, panel):
    res, _ = result
    fc = res.forecasts
    assert set(FORECAST_COLUMNS) <= set(fc.columns)
    held = 0
    for cutoff in res.cutoffs:
        held += int(
            ((panel["ds"] > cutoff) & (panel["ds"] <= cutoff + pd.Timedelta(weeks=4))).sum()
        )
    assert held == 14 * 8 + 3
    counts = fc.groupby("model").size()
    assert set(counts.index) == MODELS
    assert (counts == held).all()
    assert not fc.duplicated(["cutoff", "unique_id", "week", "model"]).any()
    overall = res.overall()
    assert (overall["rows"] == held).all()
    assert overall["wape"].is_monotonic_increasing


def test_series_new_in_the_window_get_zero_forecasts(result):
    res, _ = result
    new = res.forecasts[res.forecasts["unique_id"] == "NEW"]
    assert len(new) == 3 * len(MODELS)
    assert (new["mean"] == 0).all()
    assert (new[["p50", "p80", "p90", "p95"]] == 0).all().all()  # every model's quantiles
    segs = res.metrics[res.metrics["segment"] == "new"]
    assert set(segs["model"]) == MODELS and (segs["rows"] == 3).all()


def test_every_model_is_scored_on_its_quantiles_too(result):
    res, _ = result
    overall = res.overall()
    assert overall[["pinball", "coverage_p90"]].notna().all().all()  # baselines as well
    fc = res.forecasts
    known = fc[fc["unique_id"] != "NEW"]
    assert (known["p50"] <= known["p80"]).all() and (known["p80"] <= known["p90"]).all()
    assert (known["p90"] <= known["p95"]).all()
    naive = known[known["model"] == "Naive"]
    assert (naive["p90"] > naive["mean"]).mean() > 0.9  # a real interval, not the point


def test_forecasts_are_what_each_model_gives_fitted_on_the_weeks_to_the_cutoff(result, panel):
    res, _ = result
    cutoff = res.cutoffs[-1]
    fc = res.forecasts[res.forecasts["cutoff"] == cutoff]
    train = panel[panel["ds"] <= cutoff]
    naive = fc[fc["model"] == "Naive"].set_index(["unique_id", "week"])["mean"]
    last = train.groupby("unique_id")["y"].last()
    for (uid, _), value in naive.drop(index="NEW", level=0).items():
        assert value == last[uid]
    ours = WeeklyDemandForecaster(CFG).fit(train).predict(4)
    got = fc[(fc["model"] == MODEL_NAME) & (fc["unique_id"] != "NEW")]
    got = got.sort_values(["unique_id", "week"]).reset_index(drop=True)
    np.testing.assert_allclose(got["mean"], ours["mean"])
    np.testing.assert_allclose(got["p90"], ours["p90"])
    # the held-out actuals travel with the forecasts
    actual = panel.set_index(["unique_id", "ds"])["y"]
    keys = list(zip(got["unique_id"], got["week"], strict=True))
    np.testing.assert_array_equal(got["y"], actual.loc[keys])


def test_the_model_reads_the_covariates_of_the_weeks_it_forecasts():
    """Sales triple in random promotion weeks: with the planned promotions of the held-out
    weeks the model forecasts them; without the column it cannot."""
    rng = np.random.default_rng(7)
    panel = make_panel(46, n_series=10)
    panel["promo_days"] = np.where(rng.random(len(panel)) < 0.25, 7.0, 0.0)
    panel["y"] = rng.poisson(np.where(panel["promo_days"] > 0, 30.0, 10.0)).astype(float)
    cfg = ForecastConfig(
        n_estimators=60, n_jobs=1, calibration_weeks=4, min_child_samples=10, blend_with=()
    )
    common = {"n_windows": 1, "config": cfg, "baselines": ["Naive"]}
    with_promos = backtest(panel, 4, dynamic_features=["promo_days"], **common)
    without = backtest(panel.drop(columns="promo_days"), 4, **common)
    wape = lambda res: res.overall().loc[MODEL_NAME, "wape"]  # noqa: E731
    assert wape(with_promos) < 0.8 * wape(without)
    fc = with_promos.forecasts[with_promos.forecasts["model"] == MODEL_NAME]
    promo = panel.set_index(["unique_id", "ds"])["promo_days"]
    on = promo.loc[list(zip(fc["unique_id"], fc["week"], strict=True))].to_numpy() > 0
    assert fc["mean"][on].mean() > 2 * fc["mean"][~on].mean()


def test_progress_counts_every_fit(result):
    _, calls = result
    assert calls == [(3, 6), (6, 6)]


def test_figures_show_the_biggest_series_and_every_model_by_segment(result, tmp_path):
    from models.backtest import backtest_figures

    res, _ = result
    figures = backtest_figures(res, n_series=3)
    series = figures["forecast_vs_actual"].axes
    assert [ax.get_title() for ax in series] == ["S13", "S12", "S11"]  # the biggest first
    assert len(series[0].get_lines()) == 5  # P90, actual, butler, mean of 8 weeks, cutoff
    [bars] = figures["wape_by_segment"].axes
    assert [t.get_text() for t in bars.get_legend().get_texts()][0] == MODEL_NAME
    for name, fig in figures.items():
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1_000


def test_summary_is_json_ready(result):
    res, _ = result
    doc = json.loads(json.dumps(res.to_json()))
    assert doc["cutoffs"] == [str(WEEKS[31].date()), str(WEEKS[35].date())]
    assert {m["model"] for m in doc["metrics"]} == MODELS
    targets = doc["targets"]
    assert targets["best_naive"] in BASELINES
    assert targets["reduction_vs_best_naive"] == pytest.approx(
        1 - targets["butler_wape"] / targets["best_naive_wape"]
    )
    assert 0 <= targets["coverage_p90"] <= 1
    assert doc["config"]["n_estimators"] == 20


@pytest.mark.parametrize("h", [0, 14, 2.5])
def test_backtest_rejects_a_bad_horizon(panel, h):
    with pytest.raises(InvalidParameterError, match=r"`h` parameter of `backtest`.*\[1, 13\]"):
        backtest(panel, h, config=CFG, baselines=BASELINES)


def test_backtest_rejects_too_little_history_and_no_windows():
    short = make_panel(27)
    with pytest.raises(InvalidParameterError, match="covers 27 weeks.*at least 28. Use fewer"):
        backtest(short, 4, n_windows=2, config=CFG, baselines=BASELINES)
    # too short for any window: more history is the only fix
    with pytest.raises(InvalidParameterError, match="1 window of 1 week needs.*more history"):
        backtest(make_panel(3), 1, n_windows=1, config=CFG, baselines=BASELINES)
    with pytest.raises(InvalidParameterError, match="n_windows"):
        backtest(make_panel(40), 4, n_windows=0, config=CFG, baselines=BASELINES)


def test_score_actuals_scores_the_h_weeks_after_the_data():
    history = make_panel(36)
    later = make_panel(42)
    later = pd.concat([later[later["ds"] > WEEKS[35]], new_series(37, 41)], ignore_index=True)
    res = score_actuals(history, later, 4, name="tiny", config=CFG, baselines=BASELINES)
    assert res.mode == "actuals" and res.cutoffs == [WEEKS[35]]
    fc = res.forecasts
    assert fc["week"].between(WEEKS[36], WEEKS[39]).all()
    assert (fc.groupby("model").size() == 14 * 4 + 3).all()
    assert (fc.loc[fc["unique_id"] == "NEW", "mean"] == 0).all()
    with pytest.raises(InvalidParameterError, match="no week in the 4 weeks after"):
        score_actuals(history, later[later["ds"] > WEEKS[40]], 4, config=CFG, baselines=BASELINES)


def test_score_actuals_keeps_the_forecasts_of_series_the_actuals_leave_out():
    history = make_panel(36)
    later = make_panel(40)
    sample = later[(later["ds"] > WEEKS[35]) & later["unique_id"].isin(["S00", "S01"])]
    res = score_actuals(history, sample, 4, name="tiny", config=CFG, baselines=BASELINES)
    fc = res.forecasts
    assert (fc.groupby("model").size() == 14 * 4).all()  # every series forecast
    assert set(fc.loc[fc["y"].notna(), "unique_id"]) == {"S00", "S01"}
    assert (res.overall()["rows"] == 2 * 4).all()  # only the listed series are scored
