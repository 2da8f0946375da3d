"""The low-rank seasonal naive: hand-checked forecasts, denoising, fallbacks, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.errors import InvalidParameterError
from models.seasonal_svd import NAME, seasonal_svd_forecast

START = pd.Timestamp("2022-01-03")


def long_panel(values: dict[str, np.ndarray], start: pd.Timestamp = START) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {"unique_id": uid, "ds": pd.date_range(start, periods=len(y), freq="W-MON"), "y": y}
        )
        for uid, y in values.items()
    ]
    return pd.concat(frames, ignore_index=True)


def shape(weeks: int) -> np.ndarray:
    """A yearly shape (52-week period) with a peak in week 40."""
    t = np.arange(weeks)
    return 10 + 5 * np.sin(2 * np.pi * t / 52) + 20 * (t % 52 == 40)


def test_scaled_copies_of_one_shape_forecast_last_years_weeks_exactly():
    base = shape(120)
    panel = long_panel({"a": base, "b": 3 * base, "c": 0.5 * base})
    fc = seasonal_svd_forecast(panel, 8, rank=1)
    assert set(fc["model"]) == {NAME} and len(fc) == 3 * 8
    ahead = shape(128)[120:]  # the shape is yearly, so next weeks repeat last year's
    for uid, scale in (("a", 1.0), ("b", 3.0), ("c", 0.5)):
        got = fc[fc["unique_id"] == uid]
        np.testing.assert_allclose(got["mean"], scale * ahead, rtol=1e-9)
        expected_weeks = pd.date_range(START, periods=128, freq="W-MON")[120:]
        assert list(got["ds"]) == list(expected_weeks)


@pytest.mark.parametrize(("growth", "ratio"), [(2.0, 2.0), (1.5, 1.5), (50.0, 2.0), (0.1, 0.5)])
def test_a_series_that_grew_is_rescaled_by_its_bounded_level_ratio(growth, ratio):
    # one year of history + 8 weeks: this year's last 8 weeks are `growth` × a year ago's
    base = shape(60)
    grown = base.copy()
    grown[52:] *= growth
    fc = seasonal_svd_forecast(long_panel({"g": grown}), 4, rank=5, years=1)
    np.testing.assert_allclose(fc["mean"], ratio * base[8:12], rtol=1e-9)


def test_two_years_back_are_averaged_where_the_history_covers_them():
    # the week a year ago is 10 higher than two years ago; equal level ratios (1 … here ≈ 1)
    two_years = np.r_[np.full(52, 10.0), np.full(52, 20.0), np.full(8, 20.0)]
    one_year = np.r_[np.full(52, 20.0), np.full(8, 20.0)]
    panel = long_panel({"old": two_years}).pipe(
        lambda p: pd.concat(
            [p, long_panel({"young": one_year}, START + pd.Timedelta(weeks=52))],
            ignore_index=True,
        )
    )
    fc = seasonal_svd_forecast(panel, 2, rank=5, years=2).set_index("unique_id")["mean"]
    # young: one year only → last year's 20; old: mean of 20 and 10 × ratio (20/10 = 2) = 20
    np.testing.assert_allclose(fc["young"], [20.0, 20.0])
    np.testing.assert_allclose(fc["old"], [20.0, 20.0])


def test_denoising_beats_each_series_own_last_year_on_noisy_copies():
    rng = np.random.default_rng(0)
    truth = shape(130)
    levels = rng.uniform(5, 50, 40)
    noise = rng.normal(0, 0.3, (40, 120))
    noisy = {f"s{i:02d}": lvl * (truth[:120] + noise[i]) for i, lvl in enumerate(levels)}
    panel = long_panel(noisy)
    actual = np.concatenate([lvl * truth[120:128] for lvl in levels])
    smooth = seasonal_svd_forecast(panel, 8, rank=2, years=1)["mean"].to_numpy()
    raw = seasonal_svd_forecast(panel, 8, rank=40, years=1)["mean"].to_numpy()  # no denoising
    assert np.abs(smooth - actual).sum() < 0.5 * np.abs(raw - actual).sum()


def test_short_and_early_ending_series_fall_back_to_their_last_8_weeks():
    panel = long_panel({"long": shape(60), "short": np.arange(1.0, 21.0)})
    ended = long_panel({"ended": shape(70)[:58]})  # stops two weeks before the others
    fc = seasonal_svd_forecast(pd.concat([panel, ended], ignore_index=True), 3, rank=1)
    short = fc[fc["unique_id"] == "short"]
    np.testing.assert_allclose(short["mean"], np.mean(np.arange(13.0, 21.0)))
    early = fc[fc["unique_id"] == "ended"]
    np.testing.assert_allclose(early["mean"], shape(58)[-8:].mean())
    first = START + pd.Timedelta(weeks=58)
    assert early["ds"].tolist() == [
        first,
        first + pd.Timedelta(weeks=1),
        first + pd.Timedelta(weeks=2),
    ]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"h": 0}, "h"), ({"h": 53}, "h"), ({"rank": 0}, "rank"), ({"years": 0}, "years")],
)
def test_bad_parameters_are_named(kwargs, param):
    args = {"h": 4} | kwargs
    with pytest.raises(InvalidParameterError, match=f"`{param}`"):
        seasonal_svd_forecast(long_panel({"a": shape(60)}), **args)
