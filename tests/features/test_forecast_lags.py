"""Intermittent-demand lag features against slow, obvious loops, and their causality."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.forecast_lags import (
    nonzero_mean_26,
    nonzero_share_13,
    seasonal_level_52,
    weeks_since_sale,
)

_FAST = settings(max_examples=60, deadline=None)

# -- oracles: one obvious loop per feature, straight from the docstrings ----------------------


def share_oracle(x: np.ndarray) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for t in range(x.size):
        window = x[max(0, t - 12) : t + 1]
        known = window[~np.isnan(window)]
        if known.size:
            out[t] = np.mean(known > 0)
    return out


def size_oracle(x: np.ndarray) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for t in range(x.size):
        window = x[max(0, t - 25) : t + 1]
        sold = window[window > 0]  # NaN > 0 is False
        if sold.size:
            out[t] = sold.mean()
    return out


def since_oracle(x: np.ndarray) -> np.ndarray:
    out = np.full(x.size, 99.0)
    for t in range(x.size):
        for back in range(t + 1):
            if x[t - back] > 0:
                out[t] = back
                break
    return out


def seasonal_oracle(x: np.ndarray) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for t in range(59, x.size):
        recent = x[t - 7 : t + 1]
        before = x[t - 59 : t - 51]
        ratio = 1.0
        if not np.isnan(before).any() and before.mean() > 1e-9:
            if not np.isnan(recent).any():
                ratio = min(max(recent.mean() / before.mean(), 0.25), 4.0)
        out[t] = x[t - 51] * ratio
    return out


FEATURES = [
    (nonzero_share_13, share_oracle),
    (nonzero_mean_26, size_oracle),
    (weeks_since_sale, since_oracle),
    (seasonal_level_52, seasonal_oracle),
]

# -- data: lagged weekly sales as mlforecast passes them (NaN where the lag reaches back
# before the series starts, then mostly small counts with runs of zeros) ----------------------

_values = st.one_of(
    st.just(0.0),
    st.integers(0, 30).map(float),
    st.floats(0.0, 500.0, allow_nan=False, allow_subnormal=False),
)


@st.composite
def lagged_series(draw, min_size: int = 1, max_size: int = 140) -> np.ndarray:
    nan_prefix = draw(st.integers(0, 15))
    body = draw(st.lists(_values, min_size=min_size, max_size=max_size))
    return np.array([np.nan] * nan_prefix + body, dtype=np.float64)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize(("func", "oracle"), FEATURES, ids=lambda f: f.__name__)
@_FAST
@given(x=lagged_series())
def test_matches_the_loop_oracle(func, oracle, x):
    assert_same(func(x), oracle(x))


@_FAST
@given(x=lagged_series(min_size=60, max_size=160))
def test_seasonal_level_on_long_series_matches_the_oracle(x):
    # the generic strategy rarely reaches the 60 weeks this feature needs
    assert_same(seasonal_level_52(x), seasonal_oracle(x))


@pytest.mark.parametrize(("func", "oracle"), FEATURES, ids=lambda f: f.__name__)
@_FAST
@given(data=st.data(), x=lagged_series(min_size=2, max_size=130))
def test_output_at_t_only_sees_the_past(func, oracle, data, x):
    t = data.draw(st.integers(0, x.size - 2), label="t")
    future = data.draw(
        st.lists(_values, min_size=x.size - t - 1, max_size=x.size - t - 1), label="future"
    )
    changed = x.copy()
    changed[t + 1 :] = future
    assert_same(func(changed)[: t + 1], func(x)[: t + 1])


@pytest.mark.parametrize(("func", "oracle"), FEATURES, ids=lambda f: f.__name__)
def test_all_nan_input_gives_the_before_any_sale_value(func, oracle):
    x = np.full(70, np.nan)
    out = func(x)
    assert out.shape == x.shape
    assert_same(out, oracle(x))


def test_hand_checked_values():
    x = np.array([np.nan, 0.0, 2.0, 0.0, 0.0, 4.0])
    assert_same(nonzero_share_13(x), np.array([np.nan, 0, 1 / 2, 1 / 3, 1 / 4, 2 / 5]))
    assert_same(nonzero_mean_26(x), np.array([np.nan, np.nan, 2, 2, 2, 3]))
    assert_same(weeks_since_sale(x), np.array([99, 99, 0, 1, 2, 0]))


def test_seasonal_level_rescales_last_year_by_the_recent_level():
    # last year a flat 10 a week with a 30 spike; this year the level has doubled to 20
    x = np.full(80, 10.0)
    x[52:] = 20.0
    x[20] = 30.0
    out = seasonal_level_52(x)
    assert np.isnan(out[:59]).all()
    t = 71  # forecasts week 72, whose same week last year is x[20]
    assert out[t] == pytest.approx(30.0 * 2.0)
    assert out[70] == pytest.approx(10.0 * 2.0)


def test_seasonal_ratio_is_clipped_to_a_quarter_and_four():
    up = np.full(70, 1.0)
    up[60:] = 100.0
    assert seasonal_level_52(up)[69] == pytest.approx(1.0 * 4.0)
    down = np.full(70, 100.0)
    down[60:] = 1.0
    assert seasonal_level_52(down)[69] == pytest.approx(100.0 * 0.25)
