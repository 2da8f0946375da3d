"""Forecast accuracy measures on cases small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.metrics import forecast_metrics, naive_scale

LEVELS = {"p50": 0.5, "p80": 0.8, "p90": 0.9, "p95": 0.95}


@pytest.fixture
def scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "y": [10.0, 0.0, 5.0, 5.0],
            "mean": [8.0, 2.0, 5.0, 10.0],
            "p50": [10.0, 1.0, 4.0, np.nan],
            "p90": [12.0, 3.0, np.nan, np.nan],
            "p95": np.nan,  # a point-only model's column
        }
    )


def test_wape_and_bias_by_hand(scored):
    out = forecast_metrics(scored, quantiles=LEVELS)
    # errors ŷ − y: −2, 2, 0, 5; Σ|y| = 20
    assert out["wape"] == pytest.approx(9 / 20)
    assert out["bias"] == pytest.approx(5 / 20)
    assert out["rows"] == 4
    assert "mase" not in out


def test_pinball_wql_and_coverage_skip_nan_quantiles(scored):
    out = forecast_metrics(scored, quantiles=LEVELS)
    # p50 on rows 0-2: y − q = 0, −1, 1 → losses 0, 0.5, 0.5
    # p90 on rows 0-1: y − q = −2, −3 → losses 0.2, 0.3
    assert out["pinball"] == pytest.approx(np.mean([1 / 3, 0.25]))
    assert out["wql"] == pytest.approx(np.mean([2 * 1.0 / 15, 2 * 0.5 / 10]))
    assert out["coverage_p50"] == pytest.approx(2 / 3)
    assert out["coverage_p90"] == 1.0
    # all-NaN and absent quantile columns give no figures
    assert "coverage_p95" not in out and "coverage_p80" not in out


def test_mase_leaves_out_series_with_zero_or_unknown_scale(scored):
    out = forecast_metrics(scored, quantiles={}, scale=pd.Series({"a": 2.0, "b": 0.0}))
    assert out["mase"] == pytest.approx((4 / 2) / 2)  # a: MAE 2 / scale 2; b left out
    only_a = forecast_metrics(scored, quantiles={}, scale=pd.Series({"a": 4.0}))
    assert only_a["mase"] == pytest.approx(0.5)
    none = forecast_metrics(scored, quantiles={}, scale=pd.Series({"b": 0.0}))
    assert math.isnan(none["mase"])


def test_no_quantiles_no_pinball(scored):
    out = forecast_metrics(scored.drop(columns=["p50", "p90", "p95"]), quantiles=LEVELS)
    assert "pinball" not in out and "wql" not in out


def test_all_zero_actuals_give_nan_wape_not_a_crash():
    frame = pd.DataFrame({"unique_id": ["a"], "y": [0.0], "mean": [1.0], "p50": [1.0]})
    out = forecast_metrics(frame, quantiles={"p50": 0.5})
    assert math.isnan(out["wape"]) and math.isnan(out["bias"]) and math.isnan(out["wql"])
    assert out["pinball"] == pytest.approx(0.5)


def test_naive_scale_is_the_mean_absolute_weekly_change():
    history = pd.DataFrame(
        {"unique_id": ["a", "a", "a", "b", "b", "c"], "y": [1.0, 3.0, 2.0, 5.0, 5.0, 7.0]}
    )
    scale = naive_scale(history)
    assert scale["a"] == pytest.approx(1.5)
    assert scale["b"] == 0.0
    assert math.isnan(scale["c"])


@settings(max_examples=50, deadline=None)
@given(
    y=st.lists(st.integers(0, 100).map(float), min_size=1, max_size=30).filter(any),
    k=st.floats(0.0, 3.0),
)
def test_scaled_forecast_invariants(y, k):
    frame = pd.DataFrame({"unique_id": "s", "y": y, "mean": y, "p50": y})
    perfect = forecast_metrics(frame, quantiles={"p50": 0.5})
    assert perfect["wape"] == 0 and perfect["bias"] == 0 and perfect["pinball"] == 0
    assert perfect["coverage_p50"] == 1.0
    # a forecast k times the actuals: WAPE |k − 1|, bias k − 1
    frame["mean"] = k * frame["y"]
    out = forecast_metrics(frame, quantiles={})
    assert out["wape"] == pytest.approx(abs(k - 1))
    assert out["bias"] == pytest.approx(k - 1)
